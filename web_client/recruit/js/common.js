// Shared by the recruiter pages under recruit/: the API (401 → log in and come back), the header,
// status and small table helpers.
import { api, loginUrl } from '../../js/api.js';
import { initNav } from '../../js/nav.js';
import { el, scoreClass } from '../../js/util.js';

/** Log in, then come back to this page (the log-in page accepts recruit/… targets in ?next=). */
export function toLogin() {
  location.assign(loginUrl());
}

/** api() for recruiter pages is the site's one api(): a 401 goes to the log-in page and back. */
export { api as rapi };

/** POST a text body (CSV upload). */
export function postText(path, text, type = 'text/csv') {
  return api(path, { method: 'POST', text, type });
}

export function initPage() {
  initNav();
}

export const STATUS_CLASS = { invited: 'info', started: 'warn', completed: 'ok', expired: 'bad', revoked: 'bad' };

export function statusBadge(c) {
  const status = c.revoked ? 'revoked' : c.status;
  return el('span', { class: `badge ${STATUS_CLASS[status] || ''} status-badge`, dataset: { status }, text: status });
}

export function scoreBadge(score) {
  if (score === null || score === undefined) return el('span', { class: 'score-badge', text: '—', title: 'No score' });
  const n = Math.round(Number(score));
  return el('span', { class: `score-badge ${scoreClass(n)}`, dataset: { score: n }, text: String(n), title: `AI suggestion: ${n} of 100` });
}

/** ISO time → value for <input type=datetime-local> (local time), and back. */
export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input?.select();
    try { return document.execCommand('copy'); } catch { return false; }
  }
}
