// A candidate's review opened with a read-only share link (no account): the token is in the URL's
// fragment and goes to the server in the X-Share-Token header only. All text is set with textContent.
import { errorMessage, request } from '../../js/api.js';
import { renderHeader } from '../../js/nav.js';
import { $, el } from '../../js/util.js';

renderHeader({ nav: false });

const token = location.hash.slice(1);
const fmt = (n) => (n === null || n === undefined ? '—' : Number(n).toFixed(1));

async function load() {
  if (!token) { $('#load-status').textContent = 'This review link is incomplete.'; return; }
  let data;
  try {
    data = await request('/api/share/review', { headers: { 'X-Share-Token': token }, credentials: 'omit', referrerPolicy: 'no-referrer' });
  } catch (err) {
    $('#load-status').textContent = err.status === 410
      ? 'This review link has expired or was revoked. Ask the hiring team for a new one.'
      : errorMessage(err);
    $('#load-status').dataset.state = err.status === 410 ? 'invalid' : 'error';
    return;
  }
  render(data);
}

function render(r) {
  $('#load-status').hidden = true;
  $('#view').hidden = false;
  $('#c-name').textContent = r.candidate.name;
  document.title = `${r.candidate.name} · Candidate review · Interview Room`;
  $('#expires').textContent = `This link expires ${new Date(r.expires_at).toLocaleString()}.`;
  const facts = [
    ['Interview', r.interview.title],
    ['Status', r.candidate.status || '—'],
    ['Decision', r.candidate.decision || 'undecided'],
    ['AI overall score', r.overall_score ?? '—'],
  ];
  $('#facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));
  $('#answers').replaceChildren(...r.answers.map((a) => answerCard(a, r.team.rubric, r.team.answers[a.index])));
}

function answerCard(a, rubric, team) {
  const card = el('article', { class: 'answer-card', dataset: { index: a.index } }, el('h3', { text: `Q${a.index + 1}. ${a.question}` }));
  if (!a.answered) {
    card.append(el('p', { class: 'muted', text: 'Not answered.' }));
  } else {
    card.append(el('h4', { text: 'Transcript' }), el('p', { class: 'transcript-text', text: a.transcript.join(' ') || '(nothing was said)' }));
    if (a.ai_score !== null && a.ai_score !== undefined) card.append(el('p', { class: 'small', text: `AI score ${a.ai_score}/100. ${a.ai_summary || ''}` }));
  }
  const o = team.overall;
  card.append(el('h4', { text: 'Team ratings' }),
    el('p', { class: 'team-summary', dataset: { count: o.count, average: o.average ?? '', spread: o.spread ?? '' },
      text: o.count ? `Team average ${fmt(o.average)} / 5 · spread ${fmt(o.spread)} · ${o.count} rating${o.count === 1 ? '' : 's'}` : 'No ratings yet.' }),
    el('ul', { class: 'team-ratings plain' }, ...team.ratings.map((x) => el('li', { class: 'team-rating-item' },
      el('strong', { text: x.reviewer.name || 'Reviewer' }),
      ` — ${rubric.map((c) => `${c.label} ${x.scores[c.key]}`).join(', ')}`,
      x.comment ? el('p', { class: 'rating-comment', text: x.comment }) : null))));
  return card;
}

load().catch(() => { $('#load-status').textContent = 'The review could not be loaded.'; });
