"""A user's analytics across their sessions (issue 20.6): score, delivery and mock progress trends.

One bounded window: the user's latest ``limit`` ended sessions. The session score is THE session
score of docs/scores.md (``sessions._AVG_SCORE``: the report's score of a mock, else the mean answer
score); delivery trends sum the measured ``delivery`` facts of the session's scored answers. Every
query is scoped by ``user_id``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from .sessions import _AVG_SCORE

Db = asyncpg.Pool | asyncpg.Connection

MAX_SESSIONS = 100
WEAK_TOPICS = 5

_RECENT = (
    "WITH recent AS (SELECT s.id, s.title, s.mode, COALESCE(s.started_at, s.created_at) AS held_at FROM sessions s "
    "WHERE s.user_id = $1 AND s.status = 'ended' ORDER BY s.created_at DESC, s.id DESC LIMIT $2) "
)


@dataclass(frozen=True)
class SessionPoint:
    """One session on the timelines."""

    session_id: uuid.UUID
    title: str
    mode: str
    held_at: datetime
    score: float | None  # docs/scores.md; None when nothing was scored
    answers: int  # scored answers
    words: int
    filler_words: int
    talk_seconds: float

    @property
    def fillers_per_100_words(self) -> float | None:
        return round(100.0 * self.filler_words / self.words, 1) if self.words else None

    @property
    def words_per_minute(self) -> float | None:
        return round(60.0 * self.words / self.talk_seconds, 1) if self.talk_seconds > 0 else None


@dataclass(frozen=True)
class TopicRow:
    """A mock question category with the mean of its counted question scores (unanswered count 0)."""

    topic: str
    mean_score: float
    questions: int


@dataclass(frozen=True)
class MockPoint:
    session_id: uuid.UUID
    mock_type: str
    held_at: datetime
    score: int


async def session_points(db: Db, user_id: uuid.UUID, limit: int) -> list[SessionPoint]:
    """The latest ``limit`` ended sessions, oldest first."""
    rows = await db.fetch(
        _RECENT + "SELECT s.id, s.title, s.mode, s.held_at, " + _AVG_SCORE + ", "
        "d.answers, d.words, d.fillers, d.talk FROM recent s CROSS JOIN LATERAL ("
        "SELECT count(*)::int AS answers, "
        "COALESCE(SUM((sc.delivery->>'word_count')::float8), 0)::int AS words, "
        "COALESCE(SUM((sc.delivery->>'filler_words')::float8), 0)::int AS fillers, "
        "COALESCE(SUM((sc.delivery->>'talk_seconds')::float8), 0) AS talk "
        "FROM scores sc WHERE sc.session_id = s.id) d ORDER BY s.held_at, s.id",
        user_id,
        min(limit, MAX_SESSIONS),
    )
    return [
        SessionPoint(
            session_id=r["id"],
            title=r["title"],
            mode=r["mode"],
            held_at=r["held_at"],
            score=r["average_score"],
            answers=r["answers"],
            words=r["words"],
            filler_words=r["fillers"],
            talk_seconds=float(r["talk"]),
        )
        for r in rows
    ]


async def weakest_topics(db: Db, user_id: uuid.UUID, limit: int) -> list[TopicRow]:
    """Mock question categories of the window, weakest first (the questions a report counts)."""
    rows = await db.fetch(
        _RECENT + "SELECT mq.category AS topic, AVG(COALESCE(sc.score, 0))::float8 AS mean, count(*)::int AS n "
        "FROM recent s JOIN mock_questions mq ON mq.session_id = s.id "
        "LEFT JOIN scores sc ON sc.question_id = mq.question_id AND sc.session_id = s.id "
        "WHERE mq.category <> '' AND mq.status IN ('answered', 'skipped', 'unanswered') "
        "GROUP BY mq.category ORDER BY mean, n DESC, mq.category LIMIT $3",
        user_id,
        min(limit, MAX_SESSIONS),
        WEAK_TOPICS,
    )
    return [TopicRow(topic=r["topic"], mean_score=round(r["mean"], 1), questions=r["n"]) for r in rows]


async def mock_progress(db: Db, user_id: uuid.UUID, limit: int) -> list[MockPoint]:
    """The window's mock reports, oldest first (the report's overall score is the session score)."""
    rows = await db.fetch(
        _RECENT + "SELECT r.session_id, r.mock_type, s.held_at, r.overall_score FROM recent s "
        "JOIN reports r ON r.session_id = s.id AND r.user_id = $1 ORDER BY s.held_at, s.id",
        user_id,
        min(limit, MAX_SESSIONS),
    )
    return [MockPoint(r["session_id"], r["mock_type"], r["held_at"], r["overall_score"]) for r in rows]
