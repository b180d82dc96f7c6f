"""Final captions of a session. The caption id is the segment id (``{session}:{role}:{seq}``), so a
segment transcribed twice (a crashed worker's entry claimed by another) is stored once."""

from __future__ import annotations

import uuid

import asyncpg

from interview_room.messages import Caption

Db = asyncpg.Pool | asyncpg.Connection


async def insert_caption(db: Db, caption: Caption, session_id: str, seq: int) -> bool:
    """Store a final caption; False when that id was already stored (the first text wins).

    Raises ``asyncpg.ForeignKeyViolationError`` when the session no longer exists.
    """
    status = await db.execute(
        """
        INSERT INTO captions (id, session_id, role, seq, t0, t1, text, lang)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (id) DO NOTHING
        """,
        caption.id,
        session_id,
        caption.role,
        seq,
        caption.t0,
        caption.t1,
        caption.text,
        caption.lang,
    )
    return status.endswith(" 1")


def _caption(row: asyncpg.Record) -> Caption:
    return Caption(id=row["id"], role=row["role"], t0=row["t0"], t1=row["t1"], text=row["text"], lang=row["lang"])


async def get_caption(db: Db, caption_id: str) -> Caption | None:
    row = await db.fetchrow("SELECT id, role, t0, t1, text, lang FROM captions WHERE id = $1", caption_id)
    return _caption(row) if row else None


async def list_captions(db: Db, session_id: str) -> list[Caption]:
    """A session's final captions in time order (ties by role, then sequence)."""
    rows = await db.fetch(
        "SELECT id, role, t0, t1, text, lang FROM captions WHERE session_id = $1 ORDER BY t0, role, seq",
        session_id,
    )
    return [_caption(r) for r in rows]


async def captions_of_sessions(db: Db, session_ids: list[uuid.UUID]) -> dict[str, list[Caption]]:
    """Several sessions' final captions in one query (a recruiter comparing many answers)."""
    rows = await db.fetch(
        "SELECT session_id, id, role, t0, t1, text, lang FROM captions WHERE session_id = ANY($1::uuid[]) "
        "ORDER BY session_id, t0, role, seq",
        session_ids,
    )
    out: dict[str, list[Caption]] = {str(sid): [] for sid in session_ids}
    for r in rows:
        out[str(r["session_id"])].append(_caption(r))
    return out


async def last_seqs(db: Db, session_id: str, below: int) -> dict[str, int]:
    """role -> the highest segment number stored for the session (numbers >= ``below`` are other
    series, e.g. the mock interviewer's spoken lines). Seeds segment numbering when Redis lost it."""
    rows = await db.fetch(
        "SELECT role, max(seq) AS seq FROM captions WHERE session_id = $1 AND seq < $2 GROUP BY role",
        session_id,
        below,
    )
    return {r["role"]: int(r["seq"]) for r in rows}
