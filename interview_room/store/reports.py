"""Mock interviews: the interviewer's plan and state (written by the llm worker) and the reports.

Why the state is a row with a ``step`` counter: the interviewer's turns are decided by whichever
llm worker holds the session's job or timer; ``advance`` is a compare-and-set on ``step``, so a
redelivered job or a second worker can never ask two questions for one turn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from interview_room.messages import Caption

Db = asyncpg.Pool | asyncpg.Connection


@dataclass
class PlannedQuestion:
    idx: int
    question_id: str
    text: str
    category: str
    key_points: list[str]
    follow_ups: list[str]
    time_allocation_s: int
    source: str  # bank | openai
    bank_id: str | None = None
    status: str = "pending"  # pending | asked | answered | skipped | unanswered
    asked_at: datetime | None = None
    finished_at: datetime | None = None
    repeats: int = 0
    follow_up_text: str | None = None
    caption_ids: list[str] = field(default_factory=list)


@dataclass
class MockState:
    session_id: str
    user_id: str
    mock_type: str
    difficulty: str
    provider: str
    total: int
    current: int = 0
    phase: str = "planned"  # planned | asking | answering | done
    follow_up: bool = False
    step: int = 0
    turn_started_at: datetime | None = None
    last_caption_at: datetime | None = None
    boundary_t: float | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    done_reason: str | None = None


_STATE_COLS = (
    "session_id, user_id, mock_type, difficulty, provider, total, current, phase, follow_up, step, turn_started_at, "
    "last_caption_at, boundary_t, started_at, ended_at, done_reason"
)
_Q_COLS = (
    "idx, question_id, text, category, key_points, follow_ups, time_allocation_s, source, bank_id, status, asked_at, "
    "finished_at, repeats, follow_up_text, caption_ids"
)


def _state(r: asyncpg.Record) -> MockState:
    d = dict(r)
    d["session_id"], d["user_id"] = str(d["session_id"]), str(d["user_id"])
    return MockState(**d)


def _question(r: asyncpg.Record) -> PlannedQuestion:
    d = dict(r)
    d["key_points"] = list(d["key_points"] or [])
    d["follow_ups"] = list(d["follow_ups"] or [])
    d["caption_ids"] = list(d["caption_ids"] or [])
    return PlannedQuestion(**d)


async def get_mock_config(db: Db, session_id: str) -> dict[str, Any] | None:
    """The set-up the user chose (``sessions.mock``)."""
    r = await db.fetchrow("SELECT mock FROM sessions WHERE id = $1", uuid.UUID(session_id))
    return r["mock"] if r and isinstance(r["mock"], dict) else None


async def create_plan(db: asyncpg.Pool, state: MockState, questions: list[PlannedQuestion]) -> bool:
    """Store the plan once; False when another worker stored one first (theirs stands)."""
    async with db.acquire() as conn, conn.transaction():
        status = await conn.execute(
            "INSERT INTO mock_sessions (session_id, user_id, mock_type, difficulty, provider, total) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id) DO NOTHING",
            uuid.UUID(state.session_id),
            uuid.UUID(state.user_id),
            state.mock_type,
            state.difficulty,
            state.provider,
            state.total,
        )
        if not status.endswith(" 1"):
            return False
        await conn.executemany(
            "INSERT INTO mock_questions (session_id, idx, question_id, text, category, key_points, follow_ups, "
            "time_allocation_s, source, bank_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
                (
                    uuid.UUID(state.session_id),
                    q.idx,
                    q.question_id,
                    q.text,
                    q.category,
                    q.key_points,
                    q.follow_ups,
                    q.time_allocation_s,
                    q.source,
                    q.bank_id,
                )
                for q in questions
            ],
        )
    return True



async def recent_bank_ids(db: Db, user_id: str, mock_type: str, sessions: int) -> list[str]:
    """The bank questions asked in the user's last ``sessions`` mock interviews of this type (not repeated soon)."""
    rows = await db.fetch(
        "SELECT q.bank_id FROM mock_questions q JOIN mock_sessions m ON m.session_id = q.session_id "
        "WHERE m.user_id = $1 AND m.mock_type = $2 AND q.bank_id IS NOT NULL AND q.status <> 'pending' "
        "AND m.session_id IN (SELECT session_id FROM mock_sessions WHERE user_id = $1 AND mock_type = $2 "
        "ORDER BY started_at DESC LIMIT $3)",
        user_id,
        mock_type,
        sessions,
    )
    return [r["bank_id"] for r in rows]


async def get_state(db: Db, session_id: str) -> MockState | None:
    r = await db.fetchrow(f"SELECT {_STATE_COLS} FROM mock_sessions WHERE session_id = $1", uuid.UUID(session_id))
    return _state(r) if r else None


async def list_planned(db: Db, session_id: str) -> list[PlannedQuestion]:
    rows = await db.fetch(f"SELECT {_Q_COLS} FROM mock_questions WHERE session_id = $1 ORDER BY idx", uuid.UUID(session_id))
    return [_question(r) for r in rows]


_STATE_FIELDS = ("current", "phase", "follow_up", "turn_started_at", "last_caption_at", "boundary_t", "ended_at", "done_reason")


async def advance(db: Db, session_id: str, expected_step: int, **changes: Any) -> MockState | None:
    """Apply ``changes`` and bump ``step`` if nobody else moved the interview since ``expected_step``."""
    bad = set(changes) - set(_STATE_FIELDS)
    if bad:
        raise ValueError(f"not state fields: {sorted(bad)}")
    sets = ", ".join(f"{k} = ${i + 3}" for i, k in enumerate(changes))
    r = await db.fetchrow(
        f"UPDATE mock_sessions SET step = step + 1{', ' + sets if sets else ''} "
        f"WHERE session_id = $1 AND step = $2 RETURNING {_STATE_COLS}",
        uuid.UUID(session_id),
        expected_step,
        *changes.values(),
    )
    return _state(r) if r else None


async def touch_caption(db: Db, session_id: str, at: datetime) -> None:
    """The candidate just said something (not a turn change: no ``step``)."""
    await db.execute(
        "UPDATE mock_sessions SET last_caption_at = $2, phase = CASE WHEN phase = 'asking' THEN 'answering' ELSE phase END "
        "WHERE session_id = $1 AND phase <> 'done'",
        uuid.UUID(session_id),
        at,
    )


async def update_question(db: Db, session_id: str, idx: int, **changes: Any) -> None:
    allowed = {"status", "asked_at", "finished_at", "follow_up_text"}
    if set(changes) - allowed:
        raise ValueError(f"not question fields: {sorted(set(changes) - allowed)}")
    sets = ", ".join(f"{k} = ${i + 3}" for i, k in enumerate(changes))
    await db.execute(
        f"UPDATE mock_questions SET {sets} WHERE session_id = $1 AND idx = $2", uuid.UUID(session_id), idx, *changes.values()
    )


async def bump_repeats(db: Db, session_id: str, idx: int) -> None:
    await db.execute(
        "UPDATE mock_questions SET repeats = repeats + 1 WHERE session_id = $1 AND idx = $2", uuid.UUID(session_id), idx
    )


async def add_answer_caption(db: Db, session_id: str, idx: int, caption_id: str) -> bool:
    """Attach a candidate caption to a question's answer; False if it was attached before (a redelivery)."""
    status = await db.execute(
        "UPDATE mock_questions SET caption_ids = array_append(caption_ids, $3) "
        "WHERE session_id = $1 AND idx = $2 AND NOT ($3 = ANY(caption_ids))",
        uuid.UUID(session_id),
        idx,
        caption_id,
    )
    return status.endswith(" 1")


async def captions_by_id(db: Db, ids: list[str]) -> list[Caption]:
    """Captions in time order (ids that no longer exist are left out)."""
    if not ids:
        return []
    rows = await db.fetch("SELECT id, role, t0, t1, text, lang FROM captions WHERE id = ANY($1::text[]) ORDER BY t0", ids)
    return [Caption(id=r["id"], role=r["role"], t0=r["t0"], t1=r["t1"], text=r["text"], lang=r["lang"]) for r in rows]


# ---- reports ----


async def save_report(db: Db, session_id: str, user_id: str, mock_type: str, report: dict[str, Any]) -> None:
    """Store (or replace: a report rebuilt after a redelivered session end) the session's report."""
    await db.execute(
        "INSERT INTO reports (session_id, user_id, mock_type, overall_score, report) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (session_id) DO UPDATE SET overall_score = EXCLUDED.overall_score, report = EXCLUDED.report, "
        "created_at = now()",
        uuid.UUID(session_id),
        uuid.UUID(user_id),
        mock_type,
        int(report["overall_score"]),
        report,
    )


async def get_report(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any] | None:
    """The report of one of the user's sessions (None: not built, or not theirs)."""
    r = await db.fetchrow(
        "SELECT report, created_at FROM reports WHERE session_id = $1 AND user_id = $2", session_id, user_id
    )
    return {**r["report"], "created_at": r["created_at"]} if r else None


async def report_history(db: Db, user_id: uuid.UUID, mock_type: str, until: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """The user's reports of one interview type up to ``until`` (inclusive), oldest first: the progress chart."""
    rows = await db.fetch(
        "SELECT r.session_id, r.overall_score, r.created_at, s.title, COALESCE(s.started_at, s.created_at) AS held_at "
        "FROM reports r JOIN sessions s ON s.id = r.session_id "
        "WHERE r.user_id = $1 AND r.mock_type = $2 AND r.created_at <= $3 ORDER BY r.created_at DESC LIMIT $4",
        user_id,
        mock_type,
        until,
        limit,
    )
    return [dict(r) for r in reversed(rows)]


async def has_plan(db: Db, session_id: uuid.UUID) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM mock_sessions WHERE session_id = $1", session_id))
