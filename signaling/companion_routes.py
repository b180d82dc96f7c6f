"""The companion (``interview-room listen``): pairing codes and its offer, a second peer of a session.

- ``POST /api/sessions/{id}/pairing`` (the owner, signed in): a code to type into the companion.
- ``POST /api/companion/claim`` ``{code}`` (no account: the code is the credential): a credential for
  that one session, ``X-Companion-Token``.
- ``POST /api/companion/offer`` ``{sdp, type}`` with that header: the computer's audio joins the live
  session as its ``interviewer`` track, on the node that holds the session (a second peer connection
  adds tracks; it does not replace the room's, and the session is billed once).
Codes and credentials never reach a log line (``signaling.pairing``).
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from interview_room.store import credits
from interview_room.store import sessions as store
from web.accounts import ratelimit
from web.accounts.auth import current_user
from web.common.context import Services, services
from web.common.errors import ApiError
from web.common.validation import parse, read_json
from web.sessions.owned import owned_session

from . import pairing
from .ice import ice_servers_for
from .offers import OFFER_SPEC, forward_offer

log = logging.getLogger("signaling.companion")

TOKEN_HEADER = "X-Companion-Token"
CLAIM_SPEC = {"code": lambda v: v}  # any JSON value: a malformed code is a wrong code (and counts)


def _claim_limit(svc: Services) -> ratelimit.Limit:
    return ratelimit.Limit("pairing:ip", svc.cfg.pairing_attempts_per_ip, max(60, svc.cfg.pairing_code_ttl_seconds))


def _create_limit(svc: Services) -> ratelimit.Limit:
    return ratelimit.Limit("pairing:user", svc.cfg.pairing_codes_per_user, max(60, svc.cfg.pairing_code_ttl_seconds))


def _check_pairable(s: store.Session) -> None:
    if s.status == "ended":
        raise ApiError(409, "session_ended", "This session has ended; start a new one")
    if s.mode != "assistant":
        raise ApiError(
            409, "companion_not_available", "Computer audio is for assistant sessions (the mock interviewer is the server)"
        )


async def create_pairing(request: web.Request) -> web.Response:
    svc = services(request)
    s = await owned_session(request)
    _check_pairable(s)
    await ratelimit.acquire(svc.redis, (_create_limit(svc), str(current_user(request).id)))
    ttl = svc.cfg.pairing_code_ttl_seconds
    code = await pairing.create_code(svc.redis, svc.secret, pairing.Grant(s.id, s.user_id), ttl)
    log.info("pairing code issued session=%s ttl=%d", s.id, ttl)  # never the code itself
    shown = pairing.display(code)
    return web.json_response(
        {
            "code": shown,
            "expires_in_seconds": ttl,
            "expires_at": int(time.time()) + ttl,
            "command": f"interview-room listen --server {svc.cfg.public_url or _own_url(request)} --code {shown}",
        },
        status=201,
    )


def _own_url(request: web.Request) -> str:
    cfg = services(request).cfg
    return f"http://{cfg.http_host}:{cfg.http_port}"


async def claim(request: web.Request) -> web.Response:
    svc = services(request)
    body = parse(await read_json(request), CLAIM_SPEC, required=("code",))
    limit = _claim_limit(svc)
    await ratelimit.acquire(svc.redis, (limit, ratelimit.client_ip(request, svc.cfg)))  # counted before checked
    code = pairing.normalize(body["code"])
    grant = await pairing.take_code(svc.redis, svc.secret, code) if code else None
    s = await store.get_session(svc.pool, grant.user_id, grant.session_id) if grant else None
    if grant is None or s is None:
        log.info("pairing claim refused")
        raise ApiError(404, "invalid_code", "That code is wrong, used or expired; show a new one in the room")
    _check_pairable(s)
    token = await pairing.issue_token(svc.redis, svc.secret, grant, svc.cfg.companion_token_ttl_seconds)
    log.info("pairing code claimed session=%s", s.id)
    return web.json_response(
        {
            "session_id": str(s.id),
            "title": s.title,
            "token": token,
            "expires_in_seconds": svc.cfg.companion_token_ttl_seconds,
            "ice_servers": ice_servers_for(svc.cfg, str(s.user_id)),
        }
    )


async def _grant_session(request: web.Request) -> tuple[pairing.Grant, store.Session]:
    svc = services(request)
    token = request.headers.get(TOKEN_HEADER)
    grant = await pairing.companion_grant(svc.redis, svc.secret, token)
    s = await store.get_session(svc.pool, grant.user_id, grant.session_id) if grant else None
    if grant is None or s is None:
        raise ApiError(401, "unauthorized", "The companion's credential is missing, expired or revoked; pair it again")
    if s.status == "ended":
        assert isinstance(token, str)
        await pairing.revoke_token(svc.redis, svc.secret, token)
        raise ApiError(409, "session_ended", "This session has ended")
    return grant, s


async def companion_session(request: web.Request) -> web.Response:
    _, s = await _grant_session(request)
    return web.json_response({"session_id": str(s.id), "title": s.title, "status": s.status})


async def companion_offer(request: web.Request) -> web.Response:
    svc = services(request)
    _, s = await _grant_session(request)
    body = parse(await read_json(request), {k: OFFER_SPEC[k] for k in ("sdp", "type")}, required=("sdp", "type"))
    if not await credits.has_credits(svc.pool, s.user_id):
        raise ApiError(402, "no_credits", "You have no interview time left; buy more to start a session")
    return await forward_offer(svc, s, body["sdp"], {}, peer="companion")


def setup(app: web.Application) -> None:
    app.router.add_post("/api/sessions/{id}/pairing", create_pairing)
    app.router.add_post("/api/companion/claim", claim)
    app.router.add_get("/api/companion/session", companion_session)
    app.router.add_post("/api/companion/offer", companion_offer)
