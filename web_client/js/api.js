// Same-origin JSON API client. The sign-in lives in the HttpOnly cookie the server sets (scripts cannot
// read it, so an injected script cannot steal it); this module keeps no token. Errors are ApiError
// carrying the server's {"error": {code, message, field?}}, 401 → login page.

// Earlier versions kept the token in localStorage: remove what they left there.
try { localStorage.removeItem('interview-room.token'); } catch { /* storage disabled */ }

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

const STATUS_TEXT = {
  400: 'The request was not accepted.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  409: 'That is not possible right now.',
  413: 'That is too large.',
  429: 'Too many requests. Please wait a moment and try again.',
  500: 'The server had a problem. Please try again.',
  502: 'The server is not reachable right now.',
  503: 'The service is not available right now.',
};

const ROOT = new URL('../', import.meta.url); // the site's root: the folder above js/

/** URL of the login page that brings the user back here afterwards (also from pages under recruit/). */
export function loginUrl() {
  const here = location.pathname.startsWith(ROOT.pathname) ? location.pathname.slice(ROOT.pathname.length) : '';
  const login = `${ROOT.pathname}index.html`;
  if (!here || here === 'index.html') return login;
  return `${login}?next=${encodeURIComponent(here + location.search + location.hash)}`;
}

/**
 * fetch() a JSON endpoint. Options: method, body (JSON), form (FormData), redirectOn401 (default true), signal.
 * Resolves to the parsed JSON (or null for 204); rejects with ApiError.
 */
export async function api(path, { method = 'GET', body, form, redirectOn401 = true, signal } = {}) {
  const headers = { Accept: 'application/json' };
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (res.status === 401 && redirectOn401) {
    location.assign(loginUrl());
    throw new ApiError(401, 'unauthorized', 'Your session has expired. Please log in again.');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = data && typeof data === 'object' ? data.error : null;
    throw new ApiError(
      res.status,
      e?.code || `http_${res.status}`,
      e?.message || STATUS_TEXT[res.status] || `The server answered ${res.status}.`,
      e?.field,
    );
  }
  return data ?? {};
}

/** Human message for any thrown value. */
export function errorMessage(err) {
  if (err instanceof ApiError) return err.message;
  if (err?.name === 'NotAllowedError') return 'Permission was denied.';
  return err?.message || String(err);
}
