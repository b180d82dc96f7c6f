"""Sessions, scores and reports written straight into Postgres, as the workers would, for the analytics tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

BASE = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def add_session(
    pool: Any,
    user_id: str,
    day: int,
    answers: list[tuple[int, int, int, float]],
    *,
    title: str = "",
    status: str = "ended",
    mock: tuple[str, int, list[tuple[str, str]]] | None = None,
) -> str:
    """A session held on BASE + ``day`` days with scored answers (score, words, fillers, talk seconds).

    ``mock``: (mock_type, report score, [(category, status)] per answer) makes it a mock interview."""
    sid = uuid.uuid4()
    held = BASE + timedelta(days=day)
    await pool.execute(
        "INSERT INTO sessions (id, user_id, title, mode, status, created_at, started_at, ended_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $6, $6::timestamptz + interval '10 minutes')",
        sid,
        uuid.UUID(user_id),
        title or f"Session {day}",
        "mock" if mock else "assistant",
        status,
        held,
    )
    for i, (score, words, fillers, talk) in enumerate(answers):
        qid = f"q-{sid.hex[:8]}-{i}"
        await pool.execute(
            "INSERT INTO questions (id, session_id, text, lang) VALUES ($1, $2, $3, 'en')", qid, sid, f"Question {i}"
        )
        delivery = {"word_count": words, "filler_words": fillers, "talk_seconds": talk}
        await pool.execute(
            "INSERT INTO scores (question_id, session_id, score, rubric, feedback, delivery) "
            "VALUES ($1, $2, $3, $4, '', $5)",
            qid,
            sid,
            score,
            {"relevance": score},
            delivery,
        )
        if mock:
            category, qstatus = mock[2][i]
            await pool.execute(
                "INSERT INTO mock_questions (session_id, idx, question_id, text, category, time_allocation_s, source, "
                "status) VALUES ($1, $2, $3, $4, $5, 120, 'bank', $6)",
                sid,
                i + 1,
                qid,
                f"Question {i}",
                category,
                qstatus,
            )
    if mock:
        await pool.execute(
            "INSERT INTO reports (session_id, user_id, mock_type, overall_score, report) VALUES ($1, $2, $3, $4, $5)",
            sid,
            uuid.UUID(user_id),
            mock[0],
            mock[1],
            {"overall_score": mock[1], "version": 2},
        )
    return str(sid)
