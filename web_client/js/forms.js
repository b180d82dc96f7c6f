// Form helpers: field-level error display from server errors, busy buttons.
import { errorMessage } from './api.js';

export function clearErrors(form) {
  for (const node of form.querySelectorAll('[aria-invalid=true]')) node.removeAttribute('aria-invalid');
  for (const node of form.querySelectorAll('.field-error, .form-error')) node.textContent = '';
}

function fieldFor(form, err) {
  const controls = [...form.elements].filter((c) => c.name && c.type !== 'submit' && c.type !== 'button');
  if (err?.field) {
    const hit = controls.find((c) => c.name === err.field);
    if (hit) return hit;
  }
  // Only validation errors name a field in their message; "wrong e-mail or password" (401) does not.
  if (err?.status && err.status !== 400 && err.status !== 422) return null;
  const msg = String(err?.message || '').toLowerCase();
  // Longest names first so "new_password" wins over "password".
  const byLength = [...controls].sort((a, b) => b.name.length - a.name.length);
  return byLength.find((c) => {
    const n = c.name.toLowerCase();
    return msg.includes(n) || msg.includes(n.replaceAll('_', ' '));
  }) || null;
}

/** Show `err` next to the field it names, else in the form's .form-error. Returns the message. */
export function showError(form, err) {
  const message = errorMessage(err);
  const field = fieldFor(form, err);
  const slot = field && (form.querySelector(`#${CSS.escape(field.id)}-error`));
  if (field && slot) {
    field.setAttribute('aria-invalid', 'true');
    slot.textContent = message;
    field.focus();
  } else {
    const general = form.querySelector('.form-error');
    if (general) general.textContent = message;
  }
  return message;
}

export function setBusy(button, busy, busyLabel) {
  if (!button) return;
  if (busy) {
    button.dataset.label ??= button.textContent;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    if (busyLabel) button.textContent = busyLabel;
  } else {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (button.dataset.label) button.textContent = button.dataset.label;
    delete button.dataset.label;
  }
}

/** Plain object of a form's named controls (checkboxes → bool). */
export function formValues(form) {
  const out = {};
  for (const c of form.elements) {
    if (!c.name || c.disabled || c.type === 'file') continue;
    if (c.type === 'checkbox') out[c.name] = c.checked;
    else if (c.type === 'radio') { if (c.checked) out[c.name] = c.value; }
    else out[c.name] = c.value;
  }
  return out;
}
