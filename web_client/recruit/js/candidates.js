// Candidates of one interview: invite (one, or a CSV); per candidate copy the link, issue a new one,
// remind, revoke; statuses, compare, export.
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

const isPending = (c) => !c.revoked && (c.status === 'invited' || c.status === 'started');
const whoOf = (c) => c.name || c.email || 'Candidate';
const candidatePath = (c, action) => `/api/org/candidates/${encodeURIComponent(c.id)}/${action}`;

function renderList(candidates) {
  $('#list-empty').hidden = candidates.length > 0;
  $('#candidate-table tbody').replaceChildren(...candidates.map((c) => {
    const who = whoOf(c);
    const button = (cls, text, label, onclick) => el('button', { type: 'button', class: `small-btn ${cls}`, text, 'aria-label': label, onclick: (e) => onclick(c, e.currentTarget) });
    const copy = button('copy-btn', 'Copy link', `Copy link for ${who}`, copyLink);
    const fresh = button('newlink-btn', 'New link', `New link for ${who}`, newLink);
    fresh.hidden = c.status === 'completed';
    const remind = button('remind-btn', 'Send reminder', `Send reminder to ${who}`, sendReminder);
    remind.hidden = !c.email || !isPending(c);
    const revoke = button('revoke-btn', 'Revoke', `Revoke the link of ${who}`, revokeLink);
    revoke.disabled = c.revoked || c.status === 'completed';
    const erase = button('erase-btn', 'Delete', `Delete ${who} and their recordings`, eraseCandidate);
    // data-label: the column's name, shown beside each value where the rows become cards (narrow screens);
    // explicit roles keep the table semantics when CSS changes the display of its parts.
    const cell = (label, attrs, ...kids) => el('td', { role: 'cell', 'data-label': label, ...attrs }, ...kids);
    return el('tr', { role: 'row', class: 'candidate-row', dataset: { id: c.id, status: c.revoked ? 'revoked' : c.status } },
      cell('Name', { class: 'c-who' }, el('a', { href: `review.html?id=${encodeURIComponent(c.id)}`, text: who })),
      cell('E-mail', { text: c.email || '—' }),
      cell('Status', {}, statusBadge(c),
        c.reminded_at ? el('span', { class: 'small muted reminded', text: `reminded ${dateTime(c.reminded_at)}` }) : null),
      cell('Answered', { text: `${c.answered ?? 0} / ${nQuestions}` }),
      cell('Decision', { text: c.decision || '—' }),
      cell('Expires', { class: 'small nowrap', text: dateTime(c.expires_at) }),
      cell('Actions', { class: 'c-actions' }, el('div', { class: 'row actions' },
        el('a', { class: 'button small-btn review-link', href: `review.html?id=${encodeURIComponent(c.id)}`, text: 'Review', 'aria-label': `Review ${who}` }),
        copy, fresh, remind, revoke, erase)));
  }));
}

/** Say something in the list's live region (and clear the error line). */
function announce(text) {
  $('#list-error').textContent = '';
  $('#list-status').textContent = text;
}

/** Show a candidate's link under the table; `select` puts it selected in focus for a manual copy. */
function showLink(c, link, hint, select = false) {
  $('#row-link').hidden = false;
  $('#row-link').dataset.id = c.id;
  $('#row-link-label').textContent = `Link for ${whoOf(c)}`;
  $('#row-link-input').value = link;
  $('#row-link-hint').textContent = hint;
  if (select) {
    $('#row-link-input').focus();
    $('#row-link-input').select();
  }
}

async function clipboardWrite(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // no clipboard access (permission, insecure context): the link is shown for a manual copy
  }
}

async function copyLink(c, button) {
  setBusy(button, true);
  announce('');
  try {
    const out = await rapi(candidatePath(c, 'link'));
    const expired = out.expires_at && new Date(out.expires_at) <= new Date();
    const hint = expired ? `This link expired ${dateTime(out.expires_at)}: use "New link" to extend it.` : `Expires ${dateTime(out.expires_at)}.`;
    if (await clipboardWrite(out.link)) {
      showLink(c, out.link, hint);
      announce(`Link copied for ${whoOf(c)}.`);
    } else {
      showLink(c, out.link, hint, true);
      announce('Could not copy automatically: the link is selected, press Ctrl+C (or ⌘C) to copy it.');
    }
  } catch (err) {
    $('#list-error').textContent = err.code === 'link_unavailable'
      ? `The link of ${whoOf(c)} was revoked: use "New link" to issue a new one.`
      : errorMessage(err);
  } finally {
    setBusy(button, false);
  }
}

$('#row-link-copy').addEventListener('click', async () => {
  const input = $('#row-link-input');
  if (await clipboardWrite(input.value)) announce('Link copied.');
  else {
    input.focus();
    input.select();
    announce('Could not copy automatically: the link is selected, press Ctrl+C (or ⌘C) to copy it.');
  }
});

/** Ask in a modal dialog (focus stays inside, Escape cancels); resolves to {send} or null. */
function confirmNewLink(c) {
  const dialog = $('#newlink-dialog');
  $('#newlink-h').textContent = `Issue a new link for ${whoOf(c)}?`;
  $('#newlink-send').checked = false;
  $('#newlink-send-row').hidden = !c.email;
  $('#newlink-send-label').textContent = `E-mail the new link to ${c.email}`;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm' ? { send: Boolean(c.email) && $('#newlink-send').checked } : null);
    }, { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    $('#newlink-cancel').focus();
  });
}

async function newLink(c, button) {
  const answer = await confirmNewLink(c);
  button.focus();
  if (!answer) return;
  setBusy(button, true);
  announce('');
  try {
    const out = await rapi(candidatePath(c, 'link'), { method: 'POST', body: { send_email: answer.send } });
    await refresh();
    const sent = out.emailed ? ` E-mailed to ${c.email}.` : '';
    showLink(out.candidate || c, out.link, `Expires ${dateTime(out.candidate?.expires_at)}. The old link no longer works.`);
    announce(`New link issued for ${whoOf(c)}; the old link no longer works.${sent}`);
  } catch (err) {
    $('#list-error').textContent = errorMessage(err);
  } finally {
    if (button.isConnected) setBusy(button, false);
  }
}

const REMIND_ERRORS = {
  no_email: 'has no e-mail address: copy the link and send it yourself.',
  not_pending: 'has completed the interview, or the link is revoked or expired.',
};

async function sendReminder(c, button) {
  setBusy(button, true, 'Sending…');
  announce('');
  try {
    const out = await rapi(candidatePath(c, 'remind'), { method: 'POST', body: {} });
    await refresh();
    announce(out.emailed ? `Reminder e-mailed to ${c.email}.` : `The reminder to ${c.email} could not be e-mailed (no mail server is set up).`);
  } catch (err) {
    $('#list-error').textContent = REMIND_ERRORS[err.code] ? `${whoOf(c)} ${REMIND_ERRORS[err.code]}` : errorMessage(err);
  } finally {
    if (button.isConnected) setBusy(button, false);
  }
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

/** Ask before erasing (focus starts on Cancel, Escape cancels); resolves true to go ahead. */
function confirmErase(c) {
  const dialog = $('#erase-dialog');
  $('#erase-h').textContent = `Delete ${whoOf(c)}?`;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    $('#erase-cancel').focus();
  });
}

async function eraseCandidate(c, button) {
  if (!(await confirmErase(c))) {
    button.focus();
    return;
  }
  setBusy(button, true);
  $('#list-error').textContent = '';
  try {
    await rapi(`/api/org/candidates/${encodeURIComponent(c.id)}`, { method: 'DELETE' });
    if ($('#row-link').dataset.id === c.id) $('#row-link').hidden = true;
    await refresh();
    announce(`${whoOf(c)} and their recordings are deleted.`);
  } catch (err) {
    $('#list-error').textContent = errorMessage(err);
    setBusy(button, false);
  }
}

async function revokeLink(c, button) {
  setBusy(button, true);
  $('#list-error').textContent = '';
  try {
    await rapi(candidatePath(c, 'revoke'), { method: 'POST' });
    await refresh();
    announce(`The link of ${whoOf(c)} is revoked.`);
    if ($('#row-link').dataset.id === c.id) $('#row-link').hidden = true;
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
    $('#invite-link').value = out.link;
    $('#invite-msg').textContent = out.emailed ? `E-mailed to ${email}.` : 'Not e-mailed: send the link to the candidate yourself.';
    form.reset();
    $('#c-send').checked = true;
    await refresh(); // the list shows the new candidate by the time the link is shown
    $('#invite-result').hidden = false;
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
    await refresh(); // the list shows the new candidates by the time the result is announced
    $('#csv-result').textContent = `${out.created.length} invited, ${out.skipped.length} skipped.`;
    $('#csv-skipped').replaceChildren(...out.skipped.map((s) => el('li', { text: `Line ${s.line} (${s.email || 'empty'}): ${s.reason}` })));
  } catch (err) {
    $('#csv-result').textContent = errorMessage(err);
  } finally {
    setBusy($('#csv-btn'), false);
  }
});

load().catch((err) => { $('#load-status').hidden = false; $('#load-status').textContent = errorMessage(err); });
