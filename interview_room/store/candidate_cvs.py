"""Candidates' CVs (``candidate_cvs``): the uploaded text and the llm worker's reading of it.

The web process saves the text (candidate upload) and reads rows for the recruiter, always with
the organisation's id, so another organisation's candidate reads as no CV at all. The llm worker
(job ``cv_reading``) writes the reading under the key of the CV text and job description it read;
a reading of another key (a new CV, an edited job description) is stale and asked for again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class CandidateCv:
    candidate_id: uuid.UUID
    org_id: uuid.UUID
    filename: str
    text: str
    reading_key: str
    reading: dict[str, Any] | None
    provider: str
    uploaded_at: datetime
    read_at: datetime | None


_COLS = "candidate_id, org_id, filename, text, reading_key, reading, provider, uploaded_at, read_at"


def reading_key(text: str, job_description: str) -> str:
    h = hashlib.sha256()
    h.update(text.encode())
    h.update(b"\x1e")
    h.update(job_description.encode())
    return h.hexdigest()


def _row(r: asyncpg.Record) -> CandidateCv:
    return CandidateCv(**{k: r[k] for k in _COLS.split(", ")})


async def save_cv(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID, filename: str, text: str, key: str) -> None:
    """A new upload replaces the candidate's CV and drops its reading."""
    await db.execute(
        "INSERT INTO candidate_cvs (candidate_id, org_id, filename, text, reading_key) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (candidate_id) DO UPDATE SET filename = $3, text = $4, reading_key = $5, reading = NULL, "
        "provider = '', uploaded_at = now(), read_at = NULL",
        candidate_id,
        org_id,
        filename,
        text,
        key,
    )


async def get_cv(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID) -> CandidateCv | None:
    r = await db.fetchrow(
        f"SELECT {_COLS} FROM candidate_cvs WHERE org_id = $1 AND candidate_id = $2", org_id, candidate_id
    )
    return _row(r) if r else None


async def get_cv_for_worker(db: Db, candidate_id: uuid.UUID) -> CandidateCv | None:
    r = await db.fetchrow(f"SELECT {_COLS} FROM candidate_cvs WHERE candidate_id = $1", candidate_id)
    return _row(r) if r else None


async def set_reading_key(db: Db, candidate_id: uuid.UUID, key: str) -> None:
    """The job description changed: the stored reading is stale until the worker reads again."""
    await db.execute(
        "UPDATE candidate_cvs SET reading_key = $2 WHERE candidate_id = $1 AND reading_key <> $2", candidate_id, key
    )


async def save_reading(db: Db, candidate_id: uuid.UUID, key: str, provider: str, reading: dict[str, Any]) -> bool:
    """Store the reading if the CV and job description are still the ones read; False when they changed."""
    res = await db.execute(
        "UPDATE candidate_cvs SET reading = $3, provider = $4, read_at = now() "
        "WHERE candidate_id = $1 AND reading_key = $2",
        candidate_id,
        key,
        reading,
        provider,
    )
    return res.endswith(" 1")
