"""Pause markers: the spans of a session's clock during which the candidate paused listening.

While paused nothing is captioned, billed or recorded (the recording holds silence there); these rows
say where, so the transcript and the playback can show the gap for what it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class Pause:
    t0: float
    t1: float | None  # None: the pause had not ended when the session did (a node died)

    def to_json(self) -> dict[str, float | None]:
        return {"t0": self.t0, "t1": self.t1}


async def start_pause(db: Db, session_id: uuid.UUID, t0: float) -> int | None:
    """A pause begins at session time ``t0``; returns the marker's id (None when the session is gone)."""
    try:
        return await db.fetchval(
            "INSERT INTO session_pauses (session_id, t0) VALUES ($1, $2) RETURNING id", session_id, t0
        )
    except asyncpg.ForeignKeyViolationError:
        return None


async def end_pause(db: Db, pause_id: int, t1: float) -> None:
    await db.execute("UPDATE session_pauses SET t1 = $2 WHERE id = $1 AND t1 IS NULL", pause_id, t1)


async def pauses(db: Db, session_id: uuid.UUID) -> list[Pause]:
    rows = await db.fetch("SELECT t0, t1 FROM session_pauses WHERE session_id = $1 ORDER BY t0, id", session_id)
    return [Pause(t0=r["t0"], t1=r["t1"]) for r in rows]
