// Interview editor: title, job description, branding, deadline, questions (times, retakes, order);
// a new interview may start as a copy of a template.
import { errorMessage } from '../../js/api.js';
import { clearErrors, setBusy, showError } from '../../js/forms.js';
import { $, param } from '../../js/util.js';
import { fromLocalInput, initPage, rapi, toLocalInput } from './common.js';

initPage();
let id = param('id');
let seq = 0;

export function addQuestion(q = {}) {
  const node = $('#q-template').content.firstElementChild.cloneNode(true);
  const n = ++seq;
  for (const [cls, key, value] of [['q-text', 'text', ''], ['q-think', 'think_seconds', 30], ['q-answer', 'answer_seconds', 120], ['q-retakes', 'retakes', 1]]) {
    const input = node.querySelector(`.${cls}`);
    input.id = `${cls}-${n}`;
    input.previousElementSibling.htmlFor = input.id;
    input.value = q[key] ?? value;
  }
  const points = node.querySelector('.q-points');
  points.id = `q-points-${n}`;
  points.previousElementSibling.htmlFor = points.id;
  points.value = (q.key_points || []).join('\n');
  $('#q-list').append(node);
  renumber();
  return node;
}

function renumber() {
  const items = [...$('#q-list').children];
  items.forEach((item, i) => {
    item.dataset.index = i;
    item.querySelector('.q-label').textContent = `Question ${i + 1}`;
    item.querySelector('.q-up').disabled = i === 0;
    item.querySelector('.q-down').disabled = i === items.length - 1;
    for (const b of item.querySelectorAll('.q-actions button')) b.setAttribute('aria-label', `${b.textContent}: question ${i + 1}`);
  });
}

$('#q-list').addEventListener('click', (e) => {
  const item = e.target.closest('.q-item');
  if (!item) return;
  if (e.target.closest('.q-up') && item.previousElementSibling) item.previousElementSibling.before(item);
  else if (e.target.closest('.q-down') && item.nextElementSibling) item.nextElementSibling.after(item);
  else if (e.target.closest('.q-remove')) item.remove();
  else return;
  renumber();
  (e.target.isConnected ? e.target : $('#add-question')).focus();
});
$('#add-question').addEventListener('click', () => addQuestion().querySelector('.q-text').focus());

function questions() {
  return [...$('#q-list').children].map((item) => ({
    text: item.querySelector('.q-text').value.trim(),
    think_seconds: Number(item.querySelector('.q-think').value),
    answer_seconds: Number(item.querySelector('.q-answer').value),
    retakes: Number(item.querySelector('.q-retakes').value),
    key_points: item.querySelector('.q-points').value.split('\n').map((p) => p.trim()).filter(Boolean),
  }));
}

function fill(iv) {
  $('#iv-heading').textContent = iv.is_template ? `Template: ${iv.title}` : iv.title;
  document.title = `${iv.title} · Interview Room`;
  $('#iv-title').value = iv.title;
  $('#iv-jd').value = iv.job_description || '';
  $('#iv-deadline').value = toLocalInput(iv.deadline);
  $('#iv-company').value = iv.company_name || '';
  $('#iv-intro').value = iv.intro_text || '';
  $('#iv-practice').value = iv.practice_question || '';
  $('#iv-template').checked = Boolean(iv.is_template);
  $('#q-list').replaceChildren();
  for (const q of iv.questions || []) addQuestion(q);
  $('#candidates-link').href = `candidates.html?id=${encodeURIComponent(iv.id)}`;
  $('#candidates-link').hidden = false;
}

async function load() {
  if (!id) {
    addQuestion();
    const { interviews } = await rapi('/api/org/interviews?templates=1');
    if (interviews.length) {
      $('#clone-from').replaceChildren(...interviews.map((t) => new Option(`${t.title} (${t.questions.length} questions)`, t.id)));
      $('#clone-box').hidden = false;
    }
    return;
  }
  try {
    fill(await rapi(`/api/org/interviews/${encodeURIComponent(id)}`));
    if (param('cloned')) $('#save-msg').textContent = 'Copied from the template: edit and save.';
  } catch (err) {
    $('#load-status').textContent = err.status === 404 ? 'This interview was not found.' : errorMessage(err);
    $('#iv-form').hidden = true;
  }
}

$('#clone-btn').addEventListener('click', async () => {
  const src = $('#clone-from').value;
  setBusy($('#clone-btn'), true);
  try {
    const iv = await rapi(`/api/org/interviews/${encodeURIComponent(src)}/clone`, { method: 'POST', body: {} });
    location.assign(`interview.html?id=${encodeURIComponent(iv.id)}&cloned=1`);
  } catch (err) {
    $('#clone-error').textContent = errorMessage(err);
    setBusy($('#clone-btn'), false);
  }
});

$('#iv-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  $('#save-msg').textContent = '';
  const body = {
    title: $('#iv-title').value.trim(),
    job_description: $('#iv-jd').value,
    deadline: fromLocalInput($('#iv-deadline').value),
    company_name: $('#iv-company').value.trim(),
    intro_text: $('#iv-intro').value,
    practice_question: $('#iv-practice').value.trim(),
    is_template: $('#iv-template').checked,
    questions: questions(),
  };
  if (!body.title) { showError(form, { message: 'Please fill in the title.', field: 'title' }); return; }
  const empty = body.questions.findIndex((q) => !q.text);
  if (empty >= 0) {
    showError(form, { message: `Question ${empty + 1} has no text.` });
    $('#q-list').children[empty].querySelector('.q-text').focus();
    return;
  }
  setBusy($('#iv-save'), true, 'Saving…');
  try {
    const iv = id
      ? await rapi(`/api/org/interviews/${encodeURIComponent(id)}`, { method: 'PATCH', body })
      : await rapi('/api/org/interviews', { method: 'POST', body });
    if (!id) {
      id = iv.id;
      history.replaceState(null, '', `interview.html?id=${encodeURIComponent(id)}`);
      $('#clone-box').hidden = true;
    }
    fill(iv);
    $('#save-msg').textContent = 'Saved.';
  } catch (err) {
    showError(form, err);
  } finally {
    setBusy($('#iv-save'), false);
  }
});

load().catch((err) => { $('#load-status').textContent = errorMessage(err); });
