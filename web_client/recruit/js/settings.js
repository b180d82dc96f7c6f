// Organisation settings: the ATS webhook (owner only: URL, signing secret) and the delivery log,
// with a retry for a delivery whose attempts all failed.
import { errorMessage } from '../../js/api.js';
import { clearErrors, setBusy, showError } from '../../js/forms.js';
import { $, el, dateTime } from '../../js/util.js';
import { initPage, rapi } from './common.js';
import { mountEmailSettings } from './email-settings.js';

initPage();
let org = null;

async function load() {
  try {
    org = await rapi('/api/org');
  } catch (err) {
    $('#load-status').replaceChildren(err.code === 'no_organisation'
      ? el('span', {}, 'You do not belong to an organisation yet. ', el('a', { href: 'index.html', text: 'Create one' }), '.')
      : `Could not load your organisation: ${errorMessage(err)}`);
    return;
  }
  $('#settings-h').textContent = `${org.name}: settings`;
  document.title = `${org.name} · Settings · Interview Room`;
  const owner = org.role === 'owner';
  $('#member-note').hidden = owner;
  if (owner) {
    $('#wh-url').value = org.webhook_url || '';
    $('#wh-secret').value = org.webhook_secret || '';
  }
  try {
    await loadDeliveries();
  } finally { // the view appears whole: the webhook and its delivery log together
    $('#load-status').hidden = true;
    $('#view').hidden = false;
    $('#webhook-card').hidden = !owner;
  }
}

// ---------- webhook URL

$('#webhook-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  $('#wh-msg').textContent = '';
  const url = $('#wh-url').value.trim();
  setBusy($('#wh-save'), true, 'Saving…');
  try {
    org = await rapi('/api/org', { method: 'PATCH', body: { webhook_url: url } });
    $('#wh-url').value = org.webhook_url || '';
    $('#wh-msg').textContent = org.webhook_url ? 'Saved.' : 'Saved: no webhook is sent.';
  } catch (err) {
    showError(form, err);
  } finally {
    setBusy($('#wh-save'), false);
  }
});

// ---------- signing secret

$('#secret-reveal').addEventListener('click', (e) => {
  const button = e.currentTarget;
  const show = button.getAttribute('aria-pressed') !== 'true';
  button.setAttribute('aria-pressed', String(show));
  button.textContent = show ? 'Hide secret' : 'Show secret';
  $('#wh-secret').type = show ? 'text' : 'password';
});

$('#secret-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('#wh-secret').value);
    $('#secret-msg').textContent = 'Secret copied.';
  } catch {
    const input = $('#wh-secret');
    input.type = 'text';
    $('#secret-reveal').setAttribute('aria-pressed', 'true');
    $('#secret-reveal').textContent = 'Hide secret';
    input.focus();
    input.select();
    $('#secret-msg').textContent = 'Could not copy automatically: the secret is selected, press Ctrl+C (or ⌘C) to copy it.';
  }
});

// ---------- delivery log

/** A delivery (one message, several attempts) failed for good when none of its attempts succeeded. */
function failedDeliveries(rows) {
  // `state` is the event's: pending (retries still to come), delivered or failed (retry by hand)
  const ok = new Set(rows.filter((r) => r.ok || (r.state && r.state !== 'failed')).map((r) => r.delivery_id));
  const latest = new Map();
  for (const r of rows) {
    const seen = latest.get(r.delivery_id);
    if (!seen || r.attempt > seen.attempt) latest.set(r.delivery_id, r);
  }
  return new Set([...latest.values()].filter((r) => !ok.has(r.delivery_id)).map((r) => r.id));
}

/** The error in a few words (the full text is the cell's title). */
function reason(r) {
  if (r.status_code) return `HTTP ${r.status_code}`;
  const e = r.error || '';
  if (/refused/i.test(e)) return 'connection refused';
  if (/timeout|timed out/i.test(e)) return 'timed out';
  if (/getaddrinfo|name or service|nodename|resolve/i.test(e)) return 'host not found';
  if (/ssl|certificate/i.test(e)) return 'TLS error';
  return e.length > 100 ? `${e.slice(0, 100)}…` : (e || 'no answer');
}

function result(r) {
  if (r.ok) return el('span', { class: 'delivery-ok', text: `Delivered (HTTP ${r.status_code})` });
  return el('span', {}, el('span', { class: 'delivery-failed', text: 'Failed' }), `: ${reason(r)}`);
}

async function loadDeliveries() {
  const { deliveries } = await rapi('/api/org/webhook-deliveries');
  const retryable = org?.role === 'owner' ? failedDeliveries(deliveries) : new Set();
  $('#deliveries-empty').hidden = deliveries.length > 0;
  $('#delivery-table').hidden = deliveries.length === 0;
  const cell = (label, attrs, ...kids) => el('td', { role: 'cell', 'data-label': label, ...attrs }, ...kids);
  $('#delivery-table tbody').replaceChildren(...deliveries.map((r) => el('tr', {
    role: 'row', class: 'delivery-row', dataset: { id: r.id, deliveryId: r.delivery_id, ok: r.ok },
  },
  cell('Event', { text: r.event }),
  cell('Attempt', { text: String(r.attempt) }),
  cell('Result', { class: 'small result', title: r.error || '' }, result(r)),
  cell('Time', { class: 'small', text: dateTime(r.created_at) }),
  retryable.has(r.id)
    ? cell('Action', {}, el('button', { type: 'button', class: 'small-btn retry-btn', text: 'Retry', 'aria-label': `Retry ${r.event} delivery from ${dateTime(r.created_at)}`, onclick: (e) => retry(r, e.currentTarget) }))
    : el('td', { role: 'cell' }))));
}

async function retry(r, button) {
  setBusy(button, true, 'Retrying…');
  $('#deliveries-error').textContent = '';
  $('#deliveries-msg').textContent = '';
  try {
    await rapi(`/api/org/webhook-deliveries/${encodeURIComponent(r.delivery_id)}/retry`, { method: 'POST', body: {} });
    $('#deliveries-msg').textContent = 'Delivery queued again: refresh the log in a moment to see the new attempt.';
    await loadDeliveries();
  } catch (err) {
    $('#deliveries-error').textContent = err.status === 404 || err.status === 405
      ? `Could not retry: ${errorMessage(err)}`
      : errorMessage(err);
    if (button.isConnected) setBusy(button, false);
  }
}

$('#deliveries-refresh').addEventListener('click', async (e) => {
  const button = e.currentTarget;
  setBusy(button, true, 'Refreshing…');
  $('#deliveries-error').textContent = '';
  try {
    await loadDeliveries();
    $('#deliveries-msg').textContent = 'Log refreshed.';
  } catch (err) {
    $('#deliveries-error').textContent = errorMessage(err);
  } finally {
    setBusy(button, false);
  }
});

load().then(mountEmailSettings).catch((err) => { $('#load-status').hidden = false; $('#load-status').textContent = errorMessage(err); });
