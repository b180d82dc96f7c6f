"""Funnel analytics for recruiters (issue 21.4): GET /api/org/funnel (the organisation and each of its
latest interviews) and GET /api/org/interviews/{interview_id}/funnel (one interview with its drop-off
per question). Members of the organisation only; SQL in ``interview_room/store/funnel.py``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from interview_room.store import funnel
from web.common.context import services
from web.common.errors import not_found

from .fields import parse_uuid
from .recruiter_routes import member_org

routes = web.RouteTableDef()


def _json(f: funnel.FunnelRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "invited": f.invited,
        "started": f.started,
        "completed": f.completed,
        "passed": f.passed,
        "median_completion_seconds": round(f.median_completion_s) if f.median_completion_s is not None else None,
    }
    if f.interview_id is not None:
        out = {"interview_id": str(f.interview_id), "title": f.title, **out}
    return out


@routes.get("/api/org/funnel")
async def org_funnel(request: web.Request) -> web.Response:
    org = await member_org(request)
    pool = services(request).pool
    total = await funnel.org_funnel(pool, org["id"])
    rows = await funnel.interview_funnels(pool, org["id"])
    return web.json_response({"organisation": _json(total), "interviews": [_json(r) for r in rows]})


@routes.get("/api/org/interviews/{interview_id}/funnel")
async def interview_funnel(request: web.Request) -> web.Response:
    org = await member_org(request)
    iid = parse_uuid(request.match_info["interview_id"], "interview")
    pool = services(request).pool
    row = await funnel.interview_funnel(pool, org["id"], iid)
    if row is None:
        raise not_found("No such interview")
    steps = await funnel.question_steps(pool, org["id"], iid)
    return web.json_response(
        {
            **_json(row),
            "questions": [{"index": s.index, "answered": s.answered, "dropped": s.dropped} for s in steps],
        }
    )
