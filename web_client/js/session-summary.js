// "After the interview" on the session page: what was asked, how the answers went, follow-ups to
// prepare and a thank-you e-mail draft (written by the llm worker when the session ends).
import { api, errorMessage } from './api.js';
import { $, el, scoreClass } from './util.js';

const BY = { offline: 'Built from your transcript and scores without an AI model.' };

export async function showSummary(base, tries = 20) {
  const box = $('#summary');
  const body = $('#summary-body');
  box.hidden = false;
  let r;
  try {
    r = await api(`${base}/summary`);
  } catch (err) {
    body.replaceChildren(el('p', { class: 'small muted', text: `Could not load the summary: ${errorMessage(err)}` }));
    return;
  }
  if (r.status === 'writing' && tries > 0) {
    body.replaceChildren(el('p', { class: 'small muted', role: 'status', text: 'The summary is being written…' }));
    setTimeout(() => { showSummary(base, tries - 1); }, 3000);
    return;
  }
  if (r.status !== 'ready') {
    box.hidden = true; // live, or nothing was asked
    return;
  }
  body.replaceChildren(
    el('p', { class: 'summary-overall', text: r.overall }),
    el('h3', { text: 'Questions asked' }),
    el('ol', { class: 'summary-questions' }, ...r.questions.map((q) => el('li', {},
      el('p', { class: 'summary-q' }, el('strong', { text: q.question }),
        q.score === null || q.score === undefined ? null : ' ',
        q.score === null || q.score === undefined ? null : el('span', { class: `score-badge ${scoreClass(q.score)}`, text: String(q.score) })),
      el('p', { class: 'small', text: q.how_it_went }),
      q.answer_gist ? el('p', { class: 'small muted', text: `You said: ${q.answer_gist}` }) : null))),
    el('h3', { text: 'Follow-ups to prepare' }),
    el('ul', { class: 'summary-follow-ups' }, ...r.follow_ups.map((f) => el('li', { text: f }))),
    el('h3', { text: 'Thank-you e-mail' }),
    el('label', { for: 'ty-subject', class: 'small', text: 'Subject' }),
    el('input', { id: 'ty-subject', type: 'text', value: r.thank_you_subject }),
    el('label', { for: 'ty-body', class: 'small', text: 'Message' }),
    el('textarea', { id: 'ty-body', rows: 10, text: r.thank_you_body }),
    el('div', { class: 'row' }, el('button', { type: 'button', id: 'ty-copy', text: 'Copy e-mail', onclick: copyMail }),
      el('span', { id: 'ty-copied', class: 'small muted', role: 'status' })),
    el('p', { class: 'small muted', text: BY[r.provider] || 'Written by the AI model from your transcript and scores.' }),
  );
}

async function copyMail() {
  const text = `Subject: ${$('#ty-subject').value}\n\n${$('#ty-body').value}`;
  try {
    await navigator.clipboard.writeText(text);
    $('#ty-copied').textContent = 'Copied.';
  } catch {
    $('#ty-body').select();
    $('#ty-copied').textContent = 'Select the text and copy it.';
  }
}
