"""GET/PUT /api/org/candidates/{candidate_id}/accommodations {extra_time_percent: 0..200} (issue 21.6):
extra think and answer time for one candidate (``accommodations.py``); members of the organisation."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from interview_room.store import accommodations as store
from web.common.context import services
from web.common.errors import ApiError, not_found
from web.common.validation import read_json

from .fields import parse_uuid
from .recruiter_routes import member_org

log = logging.getLogger("signaling.recruiting.accommodations")

routes = web.RouteTableDef()


def _json(pct: int) -> dict[str, Any]:
    return {"extra_time_percent": pct}


@routes.get("/api/org/candidates/{candidate_id}/accommodations")
async def get_accommodations(request: web.Request) -> web.Response:
    org = await member_org(request)
    cid = parse_uuid(request.match_info["candidate_id"], "candidate")
    pct = await store.extra_time(services(request).pool, org["id"], cid)
    if pct is None:
        raise not_found("No such candidate")
    return web.json_response(_json(pct))


@routes.put("/api/org/candidates/{candidate_id}/accommodations")
async def put_accommodations(request: web.Request) -> web.Response:
    org = await member_org(request)
    cid = parse_uuid(request.match_info["candidate_id"], "candidate")
    body = await read_json(request)
    pct = body.get("extra_time_percent")
    if isinstance(pct, bool) or not isinstance(pct, int) or not 0 <= pct <= store.MAX_EXTRA_PCT:
        raise ApiError(
            400,
            "validation_error",
            f"extra_time_percent must be a whole number from 0 to {store.MAX_EXTRA_PCT}",
            field="extra_time_percent",
        )
    if not await store.set_extra_time(services(request).pool, org["id"], cid, pct):
        raise not_found("No such candidate")
    log.info("accommodations set candidate=%s extra_time_pct=%d", cid, pct)
    return web.json_response(_json(pct))
