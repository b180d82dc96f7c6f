"""Stored AI scores of recruiter-reviewed answers (``answer_scores``), one row per answer session.

The llm worker writes them (job kind ``answer_score``) and announces each write on the Redis
channel ``CHANNEL``; the web process reads them. A row is keyed by ``captions_key`` of the
captions it read, so a late caption makes it stale and the answer is scored again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from interview_room.messages import Caption

Db = asyncpg.Pool | asyncpg.Connection

CHANNEL = "answer_scores"  # pub/sub: {"session_id", "captions_key", "score"} after each write


@dataclass(frozen=True)
class StoredScore:
    session_id: uuid.UUID
    captions_key: str
    provider: str  # the worker's provider ('offline' | 'openai' | ...)
    score: dict[str, Any] | None  # None: nothing was said; {"pending": true, ...}: a model is still scoring


def captions_key(captions: list[Caption]) -> str:
    """Changes whenever the answer's captions do (a late caption, a corrected text)."""
    h = hashlib.sha256()
    for c in captions:
        h.update(f"{c.id}\x1f{c.role}\x1f{c.text}\x1e".encode())
    return f"{len(captions)}:{h.hexdigest()[:32]}"


def _row(r: asyncpg.Record) -> StoredScore:
    return StoredScore(r["session_id"], r["captions_key"], r["provider"], r["score"])


async def stored_scores(db: Db, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, StoredScore]:
    rows = await db.fetch(
        "SELECT session_id, captions_key, provider, score FROM answer_scores WHERE session_id = ANY($1::uuid[])",
        session_ids,
    )
    return {r["session_id"]: _row(r) for r in rows}


async def get_score(db: Db, session_id: uuid.UUID) -> StoredScore | None:
    r = await db.fetchrow(
        "SELECT session_id, captions_key, provider, score FROM answer_scores WHERE session_id = $1", session_id
    )
    return _row(r) if r else None


async def save_score(db: Db, session_id: uuid.UUID, key: str, provider: str, score: dict[str, Any] | None) -> None:
    await db.execute(
        "INSERT INTO answer_scores (session_id, captions_key, provider, score) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (session_id) DO UPDATE SET captions_key = $2, provider = $3, score = $4, created_at = now()",
        session_id,
        key,
        provider,
        score,
    )
