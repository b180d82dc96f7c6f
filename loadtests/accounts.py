"""Benchmarks register throwaway accounts; an account may start sessions once its e-mail address is
verified. A benchmark has no mailbox, so it marks the address verified in the database it was given
(``DATABASE_URL``), which is what entering the e-mailed code does."""

from __future__ import annotations

import os
import uuid

import asyncpg

from interview_room.store import users


async def verify(user_id: str, database_url: str | None = None) -> None:
    url = database_url or os.environ.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError("set DATABASE_URL to the stack's database: new accounts must be verified to start sessions")
    conn = await asyncpg.connect(url)
    try:
        await users.mark_email_verified(conn, uuid.UUID(user_id))
    finally:
        await conn.close()
