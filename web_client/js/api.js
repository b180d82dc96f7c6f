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
 * The one JSON fetch the pages share. Options: method, body (JSON), form (FormData), text (a raw body sent
 * as `type`), headers (extra), credentials (default same-origin), cache, referrerPolicy, signal, on401 (called before a 401
 * is thrown), blob (resolve to the body as a Blob: recordings). Resolves to the parsed JSON (null for 204, {} for an empty or non-JSON body); rejects with ApiError.
 */
export async function request(path, {
  method = 'GET', body, form, text, type = 'text/plain', headers: extra, credentials = 'same-origin', cache, referrerPolicy, signal, on401, blob = false,
} = {}) {
  const headers = { Accept: 'application/json', ...extra };
  let payload;
  if (form) payload = form;
  else if (text !== undefined) {
    headers['Content-Type'] = type;
    payload = text;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials, cache, referrerPolicy, signal });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (res.status === 401 && on401) {
    on401();
    throw new ApiError(401, 'unauthorized', 'Your session has expired. Please log in again.');
  }
  if (res.status === 204) return null;
  if (blob && res.ok) return res.blob();
  const raw = await res.text();
  let data = null;
  if (raw) {
    try { data = JSON.parse(raw); } catch { data = null; }
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

/**
 * fetch() a JSON endpoint of the signed-in site. Options as request(), plus redirectOn401 (default true:
 * 401 → the log-in page, which brings the user back). Resolves to the parsed JSON (or null for 204).
 */
export async function api(path, { redirectOn401 = true, ...opts } = {}) {
  return request(path, { ...opts, on401: redirectOn401 ? () => location.assign(loginUrl()) : undefined });
}

/** Human message for any thrown value. */
export function errorMessage(err) {
  if (err instanceof ApiError) return err.message;
  if (err?.name === 'NotAllowedError') return 'Permission was denied.';
  return err?.message || String(err);
}
