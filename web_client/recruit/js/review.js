// Review of one candidate: each answer's recording with captions, transcript, score, rubric, summary
// and delivery facts; pass/fail with a note; the PDF report. Media and <track> requests cannot send
// the Authorization header: they ride on the HttpOnly cookie.
import { errorMessage } from '../../js/api.js';
import { clearErrors, setBusy, showError } from '../../js/forms.js';
import { rubricView } from '../../js/score-view.js';
import { $, el, clock, dateTime, duration, param } from '../../js/util.js';
import { initPage, rapi, scoreBadge, statusBadge } from './common.js';
import { mountDecisionMail } from './decision-mail.js';
import { mountTeamReview } from './team-review.js';

initPage();
const id = param('id') || '';
const base = `/api/org/candidates/${encodeURIComponent(id)}`;
const PROVIDERS = {
  offline: 'Scored by the built-in offline scorer (no AI model).',
  openai: 'Scored by an AI model (OpenAI).',
};

async function load() {
  let r;
  try {
    r = await rapi(base);
  } catch (err) {
    $('#load-status').textContent = err.status === 404 ? 'This candidate was not found.' : errorMessage(err);
    return;
  }
  $('#load-status').hidden = true;
  $('#view').hidden = false;
  render(r);
  mountDecisionMail(id);
  mountTeamReview(id).catch((err) => { $('#load-status').hidden = false; $('#load-status').textContent = errorMessage(err); });
  if (r.answers.some((a) => a.score?.pending)) pollPendingScores();
}

function render(r) {
  const c = r.candidate;
  const who = c.name || c.email || 'Candidate';
  $('#c-name').textContent = who;
  document.title = `${who} · Review · Interview Room`;
  $('#back-link').href = `candidates.html?id=${encodeURIComponent(r.interview.id)}`;
  $('#back-link').textContent = `← ${r.interview.title}`;
  $('#overall').replaceChildren('Overall (AI suggestion) ', scoreBadge(r.overall_score));
  $('#report-pdf').href = `${base}/report.pdf`;
  const facts = [
    ['Interview', r.interview.title],
    ['E-mail', c.email || '—'],
    ['Status', statusBadge(c)],
    ['Invited', dateTime(c.created_at)],
    ['Completed', dateTime(c.completed_at)],
    ['Answered', `${r.answers.filter((a) => a.answered).length} of ${r.answers.length}`],
  ];
  $('#facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]));
  $('#answers').replaceChildren(...r.answers.map(answerCard));
  const d = c.decision || '';
  for (const radio of document.querySelectorAll('input[name=decision]')) radio.checked = radio.value === d;
  $('#d-note').value = c.decision_note || '';
}

function answerCard(a) {
  const card = el('article', { class: 'answer-card', dataset: { index: a.index, answered: a.answered } },
    el('h3', {}, el('span', { text: `Q${a.index + 1}. ${a.question}` }), a.score ? scoreBadge(a.score.score) : null));
  if (!a.answered) {
    card.append(el('p', { class: 'muted', text: 'Not answered yet.' }));
    return card;
  }
  // The candidate's camera was recorded: a <video> shows the captions itself; an <audio> shows none,
  // so its active cue is printed under the player. Either way every cue is listed to jump to.
  const video = Boolean(a.has_video);
  const player = el(video ? 'video' : 'audio', {
    class: 'player', controls: true, preload: 'metadata', playsinline: video, src: a.recording_url,
    'aria-label': `Recording of answer ${a.index + 1}`,
  });
  const track = el('track', { kind: 'captions', srclang: 'en', label: 'Captions', default: true, src: a.captions_url });
  player.append(track);
  const now = el('p', { class: 'cue-now', 'aria-live': 'off', hidden: video });
  const cues = el('ol', { class: 'vtt-cues', 'aria-label': `Captions of answer ${a.index + 1}` });
  if (!video) track.track.mode = 'hidden';
  track.addEventListener('load', () => {
    const list = [...(track.track.cues || [])];
    cues.replaceChildren(...list.map((cue) => el('li', { class: 'vtt-cue', dataset: { t0: cue.startTime } },
      el('button', { type: 'button', class: 'link-button', text: clock(cue.startTime), 'aria-label': `Play from ${clock(cue.startTime)}`, onclick: () => { player.currentTime = cue.startTime; player.play().catch(() => {}); } }),
      ` ${cue.getCueAsHTML().textContent}`)));
    card.dataset.cues = String(list.length);
  });
  if (!video) {
    track.track.addEventListener('cuechange', () => {
      now.textContent = [...(track.track.activeCues || [])].map((cue) => cue.getCueAsHTML().textContent).join(' ');
    });
  }
  card.dataset.media = video ? 'video' : 'audio';
  player.addEventListener('error', () => { now.hidden = false; now.textContent = 'The recording could not be loaded.'; });
  card.append(player, now, el('h4', { text: 'Captions' }), cues);
  const text = (a.transcript || []).map((t) => t.text).join(' ');
  card.append(el('h4', { text: 'Transcript' }), el('p', { class: 'transcript-text', text: text || '(nothing was said)' }));
  card.append(scoreBox(a));
  return card;
}

$('#decision-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  $('#decision-msg').textContent = '';
  const picked = form.querySelector('input[name=decision]:checked')?.value || '';
  setBusy($('#decision-save'), true, 'Saving…');
  try {
    await rapi(`${base}/decision`, { method: 'POST', body: { decision: picked || null, note: $('#d-note').value } });
    $('#decision-msg').textContent = 'Saved.';
  } catch (err) {
    showError(form, err);
  } finally {
    setBusy($('#decision-save'), false);
  }
});

load().catch((err) => { $('#load-status').hidden = false; $('#load-status').textContent = errorMessage(err); });

/** Score, rubric, summary and delivery facts; replaced in place when a model's score arrives. */
function scoreBox(a) {
  const box = el('div', { class: 'score-box', dataset: { index: a.index } });
  const s = a.score;
  if (!s) {
    box.append(el('p', { class: 'muted', text: 'No score: nothing was said in this answer.' }));
    return box;
  }
  if (s.score == null) { // the llm worker has not reached this answer yet: asked again shortly
    box.append(el('p', { class: 'muted score-provider', dataset: { provider: 'pending' }, text: 'This answer is being scored…' }));
    return box;
  }
  box.append(el('h4', { text: 'Score' }),
    el('div', { class: 'rubric' }, rubricView(document, s, { feedback: false })),
    el('p', { class: 'score-summary', text: s.summary || s.feedback || '' }),
    el('p', { class: 'small muted score-provider', dataset: { provider: s.provider || 'offline' }, text: providerText(s) }));
  const dv = s.delivery || {};
  box.append(el('dl', { class: 'kv small delivery' },
    el('dt', { text: 'Words' }), el('dd', { text: String(dv.word_count ?? '—') }),
    el('dt', { text: 'Talk time' }), el('dd', { text: duration(dv.talk_seconds) }),
    el('dt', { text: 'Pace' }), el('dd', { text: dv.words_per_minute ? `${Math.round(dv.words_per_minute)} words/min` : 'too short to measure' }),
    el('dt', { text: 'Filler words' }), el('dd', { text: String(dv.filler_words ?? 0) }),
    el('dt', { text: 'Long pauses' }), el('dd', { text: String(dv.long_pauses ?? 0) }),
    el('dt', { text: 'Attempt' }), el('dd', { text: String(a.attempt ?? 1) })));
  return box;
}

function providerText(s) {
  if (s.pending) return 'An AI model is scoring this answer; the offline score is shown until it is done.';
  if (s.model_error) return `The AI model could not score this answer (${s.model_error}); offline score shown.`;
  return PROVIDERS[s.provider] || PROVIDERS.offline;
}

/** While a model is scoring, ask again now and then and swap in the scores only (players keep playing). */
async function pollPendingScores(tries = 40) {
  if (tries <= 0) return;
  await new Promise((resolve) => { setTimeout(resolve, 3000); });
  let r;
  try {
    r = await rapi(base);
  } catch {
    return;
  }
  for (const a of r.answers) {
    const box = document.querySelector(`.score-box[data-index="${a.index}"]`);
    if (box) box.replaceWith(scoreBox(a));
    const badge = document.querySelector(`.answer-card[data-index="${a.index}"] h3 .score-badge`);
    if (badge && a.score) badge.replaceWith(scoreBadge(a.score.score));
  }
  $('#overall').replaceChildren('Overall (AI suggestion) ', scoreBadge(r.overall_score));
  if (r.answers.some((a) => a.score?.pending)) pollPendingScores(tries - 1);
}
