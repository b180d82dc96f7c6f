"""Recruiting funnel per interview and organisation (issue 21.4): invited -> started -> completed ->
passed, completion time, and where candidates stop. Every query is scoped by ``org_id``; templates
and the practice question are left out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection

MAX_INTERVIEWS = 100

_COUNTS = (
    "count(c.id)::int AS invited, count(c.started_at)::int AS started, "
    "(count(*) FILTER (WHERE c.status = 'completed'))::int AS completed, "
    "(count(*) FILTER (WHERE c.decision = 'pass'))::int AS passed, "
    "(percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM c.completed_at - c.started_at)) "
    "FILTER (WHERE c.completed_at IS NOT NULL AND c.started_at IS NOT NULL))::float8 AS median_completion_s"
)


@dataclass(frozen=True)
class FunnelRow:
    interview_id: uuid.UUID | None  # None: the whole organisation
    title: str
    invited: int
    started: int
    completed: int
    passed: int
    median_completion_s: float | None


@dataclass(frozen=True)
class QuestionStep:
    index: int  # 0-based
    answered: int  # candidates with a finished answer to it
    dropped: int  # reached it (answered the one before, or started) without answering it, never completed


def _row(r: asyncpg.Record, interview_id: uuid.UUID | None, title: str) -> FunnelRow:
    return FunnelRow(
        interview_id,
        title,
        r["invited"],
        r["started"],
        r["completed"],
        r["passed"],
        r["median_completion_s"],
    )


async def org_funnel(db: Db, org_id: uuid.UUID) -> FunnelRow:
    r = await db.fetchrow(
        f"SELECT {_COUNTS} FROM candidates c JOIN interviews i ON i.id = c.interview_id "
        "WHERE c.org_id = $1 AND i.org_id = $1 AND NOT i.is_template",
        org_id,
    )
    return _row(r, None, "")


async def interview_funnels(db: Db, org_id: uuid.UUID, limit: int = MAX_INTERVIEWS) -> list[FunnelRow]:
    """The organisation's latest interviews, newest first."""
    rows = await db.fetch(
        f"SELECT i.id, i.title, {_COUNTS} FROM interviews i LEFT JOIN candidates c ON c.interview_id = i.id "
        "WHERE i.org_id = $1 AND NOT i.is_template GROUP BY i.id ORDER BY i.created_at DESC, i.id LIMIT $2",
        org_id,
        limit,
    )
    return [_row(r, r["id"], r["title"]) for r in rows]


async def interview_funnel(db: Db, org_id: uuid.UUID, interview_id: uuid.UUID) -> FunnelRow | None:
    r = await db.fetchrow(
        f"SELECT i.id, i.title, {_COUNTS} FROM interviews i LEFT JOIN candidates c ON c.interview_id = i.id "
        "WHERE i.org_id = $1 AND i.id = $2 GROUP BY i.id",
        org_id,
        interview_id,
    )
    return _row(r, r["id"], r["title"]) if r else None


async def question_steps(db: Db, org_id: uuid.UUID, interview_id: uuid.UUID) -> list[QuestionStep]:
    """Per question of the interview: how many answered it, how many stopped there for good."""
    n = await db.fetchval(
        "SELECT jsonb_array_length(questions) FROM interviews WHERE id = $1 AND org_id = $2", interview_id, org_id
    )
    rows = await db.fetch(
        "SELECT a.question_idx AS idx, count(DISTINCT a.candidate_id)::int AS answered, "
        "(count(DISTINCT a.candidate_id) FILTER (WHERE c.status <> 'completed'))::int AS open "
        "FROM candidate_answers a JOIN candidates c ON c.id = a.candidate_id "
        "WHERE c.interview_id = $1 AND c.org_id = $2 AND a.status = 'done' AND a.question_idx >= 0 GROUP BY 1",
        interview_id,
        org_id,
    )
    by_idx = {r["idx"]: r for r in rows}
    not_done = await db.fetchval(
        "SELECT count(*)::int FROM candidates WHERE interview_id = $1 AND org_id = $2 AND started_at IS NOT NULL "
        "AND status <> 'completed'",
        interview_id,
        org_id,
    )
    steps: list[QuestionStep] = []
    reached_open = not_done  # candidates not completed who reached this question
    for i in range(n or 0):
        r = by_idx.get(i)
        answered_open = r["open"] if r else 0
        steps.append(QuestionStep(i, r["answered"] if r else 0, max(0, reached_open - answered_open)))
        reached_open = answered_open
    return steps
