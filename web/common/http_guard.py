"""Browser hardening: JSON-only API bodies, same-origin checks for cookie-authenticated changes, and
the security headers every response carries.

Cross-site request forgery: a page on another site can make the browser send our ``ir_token`` cookie
(SameSite=Lax stops it for sub-requests in current browsers, not in every browser), but it cannot set an
``Authorization`` header or a JSON content type without a CORS preflight we never grant. So:

- a request with a body must be ``application/json`` (415 otherwise), except the few upload routes
  that take a file and the payment gateways' webhooks (they post their own content types);
- a state-changing request authenticated by the cookie (no ``Authorization`` header) must come from
  our own origin: ``Origin`` equal to this site, or, without an ``Origin``, ``Sec-Fetch-Site:
  same-origin`` (403 otherwise). Bearer-token calls (API clients) need neither.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from aiohttp import web

from interview_room.config import Config
from web.accounts.auth import COOKIE

from .context import services
from .errors import ApiError, Handler

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON = frozenset({"application/json"})
# signed by the gateway (Stripe, PayPal): their own content types, no Origin, no cookie
WEBHOOK_PREFIX = "/api/webhooks/"
# the routes that take a file instead of JSON, and the types they take
UPLOADS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"/api/resume/extract"), frozenset({"multipart/form-data"})),
    (re.compile(r"/api/c/cv"), frozenset({"multipart/form-data"})),
    (re.compile(r"/api/org/interviews/[^/]+/candidates/csv"), frozenset({"text/csv", "text/plain"})),
)

# The web client: ES modules and stylesheets from this site only, nothing inline.
_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-src {frames}; frame-ancestors 'none'"
)
PAGE_CSP = _PAGE_CSP.format(frames="'none'")
# the live room's "Web page" panel shows the job posting the user types in (sandboxed iframe); this is
# about what a page may frame. No page of ours may be framed by anyone (frame-ancestors 'none'), c.html
# included: candidates open their link in a tab of its own, and a framed recording page could be used
# to trick them into consenting (clickjacking); embedding in an ATS is not offered.
FRAMING_PAGES = {"/room": _PAGE_CSP.format(frames="http: https:")}
# API answers are data; the one HTML answer (a payment receipt) has an inline stylesheet and no script
API_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def allowed_body_types(path: str) -> frozenset[str] | None:
    """The content types a body may have on ``path``; None = any (webhooks)."""
    if path.startswith(WEBHOOK_PREFIX):
        return None
    for pattern, types in UPLOADS:
        if pattern.fullmatch(path):
            return types | JSON  # the route's own check then names what it wants
    return JSON


def own_origins(request: web.Request, cfg: Config) -> set[str]:
    """This site as browsers name it: the Host the request came to (either scheme), and PUBLIC_URL."""
    host = request.host.lower()
    origins = {f"http://{host}", f"https://{host}"}
    if cfg.public_url:
        u = urlsplit(cfg.public_url)
        if u.scheme and u.netloc:
            origins.add(f"{u.scheme}://{u.netloc}".lower())
    return origins


def same_origin(request: web.Request, cfg: Config) -> bool:
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip().lower().rstrip("/") in own_origins(request, cfg)
    return request.headers.get("Sec-Fetch-Site", "").lower() == "same-origin"


def _cookie_authenticated(request: web.Request) -> bool:
    return "Authorization" not in request.headers and COOKIE in request.cookies


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if not _is_api(path):
        return await handler(request)
    types = allowed_body_types(path)
    if types is not None and request.body_exists and request.content_type not in types:
        names = " or ".join(sorted(types))
        raise ApiError(415, "unsupported_media_type", f"Send the body as {names}")
    if (
        request.method not in SAFE_METHODS
        and not path.startswith(WEBHOOK_PREFIX)
        and _cookie_authenticated(request)
        and not same_origin(request, services(request).cfg)
    ):
        raise ApiError(
            403,
            "cross_site_request",
            "Refused: a request signed in by the cookie must come from this site's own pages "
            "(API clients send the Authorization header)",
        )
    return await handler(request)


def _https(request: web.Request, cfg: Config) -> bool:
    return request.secure or cfg.public_url.lower().startswith("https://")


def security_headers(path: str, https: bool) -> dict[str, str]:
    """What every response carries (a handler's own value of a header wins)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",  # candidate links carry their token: never sent to other sites
        "Content-Security-Policy": API_CSP if _is_api(path) else FRAMING_PAGES.get(path.removesuffix(".html"), PAGE_CSP),
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def setup(app: web.Application, cfg: Config) -> None:
    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in security_headers(request.path, _https(request, cfg)).items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(add_headers)
