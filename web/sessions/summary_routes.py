"""GET /api/sessions/{id}/summary: the after-interview summary and thank-you draft (issue 19).

The llm worker writes it when the session ends (``interview_room/store/summaries.py``); until
then ``status`` says why there is none: the session is still ``live``, or the summary is being
``written``; ``none`` when the session had no questions to summarise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from interview_room.store import summaries
from web.common.context import services
from web.common.serialize import iso
from web.sessions.owned import owned_session

WRITING_S = 300  # after the end, how long a missing summary counts as being written


async def get_summary(request: web.Request) -> web.Response:
    s = await owned_session(request)
    row = await summaries.get_summary(services(request).pool, s.id)
    if row is not None:
        return web.json_response(
            {"status": "ready", "provider": row["provider"], "created_at": iso(row["created_at"]), **row["summary"]}
        )
    if s.status != "ended":
        status = "live"
    elif s.ended_at is not None and (datetime.now(UTC) - s.ended_at).total_seconds() < WRITING_S:
        status = "writing"
    else:
        status = "none"
    return web.json_response({"status": status})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/sessions/{id}/summary", get_summary)
