"""GET/PUT /api/org/webhook-events: which ATS webhook events the organisation takes (issue 21.7).

Any member reads them; only the owner changes them. candidate.completed is always taken.
"""

from __future__ import annotations

import logging

from aiohttp import web

from interview_room.store import webhook_events as events_store
from web.common.context import services
from web.common.errors import ApiError
from web.common.validation import read_json

from .ats_events import ALWAYS
from .recruiter_routes import member_org

log = logging.getLogger("signaling.recruiting.webhook_events")

routes = web.RouteTableDef()


@routes.get("/api/org/webhook-events")
async def get_events(request: web.Request) -> web.Response:
    org = await member_org(request)
    taken = await events_store.subscribed(services(request).pool, org["id"])
    return web.json_response({"events": sorted({ALWAYS, *taken}), "available": list(events_store.EVENTS)})


@routes.put("/api/org/webhook-events")
async def put_events(request: web.Request) -> web.Response:
    org = await member_org(request, owner=True)
    body = await read_json(request)
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ApiError(400, "validation_error", "events must be a list of event names", field="events")
    unknown = sorted(set(events) - set(events_store.EVENTS))
    if unknown:
        raise ApiError(
            400, "validation_error", f"unknown events: {', '.join(unknown)[:200]}", field="events", allowed=list(events_store.EVENTS)
        )
    taken = await events_store.set_subscribed(services(request).pool, org["id"], sorted({ALWAYS, *events}))
    log.info("webhook events set org=%s events=%s", org["id"], ",".join(taken))
    return web.json_response({"events": taken, "available": list(events_store.EVENTS)})
