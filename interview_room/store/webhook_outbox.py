"""The ATS webhook outbox (``webhook_outbox``, migrations/006_webhook_outbox.sql): rows written in the transaction
that completes a candidate, claimed by any replica's dispatcher (``FOR UPDATE SKIP LOCKED`` and a lease on
``next_attempt_at``), settled after each attempt. The attempts' log is ``recruiting.log_delivery``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class Claimed:
    """A due row claimed for one attempt, with the organisation's webhook URL and secret at this moment."""

    delivery_id: uuid.UUID
    org_id: uuid.UUID
    candidate_id: uuid.UUID | None
    event: str
    body: str
    attempts: int  # including the one just claimed
    round_start: int  # attempts before this backoff round (a retry asked by the owner starts a new one)
    webhook_url: str | None
    webhook_secret: str


@dataclass(frozen=True)
class Entry:
    """A row as the owner sees it (the retry route's answer)."""

    delivery_id: uuid.UUID
    event: str
    candidate_id: uuid.UUID | None
    state: str  # 'pending' | 'delivered' | 'failed'
    attempts: int
    next_attempt_at: datetime
    url: str
    last_error: str
    created_at: datetime
    updated_at: datetime


async def enqueue(
    db: Db, delivery_id: uuid.UUID, org_id: uuid.UUID, candidate_id: uuid.UUID, event: str, url: str, body: str
) -> None:
    await db.execute(
        "INSERT INTO webhook_outbox (delivery_id, org_id, candidate_id, event, url, body) VALUES ($1, $2, $3, $4, $5, $6)",
        delivery_id,
        org_id,
        candidate_id,
        event,
        url,
        body,
    )


async def next_due_in(db: Db) -> float | None:
    """Seconds until the earliest pending row is due (negative: overdue); None when none is pending."""
    return await db.fetchval(
        "SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - clock_timestamp())::float8 FROM webhook_outbox "
        "WHERE state = 'pending'"
    )


async def claim_due(db: Db, batch: int, lease_s: float) -> list[Claimed]:
    """Claim up to ``batch`` due rows (skipping those another replica holds) for ``lease_s`` seconds."""
    rows = await db.fetch(
        "WITH due AS (SELECT delivery_id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= now() "
        "ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
        "UPDATE webhook_outbox o SET attempts = o.attempts + 1, updated_at = now(), "
        "next_attempt_at = now() + make_interval(secs => $2) "
        "FROM due, organisations g WHERE o.delivery_id = due.delivery_id AND g.id = o.org_id "
        "RETURNING o.delivery_id, o.org_id, o.candidate_id, o.event, o.body, o.attempts, o.round_start, "
        "g.webhook_url, g.webhook_secret",
        batch,
        lease_s,
    )
    return [Claimed(**dict(r)) for r in rows]


async def hand_back(db: Db, delivery_id: uuid.UUID, attempt: int) -> None:
    """Undo a claim whose attempt never ran (shutting down): due again now, the attempt not counted."""
    await db.execute(
        "UPDATE webhook_outbox SET attempts = attempts - 1, next_attempt_at = now() "
        "WHERE delivery_id = $1 AND attempts = $2 AND state = 'pending'",
        delivery_id,
        attempt,
    )


async def settle(
    db: Db, delivery_id: uuid.UUID, attempt: int, state: str, url: str | None, error: str, retry_in_s: float
) -> None:
    """The outcome of ``attempt``: 'delivered', 'pending' (due again in ``retry_in_s``) or 'failed'."""
    await db.execute(
        "UPDATE webhook_outbox SET state = $3, url = $4, last_error = $5, updated_at = now(), "
        "next_attempt_at = now() + make_interval(secs => $6) WHERE delivery_id = $1 AND attempts = $2",
        delivery_id,
        attempt,
        state,
        url,
        error,
        retry_in_s,
    )


async def state_of(db: Db, delivery_id: uuid.UUID, org_id: uuid.UUID) -> str | None:
    return await db.fetchval("SELECT state FROM webhook_outbox WHERE delivery_id = $1 AND org_id = $2", delivery_id, org_id)


async def requeue_failed(db: Db, delivery_id: uuid.UUID, org_id: uuid.UUID) -> Entry | None:
    """A failed row pending again now, in a new backoff round; None when it is not failed (any more)."""
    row = await db.fetchrow(
        "UPDATE webhook_outbox SET state = 'pending', round_start = attempts, next_attempt_at = now(), "
        "last_error = '', updated_at = now() WHERE delivery_id = $1 AND org_id = $2 AND state = 'failed' "
        "RETURNING delivery_id, event, candidate_id, state, attempts, next_attempt_at, url, last_error, created_at, "
        "updated_at",
        delivery_id,
        org_id,
    )
    return Entry(**dict(row)) if row is not None else None
