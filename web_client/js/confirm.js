// Ask before something that cannot be undone (end a session, delete one): a modal <dialog> whose focus
// starts on the safe choice; Escape or "Cancel" keeps things as they are. Built here so every page can use
// it without markup of its own (and without inline script or style: the pages' CSP allows neither).
import { el } from './util.js';

/**
 * Resolves true when the user confirms. {title, text, confirm: the danger button's label, cancel, id}.
 * The dialog gets id `${id}-dialog`, its buttons `${id}-confirm` and `${id}-cancel` (for tests).
 */
export function confirmDanger({ title, text, confirm, cancel = 'Cancel', id = 'danger' }) {
  document.getElementById(`${id}-dialog`)?.remove();
  const heading = el('h2', { id: `${id}-h`, text: title });
  const body = el('p', { id: `${id}-text`, text });
  const yes = el('button', { type: 'submit', class: 'danger', value: 'confirm', id: `${id}-confirm`, text: confirm });
  const no = el('button', { type: 'submit', value: 'cancel', id: `${id}-cancel`, text: cancel });
  const dialog = el('dialog', {
    id: `${id}-dialog`, class: 'confirm-dialog', 'aria-labelledby': heading.id, 'aria-describedby': body.id,
  }, el('form', { method: 'dialog' }, heading, body, el('div', { class: 'confirm-actions' }, no, yes)));
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    }, { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    no.focus();
  });
}
