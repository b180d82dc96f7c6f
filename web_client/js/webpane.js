// "Web page" side panel: address bar + iframe, with an "Open in new window" link.
// A frame fires "load" whether the site loaded, failed, or refused to be framed (X-Frame-Options / CSP
// frame-ancestors), so before framing an address the page asks the server (GET /api/webpage/check):
// an address that does not load says so, a site that refuses framing gets a one-click "Open … in a new
// window" instead of a broken frame. When the server cannot check (a private address, the API is
// unreachable) the frame is tried as before, with the timeout warning.
import { api } from './api.js';

const STORE_KEY = 'interview-room.webpage';
const LOAD_TIMEOUT_MS = 8000;
const WINDOW_FEATURES = 'popup,width=1000,height=900';

export function normalizeUrl(text) {
  let value = String(text || '').trim();
  if (!value) return null;
  if (!/^[a-z][a-z\d+.-]*:/i.test(value)) value = `https://${value}`;
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    if (!url.hostname.includes('.') && url.hostname !== 'localhost') return null;
    return url.href;
  } catch {
    return null;
  }
}

/** The server's verdict on `url`: {framing, problem, message, url} or null when it could not be asked. */
async function checkAddress(url) {
  try {
    return await api(`/api/webpage/check?url=${encodeURIComponent(url)}`, { redirectOn401: false });
  } catch (err) {
    if (err?.status === 400) return { framing: 'unknown', problem: 'invalid_url', message: err.message };
    return null;
  }
}

export function initWebPane({ form, input, frame, openLink, status }) {
  let timer = 0;
  let generation = 0; // a newer address wins over a check still under way

  function say(text, state = '') {
    status.textContent = text;
    if (state) status.dataset.state = state;
    else delete status.dataset.state;
  }

  function offerWindow(url, prominent) {
    openLink.href = url;
    openLink.hidden = false;
    openLink.textContent = prominent ? `Open ${new URL(url).host} in a new window` : 'Open in new window';
    openLink.classList.toggle('button', prominent);
    openLink.classList.toggle('primary', prominent);
  }

  function hideFrame() {
    frame.hidden = true;
    frame.removeAttribute('src');
  }

  function frameIt(url, checked) {
    // No allow-top-navigation: a framed site cannot navigate the room away ("frame busting").
    // allow-same-origin keeps the (cross-origin) site's own cookies and storage working.
    frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox');
    frame.dataset.checked = String(checked);
    say('Loading…');
    frame.hidden = false;
    frame.src = url;
    timer = setTimeout(() => {
      say('The page did not load. Many sites (LinkedIn, Indeed, Google…) refuse to be shown inside other pages: use “Open in new window”.', 'error');
    }, LOAD_TIMEOUT_MS);
  }

  async function show(url) {
    clearTimeout(timer);
    const mine = ++generation;
    offerWindow(url, false);
    try { localStorage.setItem(STORE_KEY, url); } catch { /* ignore */ }
    if (new URL(url).origin === location.origin) {
      // Our own pages would run unsandboxed next to the call: open them in a window instead.
      hideFrame();
      offerWindow(url, true);
      say('Pages of this site open in a new window.', 'refused');
      return;
    }
    hideFrame();
    say('Checking the address…');
    const verdict = await checkAddress(url);
    if (mine !== generation) return;
    if (!verdict || verdict.problem === 'not_checked') {
      frameIt(url, false);
      return;
    }
    if (verdict.problem === 'refused') {
      offerWindow(url, true);
      say(verdict.message, 'refused');
      return;
    }
    if (verdict.problem) {
      say(verdict.message || 'The page could not be loaded.', 'error');
      return;
    }
    frameIt(url, true);
  }

  frame.addEventListener('load', () => {
    if (!frame.getAttribute('src')) return;
    clearTimeout(timer);
    say(frame.dataset.checked === 'true'
      ? 'Loaded. If the page looks wrong, use “Open in new window”.'
      : 'Loaded, unchecked. If you see an error or an empty box instead of the page, the site refuses to be shown here: use “Open in new window”.');
  });

  // One click opens a real window (not a tab) beside the room; the href stays for middle-click and keyboards.
  openLink.addEventListener('click', (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    const url = openLink.href;
    if (!/^https?:/.test(url)) return;
    e.preventDefault();
    window.open(url, '_blank', `${WINDOW_FEATURES},noopener,noreferrer`);
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const url = normalizeUrl(input.value);
    if (!url) {
      input.setAttribute('aria-invalid', 'true');
      say('Enter a web address such as https://example.com/jobs/123.', 'error');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    input.value = url;
    show(url);
  });

  let saved = null;
  try { saved = localStorage.getItem(STORE_KEY); } catch { /* ignore */ }
  if (saved) {
    input.value = saved;
    offerWindow(saved, false);
  }
  return { show };
}
