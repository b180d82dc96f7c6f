// The review page's CV section: the candidate's CV read by the llm worker (skills, experience,
// education, a summary) and its match with the job description, each requirement with the CV
// lines that are its evidence. Shown only when the candidate uploaded one; polled while it is read.
import { errorMessage } from '../../js/api.js';
import { $, el, param } from '../../js/util.js';
import { rapi } from './common.js';

const id = param('id') || '';
const box = $('#cv-box');
const status = $('#cv-status');
const view = $('#cv-view');

function list(title, items) {
  if (!items || !items.length) return null;
  return el('div', {}, el('h3', { text: title }), el('ul', { class: 'small' }, items.map((t) => el('li', { text: t }))));
}

function match(cv) {
  if (cv.match_score === null || cv.match_score === undefined) return null;
  const rows = cv.requirements.map((r) => el(
    'li',
    { class: r.met ? 'cv-met' : 'cv-unmet' },
    el('strong', { text: `${r.met ? 'Evidence' : 'No evidence'}: ` }),
    r.requirement,
    r.evidence.length ? el('ul', { class: 'small muted' }, r.evidence.map((e) => el('li', { text: `“${e}”` }))) : null,
  ));
  return el('div', {}, el('h3', { text: `Match with the job description: ${cv.match_score}%` }), el('ul', { class: 'list-plain' }, rows));
}

function render(cv) {
  const by = cv.provider === 'offline' ? 'read without an AI model' : `read by ${cv.provider}`;
  status.textContent = `${cv.filename} (${by})${cv.pending ? ': the AI reading follows' : ''}`;
  view.replaceChildren(
    el('p', { text: cv.summary }),
    ...[list('Skills', cv.skills), list('Experience', cv.experience), list('Education', cv.education), match(cv)].filter(Boolean),
  );
}

async function load(tries = 0) {
  if (!id) return;
  try {
    const cv = await rapi(`/api/org/candidates/${encodeURIComponent(id)}/cv`);
    if (!cv.uploaded) return;
    box.hidden = false;
    if (cv.summary !== undefined) render(cv);
    else status.textContent = `${cv.filename}: being read…`;
    if (cv.pending && tries < 30) setTimeout(() => load(tries + 1), 2000);
  } catch (err) {
    box.hidden = false;
    status.textContent = `The CV could not be shown: ${errorMessage(err)}`;
  }
}

load();
