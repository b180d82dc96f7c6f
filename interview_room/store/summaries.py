"""The after-session summary of a session (``session_summaries``): written by the llm worker, read by the page."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


async def save_summary(db: Db, session_id: str, provider: str, summary: dict[str, Any]) -> None:
    await db.execute(
        "INSERT INTO session_summaries (session_id, provider, summary) VALUES ($1, $2, $3) "
        "ON CONFLICT (session_id) DO UPDATE SET provider = $2, summary = $3, created_at = now()",
        uuid.UUID(session_id),
        provider,
        summary,
    )


async def get_summary(db: Db, session_id: uuid.UUID) -> dict[str, Any] | None:
    r = await db.fetchrow("SELECT provider, summary, created_at FROM session_summaries WHERE session_id = $1", session_id)
    return dict(r) if r else None
