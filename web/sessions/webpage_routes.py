"""``GET /api/webpage/check?url=…``: whether the room's "Web page" panel can show an address (see webpage_check)."""

from __future__ import annotations

import logging

from aiohttp import web

from web.accounts import ratelimit
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import ApiError
from web.common.http_guard import own_origins

from .webpage_check import BadAddress, check_page, parse_address

log = logging.getLogger("signaling.webpage")

# each check holds an outgoing connection for up to TIMEOUT_S: a user gets a few a minute, not a scanner
CHECKS_PER_USER = ratelimit.Limit("webpage:user", 20, 60)


async def check(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    address = request.query.get("url", "")
    try:
        parse_address(address)
    except BadAddress as e:
        raise ApiError(400, "invalid_url", str(e), field="url") from e
    await ratelimit.acquire(svc.redis, (CHECKS_PER_USER, str(user.id)))
    result = await check_page(address, own_origins(request, svc.cfg), allow_private=svc.cfg.webpage_check_allow_private)
    log.info(
        "web page check user=%s problem=%s framing=%s status=%s", user.id, result.problem, result.framing, result.status
    )
    return web.json_response(result.json())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/webpage/check", check)
