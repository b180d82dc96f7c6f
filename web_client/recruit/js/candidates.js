// Candidates of one interview: invite (one, or a CSV), copy the link, revoke, statuses, compare, export.
import { errorMessage } from '../../js/api.js';
import { clearErrors, setBusy, showError } from '../../js/forms.js';
import { $, el, dateTime, param } from '../../js/util.js';
import { copyText, initPage, postText, rapi, scoreBadge, statusBadge } from './common.js';

initPage();
const id = param('id') || '';
const base = `/api/org/interviews/${encodeURIComponent(id)}`;
let nQuestions = 0;

async function load() {
  let iv;
  try {
    iv = await rapi(base);
  } catch (err) {
    $('#load-status').textContent = err.status === 404 ? 'This interview was not found.' : errorMessage(err);
    return;
  }
  $('#load-status').hidden = true;
  $('#view').hidden = false;
  $('#iv-title').textContent = `Candidates: ${iv.title}`;
  document.title = `${iv.title} · Candidates · Interview Room`;
  $('#edit-link').href = `interview.html?id=${encodeURIComponent(id)}`;
  $('#export-csv').href = `${base}/export.csv`;
  await refresh();
}

async function refresh() {
  const [list, cmp] = await Promise.all([rapi(`${base}/candidates`), rapi(`${base}/compare`)]);
  nQuestions = list.questions;
  renderList(list.candidates);
  renderCompare(cmp);
}

function renderList(candidates) {
  $('#list-empty').hidden = candidates.length > 0;
  $('#candidate-table tbody').replaceChildren(...candidates.map((c) => {
    const who = c.name || c.email || 'Candidate';
    const revoke = el('button', { type: 'button', class: 'revoke-btn', text: 'Revoke', 'aria-label': `Revoke the link of ${who}` });
    revoke.disabled = c.revoked || c.status === 'completed';
    revoke.addEventListener('click', () => revokeLink(c, revoke));
    return el('tr', { class: 'candidate-row', dataset: { id: c.id, status: c.revoked ? 'revoked' : c.status } },
      el('td', {}, el('a', { href: `review.html?id=${encodeURIComponent(c.id)}`, text: who })),
      el('td', { text: c.email || '—' }),
      el('td', {}, statusBadge(c)),
      el('td', { text: `${c.answered ?? 0} / ${nQuestions}` }),
      el('td', { text: c.decision || '—' }),
      el('td', { class: 'small', text: dateTime(c.expires_at) }),
      el('td', {}, el('div', { class: 'row' },
        el('a', { class: 'button review-link', href: `review.html?id=${encodeURIComponent(c.id)}`, text: 'Review', 'aria-label': `Review ${who}` }),
        revoke)));
  }));
}

function renderCompare(cmp) {
  const rows = [...cmp.candidates].sort((a, b) => (b.overall_score ?? -1) - (a.overall_score ?? -1));
  const head = el('tr', {}, el('th', { scope: 'col', text: 'Candidate' }), el('th', { scope: 'col', text: 'Overall' }),
    ...cmp.questions.map((q, i) => el('th', { scope: 'col', title: q, text: `Q${i + 1}` })), el('th', { scope: 'col', text: 'Decision' }));
  const body = rows.map((r) => el('tr', { dataset: { id: r.candidate.id } },
    el('th', { scope: 'row' }, el('a', { href: `review.html?id=${encodeURIComponent(r.candidate.id)}`, text: r.candidate.name || r.candidate.email || 'Candidate' })),
    el('td', {}, scoreBadge(r.overall_score)),
    ...r.scores.map((s) => el('td', {}, scoreBadge(s))),
    el('td', { text: r.candidate.decision || '—' })));
  $('#compare').replaceChildren(el('thead', {}, head), el('tbody', {}, ...body));
  if (!rows.length) $('#compare').replaceChildren(el('caption', { class: 'muted', text: 'Nothing to compare yet.' }));
}

async function revokeLink(c, button) {
  setBusy(button, true);
  $('#list-error').textContent = '';
  try {
    await rapi(`/api/org/candidates/${encodeURIComponent(c.id)}/revoke`, { method: 'POST' });
    await refresh();
  } catch (err) {
    $('#list-error').textContent = errorMessage(err);
    setBusy(button, false);
  }
}

$('#invite-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const email = $('#c-email').value.trim();
  const body = { name: $('#c-name').value.trim(), email: email || null, send_email: $('#c-send').checked };
  setBusy($('#invite-btn'), true, 'Creating…');
  try {
    const out = await rapi(`${base}/candidates`, { method: 'POST', body });
    $('#invite-result').hidden = false;
    $('#invite-link').value = out.link;
    $('#invite-msg').textContent = out.emailed ? `E-mailed to ${email}.` : 'Not e-mailed: send the link to the candidate yourself.';
    form.reset();
    $('#c-send').checked = true;
    await refresh();
  } catch (err) {
    showError(form, err);
  } finally {
    setBusy($('#invite-btn'), false);
  }
});

$('#copy-link').addEventListener('click', async () => {
  $('#invite-msg').textContent = (await copyText($('#invite-link').value, $('#invite-link'))) ? 'Link copied.' : 'Select the link and copy it.';
});

$('#csv-btn').addEventListener('click', async () => {
  const file = $('#csv-file').files[0];
  $('#csv-skipped').replaceChildren();
  if (!file) { $('#csv-result').textContent = 'Choose a CSV file first.'; return; }
  setBusy($('#csv-btn'), true, 'Uploading…');
  try {
    const out = await postText(`${base}/candidates/csv`, await file.text());
    $('#csv-result').textContent = `${out.created.length} invited, ${out.skipped.length} skipped.`;
    $('#csv-skipped').replaceChildren(...out.skipped.map((s) => el('li', { text: `Line ${s.line} (${s.email || 'empty'}): ${s.reason}` })));
    await refresh();
  } catch (err) {
    $('#csv-result').textContent = errorMessage(err);
  } finally {
    setBusy($('#csv-btn'), false);
  }
});

load().catch((err) => { $('#load-status').hidden = false; $('#load-status').textContent = errorMessage(err); });
