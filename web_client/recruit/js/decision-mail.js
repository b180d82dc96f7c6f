// Review page: tell the candidate the saved decision by e-mail (the organisation's pass/fail template).
import { errorMessage } from '../../js/api.js';
import { setBusy } from '../../js/forms.js';
import { $, el } from '../../js/util.js';
import { rapi } from './common.js';

export function mountDecisionMail(candidateId) {
  const form = $('#decision-form');
  if (!form) return;
  const button = el('button', { type: 'button', id: 'decision-email', text: 'E-mail the decision to the candidate' });
  const msg = el('span', { id: 'decision-email-msg', class: 'small', role: 'status' });
  button.addEventListener('click', async () => {
    msg.textContent = '';
    setBusy(button, true, 'Sending…');
    try {
      const out = await rapi(`/api/org/candidates/${encodeURIComponent(candidateId)}/decision/email`, { method: 'POST' });
      msg.textContent = out.emailed ? 'E-mailed.' : 'Not delivered: see Settings, e-mails that could not be delivered.';
    } catch (err) {
      msg.textContent = errorMessage(err);
    } finally {
      setBusy(button, false);
    }
  });
  form.append(el('div', { class: 'row mt' }, button, msg));
}
