"""Candidate accommodations (issue 21.6): extra time per candidate, set by the organisation."""

from __future__ import annotations

import uuid

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection

MAX_EXTRA_PCT = 200


async def set_extra_time(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID, pct: int) -> bool:
    """False when the candidate is not the organisation's."""
    res = await db.execute(
        "UPDATE candidates SET extra_time_pct = $3 WHERE id = $1 AND org_id = $2", candidate_id, org_id, pct
    )
    return res.endswith(" 1")


async def extra_time(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID) -> int | None:
    return await db.fetchval(
        "SELECT extra_time_pct FROM candidates WHERE id = $1 AND org_id = $2", candidate_id, org_id
    )
