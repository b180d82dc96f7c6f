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


class LiveLimitReached(Exception):
    """The session's user already has ``live`` sessions up to their limit."""

    def __init__(self, live: int) -> None:
        super().__init__(f"{live} live sessions")
        self.live = live


# counted per user: assistant and mock sessions (a recruiter's candidates answer in sessions of the
# organisation's user, one attempt per candidate at a time, so those are not the user's own)
_COUNTED = "status = 'live' AND mode <> 'recorded_answer'"


async def live_session_count(db: Db, user_id: uuid.UUID, *, exclude: uuid.UUID | None = None) -> int:
    """The user's live sessions (recruiters' recorded answers apart), ``exclude`` not counted."""
    n = await db.fetchval(
        f"SELECT count(*) FROM sessions WHERE user_id = $1 AND {_COUNTED} AND id IS DISTINCT FROM $2",
        user_id,
        exclude,
    )
    return int(n or 0)


async def mark_live(
    db: Db, session_id: uuid.UUID, *, recording_path: str, media_node: str, max_live_per_user: int = 0
) -> LiveSession | None:
    """The first offer made it live; None when there is no such session or it has ended already.

    A session going live while its user already has ``max_live_per_user`` others live raises
    LiveLimitReached (0 = no limit). One user's sessions go live one at a time (an advisory lock
    per user), so simultaneous offers cannot all slip under the limit. A session already live (a
    reconnect, or a move from a dead node) always may.
    """
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await mark_live(
                conn, session_id, recording_path=recording_path, media_node=media_node, max_live_per_user=max_live_per_user
            )
    async with db.transaction():
        cur = await db.fetchrow("SELECT user_id, mode, status FROM sessions WHERE id = $1 FOR UPDATE", session_id)
        if cur is None or cur["status"] == "ended":
            return None
        if max_live_per_user > 0 and cur["status"] != "live" and cur["mode"] != "recorded_answer":
            await db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 1013))", cur["user_id"])
            live = await live_session_count(db, cur["user_id"], exclude=session_id)
            if live >= max_live_per_user:
                raise LiveLimitReached(live)
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
