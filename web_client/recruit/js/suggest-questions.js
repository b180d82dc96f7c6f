// "Suggest questions" in the interview editor: drafts a question set with key points from the job
// description (the llm worker's job; 202 = still drafting, asked again) and puts it in the editable
// list. Nothing is saved until the recruiter saves the interview.
import { errorMessage } from '../../js/api.js';
import { $ } from '../../js/util.js';
import { rapi } from './common.js';
import { addQuestion } from './interview.js';

const button = $('#suggest-questions');
const msg = $('#suggest-msg');
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

async function draft(jd) {
  for (let i = 0; i < 30; i += 1) {
    const out = await rapi('/api/org/interviews/suggest-questions', { method: 'POST', body: { job_description: jd } });
    if (!out.pending) return out;
    await sleep(1000);
  }
  throw new Error('The suggestions are taking too long; try again in a minute.');
}

function hasText() {
  return [...$('#q-list').querySelectorAll('.q-text')].some((t) => t.value.trim());
}

button.addEventListener('click', async () => {
  const jd = $('#iv-jd').value.trim();
  if (!jd) {
    msg.textContent = 'Write the job description first: the questions are drafted from it.';
    $('#iv-jd').focus();
    return;
  }
  if (hasText() && !window.confirm('Replace the questions in the list with suggested ones?')) return;
  button.disabled = true;
  msg.textContent = 'Drafting questions…';
  try {
    const out = await draft(jd);
    $('#q-list').replaceChildren();
    for (const q of out.questions) addQuestion({ text: q.text, key_points: q.key_points });
    const who = out.provider === 'offline' ? 'from the job description and the question bank' : 'by the AI model';
    msg.textContent = `${out.questions.length} questions drafted ${who}. Edit them, then save the interview.`;
    $('#q-list').querySelector('.q-text')?.focus();
  } catch (err) {
    msg.textContent = errorMessage(err);
  } finally {
    button.disabled = false;
  }
});
