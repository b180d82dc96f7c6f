"""GET /api/me/analytics: the signed-in user's trends across their latest sessions (issue 20.6).

Bounded (``?sessions=N``, 1..100, default 30) and scoped to the user; the SQL is in
``interview_room/store/analytics.py``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from interview_room.store import analytics
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import ApiError
from web.common.serialize import iso

DEFAULT_SESSIONS = 30


def window(request: web.Request) -> int:
    raw = request.query.get("sessions", str(DEFAULT_SESSIONS))
    if not raw.isdigit() or not 1 <= int(raw) <= analytics.MAX_SESSIONS:
        raise ApiError(
            400,
            "validation_error",
            f"sessions must be a whole number from 1 to {analytics.MAX_SESSIONS}",
            field="sessions",
        )
    return int(raw)


async def get_analytics(request: web.Request) -> web.Response:
    limit = window(request)
    pool, uid = services(request).pool, current_user(request).id
    points = await analytics.session_points(pool, uid, limit)
    topics = await analytics.weakest_topics(pool, uid, limit)
    mocks = await analytics.mock_progress(pool, uid, limit)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for m in mocks:
        by_type.setdefault(m.mock_type, []).append(
            {"session_id": str(m.session_id), "held_at": iso(m.held_at), "score": m.score}
        )
    return web.json_response(
        {
            "window": {"sessions": limit, "count": len(points)},
            "sessions": [
                {
                    "session_id": str(p.session_id),
                    "title": p.title,
                    "mode": p.mode,
                    "held_at": iso(p.held_at),
                    # THE session score (docs/scores.md), rounded as every other page shows it
                    "score": int(round(p.score)) if p.score is not None else None,
                    "scored_answers": p.answers,
                    "words": p.words,
                    "filler_words": p.filler_words,
                    "fillers_per_100_words": p.fillers_per_100_words,
                    "words_per_minute": p.words_per_minute,
                }
                for p in points
            ],
            "weakest_topics": [
                {"topic": t.topic, "mean_score": t.mean_score, "questions": t.questions} for t in topics
            ],
            "mock_progress": [{"mock_type": k, "points": v} for k, v in sorted(by_type.items())],
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/me/analytics", get_analytics)
