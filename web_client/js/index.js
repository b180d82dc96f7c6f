// The landing page: what the product does, and log in, register, or log in with an e-mailed one-time
// code; then go to sessions.html (or ?next=). No app menu here: it appears once signed in.
import { api } from './api.js';
import { clearErrors, showError, setBusy, formValues } from './forms.js';
import { logout } from './nav.js';
import { $, el, param } from './util.js';

function nextPage() {
  const next = param('next');
  // Only a page of this site: "room.html?id=…" or "recruit/review.html?id=…", never "//evil" or "https:…".
  if (next && /^(recruit\/)?[\w-]+\.html([?#].*)?$/.test(next)) return next;
  return 'sessions.html';
}

function signedIn() {
  location.assign(nextPage()); // the server set the sign-in cookie
}

// ---- tabs (WAI-ARIA tabs pattern) ----
const tabs = [...document.querySelectorAll('[role=tab]')];
function select(tab, focus = true) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) tab.focus();
}
for (const tab of tabs) {
  tab.addEventListener('click', () => select(tab));
  tab.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(tab);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(tabs[(to + tabs.length) % tabs.length]);
  });
}
if (location.hash === '#register') select($('#tab-register'), false);
if (location.hash === '#code') select($('#tab-code'), false);

// ---- forms ----
function bind(form, handler) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const button = form.querySelector('[type=submit]');
    // Client-side required check, shown the same way as server errors.
    const missing = [...form.elements].find((c) => c.required && !c.value.trim());
    if (missing) {
      const label = form.querySelector(`label[for="${missing.id}"]`)?.textContent || missing.name;
      showError(form, { message: `Please fill in ${label.toLowerCase()}.`, field: missing.name });
      return;
    }
    setBusy(button, true, 'Please wait…');
    try {
      await handler(formValues(form));
    } catch (err) {
      showError(form, err);
    } finally {
      setBusy(button, false);
    }
  });
}

bind($('#login-form'), async ({ email, password }) => {
  signedIn(await api('/api/auth/login', { method: 'POST', body: { email: email.trim(), password }, redirectOn401: false }));
});

let codeEmail = '';

// A new account is signed in but may only look around until its address is confirmed with the code we
// e-mailed: the code form asks for it (this browser's token rides along, so the password is kept).
bind($('#register-form'), async ({ name, email, password }) => {
  const data = await api('/api/auth/register', {
    method: 'POST', body: { name: name.trim(), email: email.trim(), password }, redirectOn401: false,
  });
  if (data?.user?.email_verified) { signedIn(data); return; }
  codeEmail = data.user.email;
  select($('#tab-code'), false);
  $('#code-request-form').hidden = true;
  $('#code-verify-form').hidden = false;
  $('#code-sent').textContent = `Account created. To confirm your e-mail address, enter the 6-digit code we sent to ${codeEmail}.`;
  $('#code-later').href = nextPage();
  $('#code-later').hidden = false;
  $('#code-code').focus();
});

bind($('#code-request-form'), async ({ email }) => {
  codeEmail = email.trim();
  await api('/api/auth/login-code', { method: 'POST', body: { email: codeEmail }, redirectOn401: false });
  $('#code-request-form').hidden = true;
  $('#code-verify-form').hidden = false;
  $('#code-sent').textContent = `We sent a 6-digit code to ${codeEmail}. It is valid for a few minutes.`;
  $('#code-code').focus();
});

bind($('#code-verify-form'), async ({ code }) => {
  signedIn(await api('/api/auth/verify-code', {
    method: 'POST', body: { email: codeEmail, code: code.replace(/\s+/g, '') }, redirectOn401: false,
  }));
});

$('#code-again').addEventListener('click', () => {
  $('#code-verify-form').hidden = true;
  $('#code-request-form').hidden = false;
  $('#code-email').focus();
});

// ---- already signed in? (token or cookie) ----
(async () => {
  try {
    const me = await api('/api/me', { redirectOn401: false });
    const user = me?.user;
    if (!user) return;
    const box = $('#signed-in');
    const out = el('button', { type: 'button', class: 'link-button', dataset: { action: 'logout' }, text: 'Log out' });
    out.addEventListener('click', logout);
    box.replaceChildren(
      `You are signed in as ${user.name || user.email}. `,
      el('a', { href: nextPage(), text: 'Continue' }),
      ' · ',
      out,
    );
    box.hidden = false;
  } catch {
    /* not signed in, or the server is unreachable: the forms will say so */
  }
})();
