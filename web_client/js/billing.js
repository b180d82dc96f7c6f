// Billing: GET /api/packages, GET /api/billing, POST /api/checkout → redirect to the payment page;
// GET /api/billing/subscription + POST /api/billing/portal → the provider's page to manage the plan.
import { api, errorMessage } from './api.js';
import { initNav } from './nav.js';
import { $, el, dateTime, duration, param } from './util.js';

initNav();
let packages = [];
let gateways = [];  // [{name, configured, monthly}] from GET /api/packages: the ways this server takes payment
const GATEWAY_LABELS = { stripe: 'Card (Stripe)', paypal: 'PayPal', manual: 'Invoice (bank transfer)' };

function chosenGateway() {
  return document.querySelector('input[name="gateway"]:checked')?.value || gateways[0]?.name || 'stripe';
}

function renderGateways() {
  const box = $('#gateways');
  const offered = gateways.filter((g) => g.configured);
  box.hidden = offered.length === 0;
  box.replaceChildren(el('legend', { text: 'Pay with' }), ...offered.map((g, i) => {
    const id = `gateway-${g.name}`;
    const input = el('input', { type: 'radio', name: 'gateway', id, value: g.name });
    if (i === 0) input.checked = true;
    return el('div', { class: 'gateway-choice' }, input, el('label', { for: id, text: GATEWAY_LABELS[g.name] || g.name }));
  }));
}

function money(cents, currency = 'usd') {
  const amount = Number(cents) / 100;
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: String(currency || 'usd').toUpperCase() }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency || ''}`.trim();
  }
}

function showCheckoutError(err) {
  const box = $('#checkout-error');
  if (err?.code === 'payments_not_configured') {
    box.replaceChildren(el('div', { class: 'banner info' },
      el('strong', { text: 'Online payments are not set up on this server yet. ' }),
      'Nothing was charged and your credits are unchanged. If you run this server, add the payment keys (Stripe or PayPal, see the project README); otherwise ask its administrator for credits.'));
  } else {
    box.replaceChildren(el('div', { class: 'banner error', text: `Could not start the payment: ${errorMessage(err)}` }));
  }
  box.scrollIntoView({ block: 'nearest' });
}

async function buy(pkg, button) {
  $('#checkout-error').replaceChildren();
  button.disabled = true;
  button.textContent = 'Opening the payment page…';
  try {
    const data = await api('/api/checkout', { method: 'POST', body: { package_id: pkg.id, gateway: chosenGateway() } });
    if (!data?.redirect_url) throw new Error('The server did not return a payment page.');
    location.assign(data.redirect_url);
  } catch (err) {
    showCheckoutError(err);
    button.disabled = false;
    button.textContent = `Buy ${pkg.name}`;
  }
}

/** 1 credit = 60 minutes of session time (metered per second). */
function credits(seconds) {
  const n = Math.round((Number(seconds) / 3600) * 100) / 100;
  return `${n} credit${n === 1 ? '' : 's'}`;
}

/** A package the server sells (the free plan is granted on sign-up, never bought). */
export function forSale(p) {
  return p.purchasable === true && Number(p.price_cents) > 0;
}

function renderPackages() {
  const list = $('#packages');
  list.replaceChildren(...packages.map((p) => {
    const sold = forSale(p);
    const last = sold
      ? el('button', { type: 'button', class: 'primary', dataset: { packageId: p.id }, text: `Buy ${p.name}` })
      : el('p', { class: 'package-note', text: 'Included once with every new account' });
    if (sold) last.addEventListener('click', () => buy(p, last));
    return el('li', { class: `card package${sold ? '' : ' granted'}`, dataset: { id: p.id } },
      el('h3', { text: p.name }),
      el('p', { class: 'price', text: sold ? money(p.price_cents, p.currency) : 'Free' }),
      p.description ? el('p', { class: 'package-desc', text: p.description }) : '',
      el('p', { text: `${duration(p.seconds)} of sessions${p.kind === 'monthly' ? ' every month' : ''} (${credits(p.seconds)})` }),
      el('p', { class: 'small muted', text: sold ? (p.kind === 'monthly' ? 'Monthly subscription' : 'One-time purchase') : 'Not for sale' }),
      last,
    );
  }));
  const onSale = packages.filter(forSale).length;
  $('#packages-status').textContent = onSale ? '' : 'No packages are on sale right now.';
  $('#packages-status').hidden = onSale > 0;
}

function renderBilling(b) {
  if (typeof b.credits_seconds === 'number') $('#credits-left').textContent = duration(b.credits_seconds);
  const purchases = Array.isArray(b.purchases) ? b.purchases : [];
  const byId = new Map(packages.map((p) => [p.id, p]));
  $('#purchases').replaceChildren(...(purchases.length ? purchases.map((p) => {
    const pkg = byId.get(p.package_id);
    const cents = p.amount_cents ?? p.price_cents ?? pkg?.price_cents;
    return el('tr', {},
      el('td', { text: dateTime(p.created_at || p.at || p.paid_at) }),
      el('td', { text: p.package_name || pkg?.name || p.package_id || '—' }),
      el('td', { text: duration(p.seconds ?? pkg?.seconds) }),
      el('td', { text: cents === undefined ? '—' : money(cents, p.currency || pkg?.currency) }),
      el('td', { text: p.status || '—' }),
      el('td', {}, p.payment_id && p.status !== 'failed' ? el('a', {
        href: `/api/billing/receipts/${encodeURIComponent(p.payment_id)}/pdf`,
        download: '',
        class: 'receipt-pdf',
        'aria-label': `Download the receipt for ${p.package_name || 'this purchase'} of ${dateTime(p.created_at)} (PDF)`,
        text: 'PDF',
      }) : '—'),
    );
  }) : [el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No purchases yet.' }))]));

  const debits = Array.isArray(b.debits) ? b.debits : [];
  $('#debits').replaceChildren(...(debits.length ? debits.map((d) => el('tr', {},
    el('td', { text: dateTime(d.at) }),
    el('td', {}, d.session_id ? el('a', { href: `session.html?id=${encodeURIComponent(d.session_id)}`, text: d.session_title || 'Session' }) : '—'),
    el('td', { text: duration(Math.abs(Number(d.seconds))) }),
  )) : [el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'No usage yet.' }))]));
}

const PLAN_STATES = {
  active: 'Active', trialing: 'Trial', past_due: 'Payment failed — please update your card',
  unpaid: 'Unpaid', canceled: 'Cancelled', incomplete: 'Waiting for the first payment', incomplete_expired: 'Expired', paused: 'Paused',
};

function dateOnly(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleDateString(undefined, { dateStyle: 'long' });
}

/** The monthly plan's state from GET /api/billing/subscription, and the way to the provider's portal. */
export function renderPlan(s) {
  const box = $('#plan');
  box.hidden = !s;
  if (!s) return;
  $('#plan-name').textContent = s.package_name || s.package_id || 'Monthly plan';
  const state = s.cancel_at_period_end && s.status === 'active' ? 'Cancels at the end of the period' : (PLAN_STATES[s.status] || s.status);
  $('#plan-state').textContent = state;
  let renewal = '';
  if (s.renews_at) renewal = `Next renewal: ${dateOnly(s.renews_at)}`;
  else if (s.ends_at) renewal = `Ends on ${dateOnly(s.ends_at)}; it will not renew.`;
  else if (s.status === 'canceled') renewal = 'This subscription has ended.';
  $('#plan-renewal').textContent = renewal;
  $('#manage-subscription').hidden = !s.manageable;
  $('#plan-help').hidden = !s.manageable;
}

async function openPortal(button) {
  $('#portal-error').replaceChildren();
  button.disabled = true;
  try {
    const data = await api('/api/billing/portal', { method: 'POST' });
    if (!data?.url) throw new Error('The server did not return the portal page.');
    location.assign(data.url);
  } catch (err) {
    $('#portal-error').replaceChildren(el('div', { class: 'banner error', text: `Could not open the subscription page: ${errorMessage(err)}` }));
    button.disabled = false;
  }
}

$('#manage-subscription').addEventListener('click', (e) => openPortal(e.currentTarget));

async function load() {
  api('/api/billing/subscription').then((d) => renderPlan(d?.subscription || null), () => renderPlan(null));
  const [pk, billing] = await Promise.allSettled([api('/api/packages'), api('/api/billing')]);
  if (pk.status === 'fulfilled') {
    packages = Array.isArray(pk.value.packages) ? pk.value.packages : [];
    gateways = Array.isArray(pk.value.gateways) ? pk.value.gateways : [];
    renderGateways();
    renderPackages();
  } else {
    $('#packages-status').textContent = `Could not load packages: ${errorMessage(pk.reason)}`;
  }
  if (billing.status === 'fulfilled') renderBilling(billing.value);
  else $('#purchases').replaceChildren(el('tr', {}, el('td', { colspan: 6, text: `Could not load billing: ${errorMessage(billing.reason)}` })));
}

// Back from the payment page (?checkout=success|cancel, or ?status=…)
const back = param('checkout') || param('status');
if (back === 'error') {
  $('#checkout-result').replaceChildren(el('div', { class: 'banner error', text: 'The payment could not be completed. Nothing was charged; please try again.' }));
} else if (back) {
  const ok = /success|paid|complete|pending/i.test(back);
  $('#checkout-result').replaceChildren(el('div', {
    class: `banner ${ok ? 'info' : 'warn'}`,
    text: ok ? 'Thank you! Your payment is being confirmed; credits appear here within a minute.' : 'The payment was cancelled. Nothing was charged.',
  }));
}

load();
