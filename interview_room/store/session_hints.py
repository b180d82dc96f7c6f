"""The hints a user typed for a session, read by the stt worker to bias the recognizer."""

from __future__ import annotations

import uuid

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


async def session_hints(db: Db, session_id: str) -> str | None:
    """The session's hints text ('' when none), or None when there is no such session."""
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        return None
    return await db.fetchval("SELECT hints FROM sessions WHERE id = $1", sid)
