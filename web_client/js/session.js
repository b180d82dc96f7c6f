// One past session: recording with captions, clickable transcript synced to playback, questions,
// answers and scores, mock report, delete.
import { api, errorMessage } from './api.js';
import { initNav } from './nav.js';
import { confirmDanger } from './confirm.js';
import { showSummary } from './session-summary.js';
import { rubricView } from './score-view.js';
import { $, el, clock, dateTime, duration, languageName, modeName, param, scoreClass } from './util.js';

initNav();
const id = param('id') || '';
const base = `/api/sessions/${encodeURIComponent(id)}`;
const ROLE_NAMES = { interviewer: 'Interviewer', candidate: 'Candidate' };
let player = null;
let lines = [];   // [{t0, t1, node}] sorted by t0
let current = null;

async function load() {
  if (!id) {
    $('#load-status').replaceChildren('No session was chosen. ', el('a', { href: 'sessions.html', text: 'Go to your sessions' }));
    return;
  }
  let s;
  try {
    s = await api(base);
  } catch (err) {
    $('#load-status').replaceChildren(
      err.status === 404 ? 'This session was not found. ' : `Could not load the session: ${errorMessage(err)} `,
      el('a', { href: 'sessions.html', text: 'Go to your sessions' }),
    );
    return;
  }
  $('#load-status').hidden = true;
  $('#session-view').hidden = false;
  render(s);
}

function render(s) {
  const title = s.title || 'Untitled session';
  $('#s-title').textContent = title;
  document.title = `${title} · Interview Room`;
  const ended = s.status === 'ended' || Boolean(s.ended_at);
  if (!ended) {
    $('#room-link').href = `room.html?id=${encodeURIComponent(s.id || id)}`;
    $('#room-link').hidden = false;
  }

  const facts = [
    ['Date', dateTime(s.started_at || s.created_at)],
    ['Status', s.status || '—'],
    ['Mode', modeName(s.mode)],
    ['Languages', `${languageName(s.listen_language)} → ${languageName(s.answer_language)}`],
    ['Duration', duration(s.duration_seconds)],
    ['Credits used', duration(s.credits_seconds)],
    // the one session score (docs/scores.md): for a mock interview, its report's score
    ['Score', sessionScore(s) === null ? '—' : `${sessionScore(s)} / 100`],
  ];
  $('#facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));

  renderPlayer(s);
  renderTranscript(Array.isArray(s.transcript) ? s.transcript : [], Array.isArray(s.pauses) ? s.pauses : []);
  renderQuestions(Array.isArray(s.questions) ? s.questions : [], s.mode === 'mock');

  if (s.mode === 'mock' && ended) {
    $('#report').hidden = false;
    $('#report-json').href = `${base}/report`;
    $('#report-pdf').href = `${base}/report.pdf`;
    showReport();
    if (location.hash === '#report') $('#report').scrollIntoView();
  }
  if (s.mode !== 'mock' && ended) showSummary(base);
}

/** The session's one score: the server's `score`, else (older servers) the report's, else the mean. */
function sessionScore(s) {
  const raw = s.score ?? s.report_score ?? s.average_score;
  return raw === null || raw === undefined ? null : Math.round(Number(raw));
}

// ---------- playback: <track> and media requests cannot send Authorization, they use the HttpOnly cookie
function renderPlayer(s) {
  if ('recording_url' in s && !s.recording_url) { // the server says there is none
    $('#player-slot').replaceChildren();
    $('#player-msg').textContent = s.status === 'ended' || s.ended_at
      ? 'This session has no recording.'
      : 'There is no recording yet: the session has not ended.';
    $('#download-rec').parentElement.hidden = true;
    return;
  }
  const rec = s.recording_url || `${base}/recording`;
  const vtt = s.captions_url || `${base}/captions.vtt`;
  player = el(s.has_video ? 'video' : 'audio', {
    class: 'player', controls: true, preload: 'metadata', src: rec, 'aria-label': 'Session recording', playsinline: true,
  }, el('track', { kind: 'captions', default: true, src: vtt, srclang: s.listen_language && s.listen_language !== 'auto' ? s.listen_language : 'en', label: 'Captions' }));
  player.addEventListener('error', () => {
    $('#player-msg').textContent = s.status === 'ended' || s.ended_at
      ? 'The recording could not be loaded. It may still be processing, or it was not recorded.'
      : 'There is no recording yet: the session has not ended.';
  });
  player.addEventListener('timeupdate', () => highlight(player.currentTime));
  player.addEventListener('seeked', () => highlight(player.currentTime));
  $('#player-slot').replaceChildren(player);
  if (!s.has_video) { // an <audio> element shows no captions itself: print the current cue below it
    const track = player.querySelector('track').track;
    track.mode = 'hidden';
    const cue = $('#live-cue');
    cue.hidden = false;
    track.addEventListener('cuechange', () => {
      // cue.text is raw WebVTT ("<v Interviewer>…"); the HTML fragment's text is what to show
      cue.textContent = [...(track.activeCues || [])].map((c) => (c.getCueAsHTML ? c.getCueAsHTML().textContent : c.text)).join(' ');
    });
  }
  $('#download-rec').href = rec;
  $('#download-vtt').href = vtt;
}

function seek(t) {
  if (!player || !Number.isFinite(t)) return;
  player.currentTime = t;
  player.play().catch(() => { /* autoplay refused or no media: the position is still set */ });
  highlight(t);
}

/** Where listening was paused (issue 19): nothing was captioned or recorded there. */
function pauseMarks(pauses) {
  return pauses.filter((p) => Number.isFinite(Number(p.t0))).map((p) => ({
    t0: Number(p.t0),
    li: el('li', { class: 'pause-mark', text: `Paused ${clock(p.t0)}–${p.t1 === null || p.t1 === undefined ? 'end' : clock(p.t1)}: not captioned or recorded` }),
  }));
}

function renderTranscript(transcript, pauses = []) {
  const list = $('#transcript');
  const marks = pauseMarks(pauses);
  if (!transcript.length) {
    list.replaceChildren(el('li', { class: 'empty-hint', text: 'No captions were recorded.' }), ...marks.map((m) => m.li));
    return;
  }
  const sorted = [...transcript].sort((a, b) => a.t0 - b.t0);
  lines = sorted.map((c) => {
    const node = el('button', {
      type: 'button', class: 'line', dataset: { id: c.id, role: c.role, t0: c.t0 },
      'aria-label': `${ROLE_NAMES[c.role] || c.role} at ${clock(c.t0)}: ${c.text}`,
      onclick: () => seek(Number(c.t0)),
    },
    el('span', { class: 'time', text: clock(c.t0) }),
    el('span', { class: 'who', text: ROLE_NAMES[c.role] || c.role }),
    el('span', { class: 'text', lang: c.lang && c.lang !== 'auto' ? c.lang : undefined }, c.text,
      ...(Array.isArray(c.translations) ? c.translations : []).map((t) => el('span', { class: 'translation', dataset: { lang: t.lang }, lang: t.lang, text: t.text })),
    ));
    return { t0: Number(c.t0), t1: Number(c.t1), node };
  });
  const items = [...lines.map((l) => ({ t0: l.t0, li: el('li', {}, l.node) })), ...marks].sort((a, b) => a.t0 - b.t0);
  list.replaceChildren(...items.map((i) => i.li));
}

function highlight(t) {
  let hit = null;
  for (const line of lines) {
    if (line.t0 <= t + 0.05) hit = line; else break;
  }
  if (hit && hit.t1 && t > hit.t1 + 2) hit = null; // silence after the line
  if (hit === current) return;
  current?.node.classList.remove('current');
  current?.node.removeAttribute('aria-current');
  current = hit;
  if (!hit) return;
  hit.node.classList.add('current');
  hit.node.setAttribute('aria-current', 'true');
  if ($('#follow').checked) {
    const box = $('#transcript');
    const top = hit.node.offsetTop - box.offsetTop;
    if (top < box.scrollTop || top + hit.node.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
  }
}

// ---------- questions
function renderQuestions(questions, mock = false) {
  const box = $('#questions');
  if (!questions.length) {
    box.replaceChildren(el('p', { class: 'empty-hint', text: 'No questions were detected.' }));
    return;
  }
  box.replaceChildren(...questions.map((q) => {
    const score = q.score;
    const value = score && typeof score.score === 'number' ? Math.round(score.score) : null;
    const translations = Array.isArray(q.translations) ? q.translations : [];
    return el('article', { class: 'question', dataset: { id: q.id } },
      el('div', { class: 'question-head' },
        el('p', { class: 'question-text', text: q.text }),
        value !== null && el('span', { class: `score-badge ${scoreClass(value)}`, 'aria-label': `Score ${value} of 100`, text: String(value) }),
      ),
      Number.isFinite(q.t0) && el('button', { type: 'button', class: 'link-button small', onclick: () => seek(Number(q.t0)) }, `Play from ${clock(q.t0)}`),
      ...translations.map((t) => el('span', { class: 'translation', dataset: { lang: t.lang }, lang: t.lang, text: t.text })),
      q.answer?.text
        ? el('div', { class: 'answer', dataset: { questionId: q.id, done: 'true' }, lang: q.answer.lang, 'aria-label': 'Suggested answer', text: q.answer.text })
        : !mock && el('p', { class: 'small muted', text: 'No answer was suggested.' }),
      score && el('div', { class: 'score-details' },
        rubricView(document, score),
        score.candidate_text && el('details', {}, el('summary', { text: 'What you said' }), el('p', { text: score.candidate_text })),
      ),
    );
  }));
}

// ---------- mock report
const DIMENSIONS = {
  technical_depth: 'Technical depth', communication: 'Communication', problem_solving: 'Problem solving',
  structure: 'Structure', time_management: 'Time management',
};
const STATUS_NAMES = {
  answered: 'Answered', skipped: 'Skipped', unanswered: 'No answer', pending: 'Not asked',
  ended_early: 'Cut short: the interview was ended before an answer (not scored)',
};
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/** Overall scores of the user's mock interviews of this type, oldest to newest; this one highlighted. */
function progressChart(history) {
  const w = 560; const h = 180; const left = 34; const right = 16; const top = 14; const bottom = 28;
  const x = (i) => (history.length === 1 ? left + (w - left - right) / 2 : left + (i * (w - left - right)) / (history.length - 1));
  const y = (v) => top + ((100 - v) * (h - top - bottom)) / 100;
  const chart = svg('svg', { viewBox: `0 0 ${w} ${h}`, class: 'progress-chart', role: 'img',
    'aria-label': `Scores of your mock interviews of this type: ${history.map((p) => p.overall_score).join(', ')}` });
  for (const v of [0, 25, 50, 75, 100]) {
    chart.append(svg('line', { x1: left, x2: w - right, y1: y(v), y2: y(v), class: 'grid' }),
      svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, String(v)));
  }
  if (history.length > 1) {
    chart.append(svg('polyline', { points: history.map((p, i) => `${x(i)},${y(p.overall_score)}`).join(' '), class: 'line' }));
  }
  history.forEach((p, i) => {
    const when = p.date ? new Date(p.date).toLocaleDateString(undefined, { day: 'numeric', month: 'short' }) : '';
    chart.append(
      svg('circle', { cx: x(i), cy: y(p.overall_score), r: p.current ? 6 : 4, class: p.current ? 'point current' : 'point' },
        svg('title', {}, `${p.title || 'Mock interview'} ${when}: ${p.overall_score}`)),
      svg('text', { x: x(i), y: y(p.overall_score) - 9, 'text-anchor': 'middle', class: 'value' }, String(p.overall_score)),
      svg('text', { x: x(i), y: h - 8, 'text-anchor': 'middle', class: 'axis' }, when),
    );
  });
  return chart;
}

function reportQuestion(q) {
  const d = q.delivery || {};
  const list = (title, items) => (Array.isArray(items) && items.length
    ? [el('h4', { text: title }), el('ul', { class: 'report-list' }, ...items.map((i) => el('li', { text: String(i) })))] : []);
  return el('li', { class: 'report-question', dataset: { index: q.index, status: q.status } },
    el('div', { class: 'pane-head' },
      el('h3', { text: `Q${q.index}. ${q.text}` }),
      q.status === 'ended_early'
        ? el('span', { class: 'score-badge', 'aria-label': 'Not scored', text: '—' })
        : el('span', { class: `score-badge ${scoreClass(q.score)}`, 'aria-label': `Score ${q.score} of 100`, text: String(q.score) })),
    el('p', { class: 'small muted', text: [
      STATUS_NAMES[q.status] || q.status,
      d.talk_seconds ? `talk time ${duration(d.talk_seconds)} of ${duration(q.time_allocation_s)}` : null,
      typeof d.words_per_minute === 'number' ? `${Math.round(d.words_per_minute)} words/min` : null,
      d.filler_words ? `${d.filler_words} filler words` : null,
    ].filter(Boolean).join(' · ') }),
    q.follow_up && el('p', { class: 'small', text: `Follow-up: ${q.follow_up}` }),
    ...list('Went well', q.went_well),
    ...list('To improve', q.to_improve),
    ...list('Missing key points', q.missing_key_points),
    q.answer && el('details', {}, el('summary', { text: 'What you said' }), el('p', { text: q.answer })),
  );
}

async function showReport() {
  const body = $('#report-body');
  body.replaceChildren(el('p', { class: 'muted', role: 'status', text: 'Loading the report…' }));
  try {
    const r = await api(`${base}/report`);
    const list = (title, items) => (Array.isArray(items) && items.length
      ? [el('h3', { text: title }), el('ul', { class: 'report-list' }, ...items.map((i) => el('li', { text: typeof i === 'string' ? i : JSON.stringify(i) })))]
      : []);
    const given = r.breakdown && typeof r.breakdown === 'object' ? r.breakdown : {};
    const breakdown = [...Object.keys(DIMENSIONS).filter((k) => k in given), ...Object.keys(given).filter((k) => !(k in DIMENSIONS))]
      .map((k) => [k, given[k]]);
    const d = r.delivery || {};
    const history = r.progress?.history || [];
    const change = r.progress?.change;
    body.replaceChildren(...[
      typeof r.overall_score === 'number' && el('p', { class: 'report-overall' }, 'Score ',
        el('span', { id: 'report-score', class: `score-badge ${scoreClass(r.overall_score)}`, text: String(Math.round(r.overall_score)), 'aria-label': `Score ${Math.round(r.overall_score)} of 100` }),
        typeof r.questions_asked === 'number' ? ` · ${r.questions_answered} of ${r.questions_asked} questions answered` : ''),
      r.score_definition && el('p', { class: 'small muted score-definition', text: `How the score is made: ${r.score_definition}` }),
      breakdown.length ? el('div', { class: 'report-bars' }, ...breakdown.map(([k, v]) => el('div', { class: 'report-bar' },
        el('span', { text: DIMENSIONS[k] || k.replaceAll('_', ' ') }),
        el('meter', { min: 0, max: 100, low: 50, high: 75, optimum: 100, value: Number(v) || 0, 'aria-label': DIMENSIONS[k] || k }),
        el('span', { text: String(v) })))) : null,
      history.length ? el('h3', { text: 'Progress in this interview type' }) : null,
      history.length ? progressChart(history) : null,
      typeof change === 'number' ? el('p', { class: 'small muted', text: `${change >= 0 ? '+' : ''}${change} points since your previous one.` }) : null,
      el('h3', { text: 'Delivery' }),
      el('dl', { class: 'kv' },
        el('dt', { text: 'Pace' }), el('dd', { text: typeof d.words_per_minute === 'number' ? `${Math.round(d.words_per_minute)} words per minute` : '—' }),
        el('dt', { text: 'Filler words' }), el('dd', { text: `${d.filler_words ?? 0} (${d.fillers_per_100_words ?? 0} per 100 words)` }),
        el('dt', { text: 'Talk time' }), el('dd', { text: `${duration(d.talk_seconds_total || 0)} · ${(d.talk_time_per_answer || []).map((a) => `Q${a.index} ${duration(a.seconds)}`).join(', ') || '—'}` })),
      ...list('Strengths', r.strengths),
      ...list('To improve', r.weaknesses),
      ...list('Recommendations', r.recommendations),
      Array.isArray(r.questions) && r.questions.length
        ? el('ol', { class: 'report-questions' }, ...r.questions.filter((q) => q.status !== 'pending').map(reportQuestion)) : null,
    ].filter(Boolean));
  } catch (err) {
    body.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: err.status === 409
      ? (err.code === 'report_not_ready' ? 'The report is being prepared; try again in a few seconds.' : 'The report is ready once the session has ended.')
      : `Could not load the report: ${errorMessage(err)}` }),
    el('button', { type: 'button', id: 'report-btn', class: 'primary', text: 'Try again', onclick: showReport }));
  }
}
$('#report-btn').addEventListener('click', showReport);

// ---------- delete
$('#delete-btn').addEventListener('click', async (e) => {
  const button = e.currentTarget;
  const sure = await confirmDanger({
    id: 'delete', title: 'Delete this session?',
    text: 'Its recording, transcript, answers and report are removed for good. This cannot be undone.',
    confirm: 'Yes, delete it', cancel: 'Keep it',
  });
  if (!sure) { button.focus(); return; }
  button.disabled = true;
  try {
    await api(base, { method: 'DELETE' });
    location.assign('sessions.html');
  } catch (err) {
    button.disabled = false;
    $('#delete-msg').textContent = `Could not delete the session: ${errorMessage(err)}`;
  }
});

load();
