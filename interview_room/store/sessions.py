"""Sessions as their owner sees them: create, list, detail, end, delete.

Every query is scoped by ``user_id``: another user's session id behaves exactly like an unknown
one. The detail view reads the tables the workers write (captions, questions, answers,
translations, scores) read-only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection

_COLS = (
    "s.id, s.user_id, s.title, s.mode, s.listen_language, s.answer_language, s.hints, s.instructions, "
    "s.resume_text, s.hangover, s.mock, s.status, s.media_node, s.created_at, s.started_at, s.ended_at, "
    "s.media_seconds, s.recording_path"
)
# debits are negative ledger rows; shown as the positive number of seconds used
_CREDITS = (
    "COALESCE((SELECT SUM(ABS(l.seconds)) FROM credit_ledger l "
    "WHERE l.session_id = s.id AND l.user_id = s.user_id AND l.kind = 'debit'), 0) AS credits_seconds"
)
# THE session score (docs/scores.md): a mock interview's report score (the mean of its question
# scores, unanswered ones counting 0) once the report exists, else the mean of the answer scores
_AVG_SCORE = (
    "COALESCE((SELECT r.overall_score::float8 FROM reports r WHERE r.session_id = s.id), "
    "(SELECT AVG(sc.score)::float8 FROM scores sc WHERE sc.session_id = s.id)) AS average_score"
)
# a mock interview's report score (reports: migrations/004_mock.sql)
_REPORT_SCORE = "(SELECT r.overall_score FROM reports r WHERE r.session_id = s.id) AS report_score"


@dataclass
class Session:
    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    mode: str
    listen_language: str
    answer_language: str
    hints: str
    instructions: str
    resume_text: str
    hangover: str
    mock: dict[str, Any] | None
    status: str
    media_node: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    media_seconds: float
    recording_path: str | None
    credits_seconds: float = 0.0
    average_score: float | None = None
    report_score: int | None = None

    @classmethod
    def from_record(cls, r: asyncpg.Record) -> Session:
        keys = set(r.keys())
        return cls(**{k: r[k] for k in cls.__dataclass_fields__ if k in keys})


@dataclass
class CaptionRow:
    id: str
    role: str
    t0: float
    t1: float
    text: str
    lang: str


@dataclass
class QuestionRow:
    id: str
    text: str
    lang: str
    caption_ids: list[str]
    t0: float | None
    source: str
    answer: dict[str, Any] | None
    score: dict[str, Any] | None


@dataclass
class TranslationRow:
    ref: str
    lang: str
    text: str


@dataclass
class SessionDetail:
    session: Session
    transcript: list[CaptionRow] = field(default_factory=list)
    questions: list[QuestionRow] = field(default_factory=list)
    translations: list[TranslationRow] = field(default_factory=list)


def parse_id(value: str) -> uuid.UUID | None:
    """A session id from a URL; None for anything that is not a UUID (answered like an unknown id)."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


async def create_session(db: Db, user_id: uuid.UUID, values: dict[str, Any]) -> Session:
    cols = ("title", "mode", "listen_language", "answer_language", "hints", "instructions", "resume_text", "hangover", "mock")
    r = await db.fetchrow(
        f"INSERT INTO sessions AS s (id, user_id, {', '.join(cols)}) "
        f"VALUES ($1, $2, {', '.join(f'${i + 3}' for i in range(len(cols)))}) RETURNING {_COLS}",
        uuid.uuid4(),
        user_id,
        *(values.get(c) for c in cols),
    )
    assert r is not None
    return Session.from_record(r)


async def get_session(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> Session | None:
    r = await db.fetchrow(
        f"SELECT {_COLS}, {_CREDITS}, {_AVG_SCORE}, {_REPORT_SCORE} FROM sessions s WHERE s.id = $1 AND s.user_id = $2",
        session_id,
        user_id,
    )
    return Session.from_record(r) if r is not None else None


async def list_sessions(
    db: Db, user_id: uuid.UUID, limit: int, before: tuple[datetime, uuid.UUID] | None = None
) -> tuple[list[Session], tuple[datetime, uuid.UUID] | None]:
    """Newest first, keyset-paginated; returns the page and the key to continue from (or None).

    Candidates' recorded answers (mode ``recorded_answer``) are sessions of the organisation owner
    for billing and the pipeline, but they belong to the recruiting pages, not to this history.
    """
    b_at, b_id = before if before else (None, None)
    rows = await db.fetch(
        f"SELECT {_COLS}, {_CREDITS}, {_AVG_SCORE}, {_REPORT_SCORE} FROM sessions s WHERE s.user_id = $1 "
        "AND s.mode <> 'recorded_answer' "
        "AND ($2::timestamptz IS NULL OR (s.created_at, s.id) < ($2::timestamptz, $3::uuid)) "
        "ORDER BY s.created_at DESC, s.id DESC LIMIT $4",
        user_id,
        b_at,
        b_id,
        limit + 1,
    )
    page = [Session.from_record(r) for r in rows[:limit]]
    nxt = (page[-1].created_at, page[-1].id) if len(rows) > limit and page else None
    return page, nxt


async def session_detail(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> SessionDetail | None:
    s = await get_session(db, user_id, session_id)
    if s is None:
        return None
    captions = await db.fetch(
        "SELECT c.id, c.role, c.t0, c.t1, c.text, c.lang FROM captions c JOIN sessions s ON s.id = c.session_id "
        "WHERE c.session_id = $1 AND s.user_id = $2 ORDER BY c.t0, c.seq, c.id",
        session_id,
        user_id,
    )
    qrows = await db.fetch(
        "SELECT q.id, q.text, q.lang, q.caption_ids, q.t0, q.source, a.text AS answer_text, a.lang AS answer_lang, "
        "sc.score, sc.rubric, sc.feedback, sc.delivery, sc.candidate_text "
        "FROM questions q JOIN sessions s ON s.id = q.session_id "
        "LEFT JOIN answers a ON a.question_id = q.id LEFT JOIN scores sc ON sc.question_id = q.id "
        "WHERE q.session_id = $1 AND s.user_id = $2 ORDER BY q.created_at, q.id",
        session_id,
        user_id,
    )
    trows = await db.fetch(
        "SELECT t.ref, t.lang, t.text FROM translations t JOIN sessions s ON s.id = t.session_id "
        "WHERE t.session_id = $1 AND s.user_id = $2 ORDER BY t.id",
        session_id,
        user_id,
    )
    questions = [
        QuestionRow(
            id=q["id"],
            text=q["text"],
            lang=q["lang"],
            caption_ids=list(q["caption_ids"] or []),
            t0=q["t0"],
            source=q["source"],
            answer={"text": q["answer_text"], "lang": q["answer_lang"]} if q["answer_text"] is not None else None,
            score=(
                {
                    "score": q["score"],
                    "rubric": q["rubric"],
                    "feedback": q["feedback"],
                    "delivery": q["delivery"],
                    "candidate_text": q["candidate_text"],
                }
                if q["score"] is not None
                else None
            ),
        )
        for q in qrows
    ]
    return SessionDetail(
        session=s,
        transcript=[CaptionRow(**dict(c)) for c in captions],
        questions=questions,
        translations=[TranslationRow(**dict(t)) for t in trows],
    )


async def captions(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> list[CaptionRow]:
    rows = await db.fetch(
        "SELECT c.id, c.role, c.t0, c.t1, c.text, c.lang FROM captions c JOIN sessions s ON s.id = c.session_id "
        "WHERE c.session_id = $1 AND s.user_id = $2 ORDER BY c.t0, c.seq, c.id",
        session_id,
        user_id,
    )
    return [CaptionRow(**dict(r)) for r in rows]


async def caption_translations(db: Db, user_id: uuid.UUID, session_id: uuid.UUID, lang: str) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT t.ref, t.text FROM translations t JOIN sessions s ON s.id = t.session_id "
        "WHERE t.session_id = $1 AND s.user_id = $2 AND t.lang = $3",
        session_id,
        user_id,
        lang,
    )
    return {r["ref"]: r["text"] for r in rows}


async def set_media_node(db: Db, user_id: uuid.UUID, session_id: uuid.UUID, node_url: str) -> None:
    await db.execute("UPDATE sessions SET media_node = $3 WHERE id = $1 AND user_id = $2", session_id, user_id, node_url)


async def mark_ended(
    db: Db,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    media_seconds: float | None = None,
    recording_path: str | None = None,
) -> None:
    """Idempotent: the first end sets ``ended_at``; later calls only fill in what the node reported."""
    await db.execute(
        "UPDATE sessions SET status = 'ended', ended_at = COALESCE(ended_at, now()), "
        "media_seconds = COALESCE($3, media_seconds), recording_path = COALESCE($4, recording_path) "
        "WHERE id = $1 AND user_id = $2",
        session_id,
        user_id,
        media_seconds,
        recording_path,
    )


async def delete_session(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Delete the session and (by cascade) its captions, questions, answers, translations and scores.

    Ledger rows have no foreign key to sessions, so billing history keeps its debits.
    """
    res = await db.execute("DELETE FROM sessions WHERE id = $1 AND user_id = $2", session_id, user_id)
    return res.endswith(" 1")


async def session_exists(db: Db, session_id: uuid.UUID | str) -> bool:
    """Any session with this id (the stt worker drops audio of a deleted one)."""
    return bool(await db.fetchval("SELECT 1 FROM sessions WHERE id = $1", session_id))


@dataclass(frozen=True)
class Placement:
    session_id: str
    media_node: str


async def live_placements(db: Db) -> list[Placement]:
    """The live sessions and the media node each was placed on (the orphan reaper's view)."""
    rows = await db.fetch("SELECT id, media_node FROM sessions WHERE status = 'live' AND media_node IS NOT NULL")
    return [Placement(str(r["id"]), r["media_node"]) for r in rows]


async def end_orphan(db: Db, session_id: str, media_node: str) -> bool:
    """End a live session still placed on ``media_node``; False when it moved or ended meanwhile."""
    done = await db.execute(
        "UPDATE sessions SET status = 'ended', ended_at = now() WHERE id = $1 AND status = 'live' AND media_node = $2",
        session_id,
        media_node,
    )
    return done.endswith(" 1")
