// The dashboard's team table (issue 21): owners change a colleague's role (owner / recruiter /
// reviewer) or remove them; the removal takes effect on the colleague's next request. Names and
// e-mails go in as text only.
import { errorMessage } from '../../js/api.js';
import { el } from '../../js/util.js';
import { rapi } from './common.js';

const ROLES = ['owner', 'recruiter', 'reviewer'];

/** One row of #member-list; ``org`` is the caller's organisation, ``reload`` redraws the table. */
export function memberRow(m, org, reload) {
  const who = m.name || m.email;
  const row = el('tr', { dataset: { id: m.id, role: m.role } }, el('td', { text: m.name || '—' }), el('td', { text: m.email }));
  const manage = org.role === 'owner' && !m.founder;
  if (!manage) {
    row.append(el('td', { text: m.role }));
    return row;
  }
  const msg = el('span', { class: 'small', role: 'status' });
  const select = el('select', { class: 'member-role', 'aria-label': `Role of ${who}` },
    ...ROLES.map((r) => el('option', { value: r, text: r, selected: r === m.role })));
  select.addEventListener('change', async () => {
    try {
      await rapi(`/api/org/members/${encodeURIComponent(m.id)}`, { method: 'PATCH', body: { role: select.value } });
      row.dataset.role = select.value;
      msg.textContent = 'Saved.';
    } catch (err) {
      select.value = row.dataset.role;
      msg.textContent = errorMessage(err);
    }
  });
  const remove = el('button', { type: 'button', class: 'link-button member-remove', text: 'Remove', 'aria-label': `Remove ${who} from the team` });
  remove.addEventListener('click', async () => {
    if (!window.confirm(`Remove ${who}? They lose access at once.`)) return;
    try {
      await rapi(`/api/org/members/${encodeURIComponent(m.id)}`, { method: 'DELETE' });
      await reload();
    } catch (err) {
      msg.textContent = errorMessage(err);
    }
  });
  row.append(el('td', {}, select, ' ', remove, ' ', msg));
  return row;
}
