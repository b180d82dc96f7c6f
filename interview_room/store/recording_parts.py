"""The files a session's recording is made of, each placed on the session clock.

Why a table: a session whose media node dies goes on on another node, which cannot append to the
dead node's file. Each node records its stretch into a new file and says here where that stretch
starts on the session clock, so the next node continues the clock and playback can join the parts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class RecordingPart:
    part: int
    path: str
    offset_s: float


async def add_part(
    db: Db, session_id: uuid.UUID, *, path: str, offset_s: float, started_wall: float, media_node: str | None
) -> int | None:
    """Register a part that started recording at ``started_wall`` (unix time); returns its number
    (None when that path is registered already or the session is gone)."""
    try:
        return await db.fetchval(
            "INSERT INTO recording_parts (session_id, part, path, offset_s, started_at, media_node) "
            "SELECT $1, COALESCE(MAX(part), 0) + 1, $2, $3, $4, $5 FROM recording_parts WHERE session_id = $1 "
            "ON CONFLICT DO NOTHING RETURNING part",
            session_id,
            path,
            offset_s,
            datetime.fromtimestamp(started_wall, UTC),
            media_node,
        )
    except asyncpg.ForeignKeyViolationError:
        return None


async def media_origin(db: Db, session_id: uuid.UUID) -> float | None:
    """Unix time of the session's t = 0, as its first recorded part says; None before any part."""
    row = await db.fetchrow(
        "SELECT EXTRACT(EPOCH FROM started_at)::float8 - offset_s AS origin FROM recording_parts "
        "WHERE session_id = $1 ORDER BY part LIMIT 1",
        session_id,
    )
    return float(row["origin"]) if row else None


async def list_parts(db: Db, session_id: uuid.UUID) -> list[RecordingPart]:
    """Every registered part, in session-clock order."""
    rows = await db.fetch(
        "SELECT part, path, offset_s FROM recording_parts WHERE session_id = $1 ORDER BY offset_s, part", session_id
    )
    return [RecordingPart(part=r["part"], path=r["path"], offset_s=float(r["offset_s"])) for r in rows]
