// Profile: GET/PATCH /api/me, POST /api/me/password, plan and credits; export (GET /api/me/export) and
// deleting the account (DELETE /api/me, confirmed by the password or an e-mailed code).
import { api, errorMessage } from './api.js';
import { clearErrors, showError, setBusy } from './forms.js';
import { initNav } from './nav.js';
import { $, duration, fillLanguages, setSelect } from './util.js';

initNav();
const meForm = $('#me-form');
const pwForm = $('#pw-form');
const delForm = $('#del-form');
fillLanguages($('#p-listen'), { auto: true, value: 'en' });
fillLanguages($('#p-answer'), { value: 'en' });

function show(data) {
  const user = data?.user || {};
  $('#p-name').value = user.name || '';
  $('#p-email').value = user.email || '';
  pwForm.elements.username.defaultValue = user.email || '';
  setSelect($('#p-listen'), user.default_listen_language);
  setSelect($('#p-answer'), user.default_answer_language);
  $('#p-instructions').value = user.default_instructions || '';
  if (user.has_password !== undefined) {
    $('#del-password-field').hidden = !user.has_password;
    $('#del-code-field').hidden = Boolean(user.has_password);
  }
  delForm.elements.username.defaultValue = user.email || '';
  if (data?.plan !== undefined) {
    $('#plan').textContent = typeof data.plan === 'object' && data.plan ? (data.plan.name || data.plan.id || '—') : String(data.plan || 'free');
  }
  if (typeof data?.credits_seconds === 'number') $('#credits-left').textContent = duration(data.credits_seconds);
}

async function load() {
  try {
    show(await api('/api/me'));
    $('#load-status').hidden = true;
  } catch (err) {
    $('#load-status').textContent = `Could not load your profile: ${errorMessage(err)}`;
  }
}

meForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  clearErrors(meForm);
  $('#me-saved').textContent = '';
  const button = meForm.querySelector('[type=submit]');
  setBusy(button, true, 'Saving…');
  try {
    const data = await api('/api/me', {
      method: 'PATCH',
      body: {
        name: $('#p-name').value.trim(),
        default_listen_language: $('#p-listen').value,
        default_answer_language: $('#p-answer').value,
        default_instructions: $('#p-instructions').value,
      },
    });
    if (data?.user) show(data);
    else if (data?.email) show({ user: data });
    $('#me-saved').textContent = 'Saved.';
  } catch (err) {
    showError(meForm, err);
  } finally {
    setBusy(button, false);
  }
});

pwForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  clearErrors(pwForm);
  $('#pw-saved').textContent = '';
  const current = $('#pw-current').value;
  const next = $('#pw-new').value;
  if (next.length < 8) {
    showError(pwForm, { field: 'new_password', message: 'The new password needs at least 8 characters.' });
    return;
  }
  if (next !== $('#pw-confirm').value) {
    showError(pwForm, { field: 'confirm_password', message: 'The two new passwords differ.' });
    return;
  }
  const button = pwForm.querySelector('[type=submit]');
  setBusy(button, true, 'Changing…');
  try {
    await api('/api/me/password', { method: 'POST', body: { current_password: current, new_password: next } });
    pwForm.reset();
    $('#pw-saved').textContent = 'Password changed.';
  } catch (err) {
    showError(pwForm, err);
  } finally {
    setBusy(button, false);
  }
});

$('#del-send-code').addEventListener('click', async () => {
  clearErrors(delForm);
  const button = $('#del-send-code');
  setBusy(button, true, 'Sending…');
  try {
    await api('/api/me/delete-code', { method: 'POST' });
    $('#del-code-sent').textContent = 'Code sent. Check your e-mail.';
  } catch (err) {
    showError(delForm, err);
  } finally {
    setBusy(button, false);
  }
});

delForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  clearErrors(delForm);
  const byCode = $('#del-password-field').hidden;
  const body = byCode ? { code: $('#del-code').value.trim() } : { password: $('#del-password').value };
  if (!(body.code || body.password)) {
    showError(delForm, { field: byCode ? 'code' : 'password', message: byCode ? 'Enter the code from the e-mail.' : 'Enter your password to confirm.' });
    return;
  }
  const button = $('#del-submit');
  setBusy(button, true, 'Deleting…');
  try {
    await api('/api/me', { method: 'DELETE', body, redirectOn401: false });
    location.assign('index.html?deleted=1');
  } catch (err) {
    showError(delForm, err);
    setBusy(button, false);
  }
});

load();
