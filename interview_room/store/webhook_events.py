"""The state changes that queue an ATS webhook event (issue 21.7), each reported once.

Every function here is called inside the transaction that also queues the event
(``signaling/recruiting/ats_events.py``), and returns whether *this* call made the change: with
Postgres' READ COMMITTED re-check of the WHERE clause, two concurrent calls cannot both see it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection

EVENTS = ("candidate.started", "candidate.completed", "candidate.decided", "interview.closed")


async def subscribed(db: Db, org_id: uuid.UUID) -> list[str]:
    events = await db.fetchval("SELECT webhook_events FROM organisations WHERE id = $1", org_id)
    return list(events or [])


async def set_subscribed(db: Db, org_id: uuid.UUID, events: list[str]) -> list[str]:
    return list(
        await db.fetchval(
            "UPDATE organisations SET webhook_events = $2 WHERE id = $1 RETURNING webhook_events", org_id, events
        )
    )


async def mark_started(db: Db, candidate_id: uuid.UUID) -> datetime | None:
    """invited -> started (consent); the start time when this call made the change, else None."""
    return await db.fetchval(
        "UPDATE candidates SET consent_at = COALESCE(consent_at, now()), started_at = COALESCE(started_at, now()), "
        "status = 'started' WHERE id = $1 AND status = 'invited' RETURNING started_at",
        candidate_id,
    )


async def set_decision(
    db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID, decision: str | None, note: str, user_id: uuid.UUID
) -> bool:
    """The recruiter's decision and note; True when the decision itself changed (not only the note)."""
    changed = await db.fetchval(
        "UPDATE candidates SET decision = $3, decision_note = $4, decided_by = $5 "
        "WHERE id = $1 AND org_id = $2 AND decision IS DISTINCT FROM $3 RETURNING true",
        candidate_id,
        org_id,
        decision,
        note,
        user_id,
    )
    if not changed:
        await db.execute(
            "UPDATE candidates SET decision_note = $3, decided_by = $4 WHERE id = $1 AND org_id = $2",
            candidate_id,
            org_id,
            note,
            user_id,
        )
    return bool(changed)


@dataclass(frozen=True)
class ClosedInterview:
    id: uuid.UUID
    org_id: uuid.UUID
    title: str
    deadline: datetime
    invited: int
    started: int
    completed: int


async def claim_closed(db: Db, limit: int = 50) -> list[ClosedInterview]:
    """Interviews whose deadline passed and whose closing was not queued yet: marked queued now."""
    rows = await db.fetch(
        "WITH due AS (SELECT id FROM interviews WHERE deadline <= now() AND closed_event_at IS NULL "
        "AND NOT is_template ORDER BY deadline LIMIT $1 FOR UPDATE SKIP LOCKED) "
        "UPDATE interviews i SET closed_event_at = now() FROM due WHERE i.id = due.id "
        "RETURNING i.id, i.org_id, i.title, i.deadline, "
        "(SELECT count(*) FROM candidates c WHERE c.interview_id = i.id)::int AS invited, "
        "(SELECT count(*) FROM candidates c WHERE c.interview_id = i.id AND c.started_at IS NOT NULL)::int AS started, "
        "(SELECT count(*) FROM candidates c WHERE c.interview_id = i.id AND c.status = 'completed')::int AS completed",
        limit,
    )
    return [ClosedInterview(**dict(r)) for r in rows]
