"""What the llm worker learns about a session: questions, answers, translations, scores.

Every write is idempotent (a job redelivered after a crash writes the same row again), every
function takes the session id, and reads return plain dicts ready for JSON. Written by the llm
worker; read by it (to rebuild its state after a restart), by history views and by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class SessionContext:
    """The session fields the AI help is built from."""

    id: str
    user_id: str
    mode: str
    status: str
    listen_language: str
    answer_language: str
    hints: str
    instructions: str
    resume_text: str
    title: str = ""


async def get_session_context(db: Db, session_id: str) -> SessionContext | None:
    r = await db.fetchrow(
        "SELECT id, user_id, mode, status, listen_language, answer_language, hints, instructions, resume_text, title "
        "FROM sessions WHERE id = $1",
        session_id,
    )
    if r is None:
        return None
    d = dict(r)
    d["id"], d["user_id"] = str(d["id"]), str(d["user_id"])
    return SessionContext(**d)


async def insert_question(
    db: Db,
    session_id: str,
    question_id: str,
    text: str,
    lang: str,
    caption_ids: list[str],
    *,
    source: str = "detected",
    t0: float | None = None,
) -> bool:
    """Store a question; False when that id was already stored."""
    status = await db.execute(
        "INSERT INTO questions (id, session_id, caption_ids, text, lang, source, t0) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (id) DO NOTHING",
        question_id,
        session_id,
        list(caption_ids),
        text,
        lang,
        source,
        t0,
    )
    return status.endswith(" 1")


async def upsert_answer(db: Db, session_id: str, question_id: str, text: str, lang: str, provider: str) -> None:
    """The latest suggested answer to a question (asking again replaces it)."""
    await db.execute(
        "INSERT INTO answers (question_id, session_id, text, lang, provider) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (question_id) DO UPDATE SET text = EXCLUDED.text, lang = EXCLUDED.lang, "
        "provider = EXCLUDED.provider, created_at = now()",
        question_id,
        session_id,
        text,
        lang,
        provider,
    )


async def insert_translation(db: Db, session_id: str, ref: str, lang: str, text: str) -> None:
    await db.execute(
        "INSERT INTO translations (session_id, ref, lang, text) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (ref, lang) DO UPDATE SET text = EXCLUDED.text",
        session_id,
        ref,
        lang,
        text,
    )


async def insert_score(
    db: Db,
    session_id: str,
    question_id: str,
    score: int,
    rubric: dict[str, int],
    feedback: str,
    delivery: dict[str, Any],
    candidate_text: str,
) -> None:
    """Store the score of the candidate's answer; a longer answer scored later replaces it."""
    await db.execute(
        "INSERT INTO scores (question_id, session_id, score, rubric, feedback, delivery, candidate_text) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (question_id) DO UPDATE SET score = EXCLUDED.score, "
        "rubric = EXCLUDED.rubric, feedback = EXCLUDED.feedback, delivery = EXCLUDED.delivery, "
        "candidate_text = EXCLUDED.candidate_text, created_at = now()",
        question_id,
        session_id,
        int(score),
        rubric,
        feedback,
        delivery,
        candidate_text,
    )


async def list_questions(db: Db, session_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, caption_ids, text, lang, source, t0, created_at FROM questions WHERE session_id = $1 "
        "ORDER BY created_at, id",
        session_id,
    )
    return [{**dict(r), "caption_ids": list(r["caption_ids"] or [])} for r in rows]


async def get_answer(db: Db, session_id: str, question_id: str) -> dict[str, Any] | None:
    r = await db.fetchrow(
        "SELECT question_id, text, lang, provider, created_at FROM answers WHERE session_id = $1 AND question_id = $2",
        session_id,
        question_id,
    )
    return dict(r) if r else None


async def list_answers(db: Db, session_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT question_id, text, lang, provider, created_at FROM answers WHERE session_id = $1 ORDER BY created_at",
        session_id,
    )
    return [dict(r) for r in rows]


async def get_score(db: Db, session_id: str, question_id: str) -> dict[str, Any] | None:
    r = await db.fetchrow(
        "SELECT question_id, score, rubric, feedback, delivery, candidate_text, created_at FROM scores "
        "WHERE session_id = $1 AND question_id = $2",
        session_id,
        question_id,
    )
    return dict(r) if r else None


async def list_scores(db: Db, session_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT question_id, score, rubric, feedback, delivery, candidate_text, created_at FROM scores "
        "WHERE session_id = $1 ORDER BY created_at",
        session_id,
    )
    return [dict(r) for r in rows]


async def list_translations(db: Db, session_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT ref, lang, text FROM translations WHERE session_id = $1 ORDER BY id", session_id)
    return [dict(r) for r in rows]


async def session_insights(db: Db, session_id: str) -> list[dict[str, Any]]:
    """Questions in order, each with its answer and score (or None): the history view's list."""
    answers = {a["question_id"]: a for a in await list_answers(db, session_id)}
    scores = {s["question_id"]: s for s in await list_scores(db, session_id)}
    return [
        {**q, "answer": answers.get(q["id"]), "score": scores.get(q["id"])}
        for q in await list_questions(db, session_id)
    ]
