// "Web page" side panel: address bar + iframe, with an always-present "Open in new window" link.
// Whether a cross-origin site refuses framing (X-Frame-Options / CSP frame-ancestors) cannot be
// detected reliably, so we explain it up front and warn again when the frame does not load in time.

const STORE_KEY = 'interview-room.webpage';
const LOAD_TIMEOUT_MS = 8000;

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

export function initWebPane({ form, input, frame, openLink, status }) {
  let timer = 0;

  function show(url) {
    clearTimeout(timer);
    openLink.href = url;
    openLink.hidden = false;
    if (new URL(url).origin === location.origin) {
      // Our own pages would run unsandboxed next to the call: open them in a window instead.
      status.textContent = 'Pages of this site open in a new window: use “Open in new window”.';
      return;
    }
    // No allow-top-navigation: a framed site cannot navigate the room away ("frame busting").
    // allow-same-origin keeps the (cross-origin) site's own cookies and storage working.
    frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox');
    status.textContent = 'Loading… If the page stays blank or shows an error, the site does not allow being shown here: use “Open in new window”.';
    frame.hidden = false;
    frame.src = url;
    timer = setTimeout(() => {
      status.textContent = 'The page did not load. Many sites (LinkedIn, Indeed, Google…) refuse to be shown inside other pages: use “Open in new window”.';
    }, LOAD_TIMEOUT_MS);
    try { localStorage.setItem(STORE_KEY, url); } catch { /* ignore */ }
  }

  frame.addEventListener('load', () => {
    if (!frame.getAttribute('src')) return;
    clearTimeout(timer);
    status.textContent = 'Loaded. If you see an error or an empty box instead of the page, the site refuses to be framed: use “Open in new window”.';
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const url = normalizeUrl(input.value);
    if (!url) {
      input.setAttribute('aria-invalid', 'true');
      status.textContent = 'Enter a web address such as https://example.com/jobs/123.';
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
    openLink.href = saved;
    openLink.hidden = false;
  }
  return { show };
}
