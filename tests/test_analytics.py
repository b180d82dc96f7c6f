"""GET /api/me/analytics (issue 20.6) through the real HTTP API on the embedded Postgres: the session
score of docs/scores.md over time, filler and pace trends, weakest topics, mock progress per type;
bounded, and scoped to the signed-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from analytics_fixtures import add_session
from conftest import Infra
from recruit_fixtures import Api, recruit_api


@pytest_asyncio.fixture(loop_scope="session")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra, llm_worker=False) as a:
        yield a


async def _user(api: Api) -> tuple[str, str]:
    token = await api.recruiter(None)
    st, me = await api.call("GET", "/api/me", token)
    assert st == 200
    return token, me["user"]["id"]


async def test_trends_topics_and_mock_progress(api: Api) -> None:
    token, uid = await _user(api)
    # day 1: a live session, two answers (mean 60), 200 words, 10 fillers, 100 s of talk
    s1 = await add_session(api.pool, uid, 1, [(50, 120, 6, 60.0), (70, 80, 4, 40.0)])
    # day 2: a behavioural mock; the report's score (40) is the session score, not the answers' mean (55)
    s2 = await add_session(
        api.pool, uid, 2, [(80, 150, 3, 60.0), (30, 50, 2, 30.0)],
        mock=("behavioral", 40, [("teamwork", "answered"), ("conflict", "answered")]),
    )
    # day 3: a technical mock; its unanswered question counts 0 for its topic
    s3 = await add_session(
        api.pool, uid, 3, [(90, 300, 0, 120.0), (10, 0, 0, 0.0)],
        mock=("technical", 45, [("teamwork", "answered"), ("system design", "unanswered")]),
    )
    await add_session(api.pool, uid, 4, [(99, 10, 0, 5.0)], status="live")  # not ended: not counted
    st, body = await api.call("GET", "/api/me/analytics", token)
    assert st == 200, body
    assert body["window"] == {"sessions": 30, "count": 3}
    assert [p["session_id"] for p in body["sessions"]] == [s1, s2, s3]
    assert [p["score"] for p in body["sessions"]] == [60, 40, 45]
    # the session list badge shows the same numbers (docs/scores.md: one score per session)
    st, listed = await api.call("GET", "/api/sessions", token)
    badges = {s["id"]: s["score"] for s in listed["sessions"]}
    assert [badges[s] for s in (s1, s2, s3)] == [60, 40, 45]
    assert [p["fillers_per_100_words"] for p in body["sessions"]] == [5.0, 2.5, 0.0]
    assert [p["words_per_minute"] for p in body["sessions"]] == [120.0, 133.3, 150.0]
    assert [(t["topic"], t["mean_score"], t["questions"]) for t in body["weakest_topics"]] == [
        ("system design", 10.0, 1),
        ("conflict", 30.0, 1),
        ("teamwork", 85.0, 2),
    ]
    assert body["mock_progress"] == [
        {"mock_type": "behavioral", "points": [{"session_id": s2, "held_at": "2026-11-03T10:00:00.000Z", "score": 40}]},
        {"mock_type": "technical", "points": [{"session_id": s3, "held_at": "2026-11-04T10:00:00.000Z", "score": 45}]},
    ]


async def test_window_is_bounded_to_the_latest_sessions(api: Api) -> None:
    token, uid = await _user(api)
    ids = [await add_session(api.pool, uid, d, [(d * 10, 100, 1, 60.0)]) for d in range(1, 6)]
    st, body = await api.call("GET", "/api/me/analytics?sessions=2", token)
    assert st == 200 and body["window"] == {"sessions": 2, "count": 2}
    assert [p["session_id"] for p in body["sessions"]] == ids[-2:]
    for bad in ("0", "101", "-1", "two", "1.5"):
        st, err = await api.call("GET", f"/api/me/analytics?sessions={bad}", token)
        assert st == 400 and err["error"]["code"] == "validation_error" and err["error"]["field"] == "sessions"


async def test_another_user_sees_none_of_it(api: Api) -> None:
    token, uid = await _user(api)
    await add_session(api.pool, uid, 1, [(70, 100, 5, 60.0)], mock=("technical", 70, [("sql", "answered")]))
    other, _ = await _user(api)
    st, body = await api.call("GET", "/api/me/analytics", other)
    assert st == 200
    assert body == {"window": {"sessions": 30, "count": 0}, "sessions": [], "weakest_topics": [], "mock_progress": []}
    st, body = await api.call("GET", "/api/me/analytics")
    assert st == 401
