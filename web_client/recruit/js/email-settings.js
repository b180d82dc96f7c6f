// Organisation settings, "E-mails to candidates" (issue 21): each template's subject and text with
// {{variables}}, a preview with sample values, save and back-to-default; and the e-mails to
// candidates that could not be delivered. Recruiters and owners only (reviewers read only: not shown).
// Everything typed or received is set with textContent / .value only.
import { errorMessage } from '../../js/api.js';
import { setBusy } from '../../js/forms.js';
import { $, el, dateTime } from '../../js/util.js';
import { rapi } from './common.js';

const NAMES = { invite: 'Invitation', reminder: 'Reminder', thank_you: 'Thank-you (after the last answer)', decision_pass: 'Decision: pass', decision_fail: 'Decision: fail' };

async function mount() {
  let org;
  try { org = await rapi('/api/org'); } catch { return; }
  if (org.role === 'reviewer') return;
  const { templates } = await rapi('/api/org/email-templates');
  const byKind = Object.fromEntries(templates.map((t) => [t.kind, t]));
  const kind = el('select', { id: 'tpl-kind' }, ...templates.map((t) => el('option', { value: t.kind, text: NAMES[t.kind] || t.kind })));
  const subject = el('input', { id: 'tpl-subject', type: 'text', maxlength: 300 });
  const body = el('textarea', { id: 'tpl-body', rows: 8, maxlength: 20000 });
  const vars = el('p', { id: 'tpl-vars', class: 'hint' });
  const state = el('p', { id: 'tpl-state', class: 'small muted' });
  const msg = el('p', { id: 'tpl-msg', class: 'small', role: 'status', 'aria-live': 'polite' });
  const error = el('p', { class: 'form-error', id: 'tpl-error', role: 'alert' });
  const previewBtn = el('button', { type: 'button', id: 'tpl-preview', text: 'Preview' });
  const saveBtn = el('button', { type: 'submit', class: 'primary', id: 'tpl-save', text: 'Save template' });
  const resetBtn = el('button', { type: 'button', id: 'tpl-reset', text: 'Back to the default text' });
  const pvSubject = el('p', { id: 'pv-subject', class: 'strong' });
  const pvBody = el('pre', { id: 'pv-body', class: 'email-preview' });
  const preview = el('div', { id: 'tpl-preview-box', class: 'card', hidden: true, 'aria-labelledby': 'pv-h' },
    el('h3', { id: 'pv-h', text: 'Preview (sample values)' }), pvSubject, pvBody);
  const form = el('form', { id: 'tpl-form', novalidate: true },
    el('div', { class: 'field' }, el('label', { for: 'tpl-kind', text: 'Template' }), kind),
    state,
    el('div', { class: 'field' }, el('label', { for: 'tpl-subject', text: 'Subject' }), subject),
    el('div', { class: 'field' }, el('label', { for: 'tpl-body', text: 'Text' }), body, vars),
    error, el('div', { class: 'row' }, saveBtn, previewBtn, resetBtn), msg, preview);
  const failures = el('ul', { id: 'email-failures', class: 'plain small' });
  const section = el('section', { class: 'card', id: 'email-card', 'aria-labelledby': 'email-h' },
    el('h2', { id: 'email-h', text: 'E-mails to candidates' }), form,
    el('h3', { text: 'E-mails that could not be delivered' }), failures);
  $('#view').append(section);

  function show(t) {
    subject.value = t.subject;
    body.value = t.body;
    vars.textContent = `Variables: ${t.variables.map((v) => `{{${v}}}`).join(' ')}`;
    state.textContent = t.custom ? 'Your own text.' : 'The default text.';
    preview.hidden = true;
  }
  kind.addEventListener('change', () => { msg.textContent = ''; error.textContent = ''; show(byKind[kind.value]); });
  previewBtn.addEventListener('click', async () => {
    error.textContent = '';
    try {
      const pv = await rapi(`/api/org/email-templates/${kind.value}/preview`, { method: 'POST', body: { subject: subject.value, body: body.value } });
      pvSubject.textContent = `Subject: ${pv.subject}`;
      pvBody.textContent = pv.body;
      preview.hidden = false;
    } catch (err) {
      error.textContent = errorMessage(err);
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    msg.textContent = '';
    setBusy(saveBtn, true, 'Saving…');
    try {
      byKind[kind.value] = await rapi(`/api/org/email-templates/${kind.value}`, { method: 'PUT', body: { subject: subject.value, body: body.value } });
      show(byKind[kind.value]);
      msg.textContent = 'Saved.';
    } catch (err) {
      error.textContent = errorMessage(err);
    } finally {
      setBusy(saveBtn, false);
    }
  });
  resetBtn.addEventListener('click', async () => {
    try {
      byKind[kind.value] = await rapi(`/api/org/email-templates/${kind.value}`, { method: 'DELETE' });
      show(byKind[kind.value]);
      msg.textContent = 'Back to the default text.';
    } catch (err) {
      error.textContent = errorMessage(err);
    }
  });
  show(byKind[kind.value]);

  const { deliveries } = await rapi('/api/org/email-deliveries?failed=1');
  failures.replaceChildren(...deliveries.map((d) => el('li', { class: 'email-failure', dataset: { kind: d.kind } },
    el('strong', { text: NAMES[d.kind] || d.kind }), ` to ${d.to}, ${dateTime(d.created_at)}: `, el('span', { class: 'email-error', text: d.error }))));
  if (!deliveries.length) failures.append(el('li', { class: 'muted', text: 'None.' }));
}

/** Called by settings.js once its own part has loaded (its requests go first). */
export function mountEmailSettings() {
  return mount().catch(() => {});
}
