"""What the media node writes about a session: it went live (where, recorded where), its media time.

Not scoped by user: the node is internal and acts on the session signaling placed on it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class LiveSession:
    id: uuid.UUID
    user_id: uuid.UUID
    mode: str
    listen_language: str
    answer_language: str
    hangover: str


async def mark_live(db: Db, session_id: uuid.UUID, *, recording_path: str, media_node: str) -> LiveSession | None:
    """The first offer made it live; None when there is no such session or it has ended already."""
    row = await db.fetchrow(
        "UPDATE sessions SET status = 'live', started_at = COALESCE(started_at, now()), "
        "recording_path = $2, media_node = $3 WHERE id = $1 AND status <> 'ended' "
        "RETURNING id, user_id, mode, listen_language, answer_language, hangover",
        session_id,
        recording_path,
        media_node,
    )
    return LiveSession(**dict(row)) if row else None


async def store_media_seconds(db: Db, session_id: uuid.UUID, media_seconds: float, *, mark_ended: bool) -> None:
    """Record the audio time received; ``mark_ended`` when the node ended the session by itself
    (peer gone, credits used up, node shutting down): otherwise signaling's /end marks it."""
    if mark_ended:
        await db.execute(
            "UPDATE sessions SET media_seconds = $2, status = 'ended', ended_at = COALESCE(ended_at, now()) WHERE id = $1",
            session_id,
            media_seconds,
        )
    else:
        await db.execute("UPDATE sessions SET media_seconds = $2 WHERE id = $1", session_id, media_seconds)


async def media_result(db: Db, session_id: uuid.UUID) -> tuple[float, str | None] | None:
    """(media_seconds, recording_path) as stored, for an /end of a session this node no longer holds."""
    row = await db.fetchrow("SELECT media_seconds, recording_path FROM sessions WHERE id = $1", session_id)
    return (float(row["media_seconds"]), row["recording_path"]) if row else None
