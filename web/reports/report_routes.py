"""/api/sessions/{id}/report(.pdf): a mock interview's report, with the user's progress over time.

The llm worker builds the report when the session ends (``reports`` table); this adds, at read
time, the comparison with the user's earlier mock interviews of the same type, so a deleted
session drops out of the chart.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from interview_room.store import reports
from interview_room.store.sessions import Session
from web.common.context import services
from web.common.errors import ApiError
from web.common.serialize import iso
from web.sessions.owned import owned_session

from .report_pdf import render


def progress(history: list[dict[str, Any]], session_id: Any) -> dict[str, Any]:
    points = [
        {
            "session_id": str(h["session_id"]),
            "title": h["title"],
            "date": iso(h["held_at"]),
            "overall_score": int(h["overall_score"]),
            "current": h["session_id"] == session_id,
        }
        for h in history
    ]
    before = [p["overall_score"] for p in points if not p["current"]]
    current = next((p["overall_score"] for p in points if p["current"]), None)
    previous = before[-1] if before else None
    return {
        "history": points,
        "previous_score": previous,
        "change": current - previous if current is not None and previous is not None else None,
        "best_before": max(before) if before else None,
        "average_before": round(sum(before) / len(before), 1) if before else None,
        "count": len(points),
    }


async def load_report(request: web.Request) -> tuple[Session, dict[str, Any]]:
    svc = services(request)
    s = await owned_session(request)
    if s.mode != "mock":
        raise ApiError(404, "no_report", "Only mock interview sessions have a report")
    if s.status != "ended":
        raise ApiError(409, "session_not_ended", "The report is ready once the session has ended")
    report = await reports.get_report(svc.pool, s.user_id, s.id)
    if report is None:
        if not await reports.has_plan(svc.pool, s.id):
            raise ApiError(404, "no_report", "This mock interview never started, so it has no report")
        raise ApiError(409, "report_not_ready", "The report is being prepared; try again in a few seconds")
    created = report.pop("created_at")
    mock_type = str((report.get("interview") or {}).get("type") or "")
    report["progress"] = progress(await reports.report_history(svc.pool, s.user_id, mock_type, created), s.id)
    report["session"] = {
        "id": str(s.id),
        "title": s.title,
        "created_at": iso(s.created_at),
        "started_at": iso(s.started_at),
        "ended_at": iso(s.ended_at),
        "duration_seconds": round(float(s.media_seconds), 3),
    }
    report["generated_at"] = iso(created)
    report["pdf_url"] = f"/api/sessions/{s.id}/report.pdf"
    return s, report


async def get_report(request: web.Request) -> web.Response:
    _, report = await load_report(request)
    return web.json_response(report, headers={"Cache-Control": "private, no-cache"})


async def get_report_pdf(request: web.Request) -> web.Response:
    s, report = await load_report(request)
    pdf = await asyncio.to_thread(render, report, title=s.title or "Mock interview")  # CPU work off the loop
    day = (s.started_at or s.created_at).strftime("%Y-%m-%d")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"mock-interview-report-{day}.pdf")
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-cache"},
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/sessions/{id}/report", get_report)
    app.router.add_get("/api/sessions/{id}/report.pdf", get_report_pdf)
