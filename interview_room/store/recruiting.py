"""SQL for the recruiter side (migrations/005_recruiting.sql).

Every recruiter read and write takes the organisation id and filters on it; every candidate read
takes the candidate id found from the link's token. Nothing here looks a row up by id alone.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection

INTERVIEW_COLS = (
    "id, org_id, title, job_description, questions, deadline, company_name, intro_text, is_template, "
    "created_at, updated_at, practice_question"
)
CANDIDATE_COLS = (
    "id, org_id, interview_id, email, name, expires_at, revoked_at, status, consent_at, started_at, "
    "completed_at, decision, decision_note, created_at, link_nonce, reminded_at, extra_time_pct"
)


def _row(r: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(r) if r is not None else None


# ---- organisations ----


async def org_of_user(db: Db, user_id: uuid.UUID) -> dict[str, Any] | None:
    return _row(
        await db.fetchrow(
            "SELECT o.id, o.name, o.owner_id, o.webhook_url, o.webhook_secret, o.created_at, m.role "
            "FROM org_members m JOIN organisations o ON o.id = m.org_id WHERE m.user_id = $1",
            user_id,
        )
    )


async def create_org(pool: asyncpg.Pool, user_id: uuid.UUID, name: str) -> dict[str, Any] | None:
    """None when the user already belongs to an organisation."""
    org_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT 1 FROM org_members WHERE user_id = $1", user_id):
            return None
        await conn.execute(
            "INSERT INTO organisations (id, name, owner_id, webhook_secret) VALUES ($1, $2, $3, $4)",
            org_id,
            name,
            user_id,
            secrets.token_urlsafe(32),
        )
        await conn.execute("INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, 'owner')", org_id, user_id)
    return await org_of_user(pool, user_id)


async def update_org(db: Db, org_id: uuid.UUID, changes: dict[str, Any]) -> None:
    for col in ("name", "webhook_url"):
        if col in changes:
            await db.execute(f"UPDATE organisations SET {col} = $2 WHERE id = $1", org_id, changes[col])


async def list_members(db: Db, org_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT u.id, u.email, u.name, m.role, m.created_at FROM org_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.org_id = $1 ORDER BY m.created_at",
        org_id,
    )
    return [dict(r) for r in rows]


async def create_invite(
    db: Db, org_id: uuid.UUID, email: str, token_hash: str, invited_by: uuid.UUID, expires_at: datetime
) -> uuid.UUID:
    invite_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO org_invites (id, org_id, email, token_hash, invited_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        invite_id,
        org_id,
        email,
        token_hash,
        invited_by,
        expires_at,
    )
    return invite_id


async def list_invites(db: Db, org_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, email, created_at, expires_at, accepted_at FROM org_invites WHERE org_id = $1 ORDER BY created_at DESC",
        org_id,
    )
    return [dict(r) for r in rows]


async def accept_invite(pool: asyncpg.Pool, token_hash: str, user_id: uuid.UUID, email: str) -> str:
    """'ok', 'invalid' (unknown, expired, used, or for another e-mail) or 'has_org'."""
    async with pool.acquire() as conn, conn.transaction():
        inv = await conn.fetchrow(
            "SELECT id, org_id, email, role FROM org_invites WHERE token_hash = $1 AND accepted_at IS NULL "
            "AND expires_at > now() FOR UPDATE",
            token_hash,
        )
        if inv is None or inv["email"] != email:
            return "invalid"
        if await conn.fetchval("SELECT 1 FROM org_members WHERE user_id = $1", user_id):
            return "has_org"
        await conn.execute(
            "INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, $3)", inv["org_id"], user_id, inv["role"]
        )
        await conn.execute("UPDATE org_invites SET accepted_at = now() WHERE id = $1", inv["id"])
    return "ok"


# ---- interviews ----


async def create_interview(db: Db, org_id: uuid.UUID, user_id: uuid.UUID, v: dict[str, Any]) -> dict[str, Any]:
    r = await db.fetchrow(
        f"INSERT INTO interviews (id, org_id, created_by, title, job_description, questions, deadline, company_name, "
        f"intro_text, is_template, practice_question) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        f"RETURNING {INTERVIEW_COLS}",
        uuid.uuid4(),
        org_id,
        user_id,
        v["title"],
        v.get("job_description", ""),
        v.get("questions", []),  # the pool's jsonb codec encodes
        v.get("deadline"),
        v.get("company_name", ""),
        v.get("intro_text", ""),
        v.get("is_template", False),
        v.get("practice_question", ""),
    )
    out = _row(r)
    assert out is not None
    return out


async def get_interview(db: Db, org_id: uuid.UUID, interview_id: uuid.UUID) -> dict[str, Any] | None:
    return _row(
        await db.fetchrow(
            f"SELECT {INTERVIEW_COLS} FROM interviews WHERE id = $1 AND org_id = $2", interview_id, org_id
        )
    )


async def list_interviews(db: Db, org_id: uuid.UUID, templates: bool | None = None) -> list[dict[str, Any]]:
    rows = await db.fetch(
        f"SELECT {INTERVIEW_COLS}, "
        "(SELECT count(*) FROM candidates c WHERE c.interview_id = i.id) AS candidates, "
        "(SELECT count(*) FROM candidates c WHERE c.interview_id = i.id AND c.status = 'completed') AS completed "
        "FROM interviews i WHERE org_id = $1 AND ($2::boolean IS NULL OR is_template = $2) ORDER BY created_at DESC",
        org_id,
        templates,
    )
    return [d for r in rows if (d := _row(r)) is not None]


async def update_interview(db: Db, org_id: uuid.UUID, interview_id: uuid.UUID, changes: dict[str, Any]) -> None:
    cols = (
        "title",
        "job_description",
        "questions",
        "deadline",
        "company_name",
        "intro_text",
        "is_template",
        "practice_question",
    )
    for col in cols:
        if col in changes:
            value = changes[col]
            await db.execute(
                f"UPDATE interviews SET {col} = $3, updated_at = now() WHERE id = $1 AND org_id = $2",
                interview_id,
                org_id,
                value,
            )


async def follow_deadline(
    db: Db, org_id: uuid.UUID, interview_id: uuid.UUID, old: datetime | None, new: datetime | None
) -> int:
    """Pending candidates' links follow a moved deadline: those that ended at the old deadline end at
    the new one (a later deadline reopens them, and their reminder may go again); none outlives it."""
    if new is None:
        return 0  # no deadline now: links keep the expiry they were given
    res = await db.execute(
        "UPDATE candidates SET expires_at = $4, reminded_at = CASE WHEN $4 > expires_at THEN NULL ELSE reminded_at END "
        "WHERE org_id = $1 AND interview_id = $2 AND status <> 'completed' "
        "AND (expires_at = $3 OR expires_at > $4)",
        org_id,
        interview_id,
        old,
        new,
    )
    return int(res.split()[-1])


async def interview_owner_email(db: Db, interview_id: uuid.UUID) -> str | None:
    """Who created the interview (told when a candidate completes); the organisation's owner if they left."""
    return await db.fetchval(
        "SELECT coalesce(u.email, o_u.email) FROM interviews i JOIN organisations o ON o.id = i.org_id "
        "JOIN users o_u ON o_u.id = o.owner_id LEFT JOIN users u ON u.id = i.created_by WHERE i.id = $1",
        interview_id,
    )


async def has_attempts(db: Db, org_id: uuid.UUID, interview_id: uuid.UUID) -> bool:
    """Whether any candidate of the interview started an answer (its question indexes are then in use)."""
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM candidate_answers a JOIN candidates c ON c.id = a.candidate_id "
            "WHERE c.org_id = $1 AND c.interview_id = $2 AND a.question_idx >= 0)",
            org_id,
            interview_id,
        )
    )


async def delete_interview(db: Db, org_id: uuid.UUID, interview_id: uuid.UUID) -> bool:
    res = await db.execute("DELETE FROM interviews WHERE id = $1 AND org_id = $2", interview_id, org_id)
    return res.endswith(" 1")


# ---- candidates (recruiter side) ----


async def add_candidate(
    db: Db,
    org_id: uuid.UUID,
    interview_id: uuid.UUID,
    email: str,
    name: str,
    expires_at: datetime,
    *,
    candidate_id: uuid.UUID,
    link_nonce: str,
    token_hash: str,
) -> dict[str, Any] | None:
    """None when this interview already has a candidate with that e-mail."""
    r = await db.fetchrow(
        f"INSERT INTO candidates (id, org_id, interview_id, email, name, token_hash, expires_at, link_nonce) "
        f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (interview_id, email) WHERE email <> '' DO NOTHING "
        f"RETURNING {CANDIDATE_COLS}",
        candidate_id,
        org_id,
        interview_id,
        email,
        name,
        token_hash,
        expires_at,
        link_nonce,
    )
    return dict(r) if r else None


async def replace_link(
    db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID, link_nonce: str, token_hash: str, expires_at: datetime
) -> None:
    """A new link: the old token stops matching, a revocation is lifted, the reminder may go again."""
    await db.execute(
        "UPDATE candidates SET link_nonce = $3, token_hash = $4, expires_at = $5, revoked_at = NULL, "
        "reminded_at = NULL WHERE id = $1 AND org_id = $2",
        candidate_id,
        org_id,
        link_nonce,
        token_hash,
        expires_at,
    )


async def set_reminded(db: Db, candidate_id: uuid.UUID, when: datetime | None) -> None:
    await db.execute("UPDATE candidates SET reminded_at = $2 WHERE id = $1", candidate_id, when)


async def claim_due_reminders(pool: asyncpg.Pool, horizon_s: float, limit: int = 50) -> list[dict[str, Any]]:
    """Pending candidates whose link expires within the horizon, each claimed once (reminded_at set).

    Only those invited before the reminder window opened: a later invitation states the deadline
    itself. SKIP LOCKED lets every signaling replica sweep without sending twice.
    """
    rows = await pool.fetch(
        f"UPDATE candidates SET reminded_at = now() WHERE id IN ("
        "  SELECT id FROM candidates WHERE status <> 'completed' AND revoked_at IS NULL AND reminded_at IS NULL "
        "  AND email <> '' AND link_nonce IS NOT NULL AND expires_at > now() "
        "  AND expires_at <= now() + make_interval(secs => $1) AND created_at < expires_at - make_interval(secs => $1) "
        "  ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        f") RETURNING {CANDIDATE_COLS}",
        horizon_s,
        limit,
    )
    return [dict(r) for r in rows]


async def list_candidates(db: Db, org_id: uuid.UUID, interview_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch(
        f"SELECT {CANDIDATE_COLS}, "
        "(SELECT count(DISTINCT a.question_idx) FROM candidate_answers a WHERE a.candidate_id = c.id AND a.status = 'done' "
        "AND a.question_idx >= 0) "
        "AS answered FROM candidates c WHERE org_id = $1 AND interview_id = $2 ORDER BY created_at",
        org_id,
        interview_id,
    )
    return [dict(r) for r in rows]


async def get_candidate(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID) -> dict[str, Any] | None:
    r = await db.fetchrow(
        f"SELECT {CANDIDATE_COLS} FROM candidates WHERE id = $1 AND org_id = $2", candidate_id, org_id
    )
    return dict(r) if r else None


async def answer_session_ids(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID) -> list[uuid.UUID]:
    """Every attempt's session of a candidate of this organisation (abandoned ones too)."""
    rows = await db.fetch(
        "SELECT a.session_id FROM candidate_answers a JOIN candidates c ON c.id = a.candidate_id "
        "WHERE a.candidate_id = $1 AND c.org_id = $2 AND a.session_id IS NOT NULL",
        candidate_id,
        org_id,
    )
    return [r["session_id"] for r in rows]


async def candidates_past_retention(db: Db, older_than_s: float, limit: int = 200) -> list[dict[str, Any]]:
    """Candidates that finished (completed, or their link ran out) longer ago than ``older_than_s``."""
    rows = await db.fetch(
        f"SELECT {CANDIDATE_COLS} FROM candidates WHERE "
        "coalesce(completed_at, CASE WHEN status <> 'completed' THEN expires_at END) < now() - make_interval(secs => $1) "
        "ORDER BY created_at LIMIT $2",
        older_than_s,
        limit,
    )
    return [dict(r) for r in rows]


async def delete_candidate(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID) -> bool:
    """The row (answers by cascade) and the ATS events still carrying the candidate's name and e-mail."""
    await db.execute("DELETE FROM webhook_outbox WHERE org_id = $1 AND candidate_id = $2", org_id, candidate_id)
    res = await db.execute("DELETE FROM candidates WHERE id = $1 AND org_id = $2", candidate_id, org_id)
    return res.endswith(" 1")


async def revoke_candidate(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID) -> None:
    await db.execute(
        "UPDATE candidates SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND org_id = $2",
        candidate_id,
        org_id,
    )


async def set_decision(
    db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID, decision: str | None, note: str, user_id: uuid.UUID
) -> None:
    await db.execute(
        "UPDATE candidates SET decision = $3, decision_note = $4, decided_by = $5 WHERE id = $1 AND org_id = $2",
        candidate_id,
        org_id,
        decision,
        note,
        user_id,
    )


async def final_answers(db: Db, candidate_id: uuid.UUID) -> dict[int, dict[str, Any]]:
    """The latest finished attempt of each question, with its session's owner, clock and file."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (a.question_idx) a.question_idx, a.attempt, a.session_id, a.finished_at, "
        "s.user_id, s.recording_path, s.media_seconds, s.status AS session_status "
        "FROM candidate_answers a JOIN sessions s ON s.id = a.session_id "
        "WHERE a.candidate_id = $1 AND a.status = 'done' AND a.question_idx >= 0 ORDER BY a.question_idx, a.attempt DESC",
        candidate_id,
    )
    return {r["question_idx"]: dict(r) for r in rows}


async def final_answers_of_interview(
    db: Db, org_id: uuid.UUID, interview_id: uuid.UUID
) -> dict[tuple[uuid.UUID, int], dict[str, Any]]:
    """Every candidate's reviewed answers of one interview in one query, keyed by (candidate, question)."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (a.candidate_id, a.question_idx) a.candidate_id, a.question_idx, a.attempt, a.session_id "
        "FROM candidate_answers a JOIN candidates c ON c.id = a.candidate_id "
        "WHERE c.org_id = $1 AND c.interview_id = $2 AND a.status = 'done' AND a.session_id IS NOT NULL "
        "AND a.question_idx >= 0 ORDER BY a.candidate_id, a.question_idx, a.attempt DESC",
        org_id,
        interview_id,
    )
    return {(r["candidate_id"], r["question_idx"]): dict(r) for r in rows}


async def org_answer_session(
    db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID, question_idx: int
) -> dict[str, Any] | None:
    """The reviewed answer of one question, only if the candidate belongs to the organisation."""
    if await db.fetchval("SELECT 1 FROM candidates WHERE id = $1 AND org_id = $2", candidate_id, org_id) is None:
        return None
    return (await final_answers(db, candidate_id)).get(question_idx)


# ---- candidates (link side) ----


async def candidate_by_token(db: Db, token_hash: str) -> dict[str, Any] | None:
    r = await db.fetchrow(
        f"SELECT {', '.join('c.' + c.strip() for c in CANDIDATE_COLS.split(','))}, o.owner_id, o.name AS org_name "
        "FROM candidates c JOIN organisations o ON o.id = c.org_id WHERE c.token_hash = $1",
        token_hash,
    )
    return dict(r) if r else None


async def interview_of_candidate(db: Db, cand: dict[str, Any]) -> dict[str, Any]:
    out = _row(
        await db.fetchrow(
            f"SELECT {INTERVIEW_COLS} FROM interviews WHERE id = $1 AND org_id = $2",
            cand["interview_id"],
            cand["org_id"],
        )
    )
    assert out is not None  # candidates cascade with their interview
    return out


async def consent(db: Db, candidate_id: uuid.UUID) -> None:
    await db.execute(
        "UPDATE candidates SET consent_at = COALESCE(consent_at, now()), started_at = COALESCE(started_at, now()), "
        "status = CASE WHEN status = 'invited' THEN 'started' ELSE status END WHERE id = $1",
        candidate_id,
    )


async def attempts(db: Db, candidate_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT question_idx, attempt, session_id, status FROM candidate_answers WHERE candidate_id = $1 "
        "ORDER BY question_idx, attempt",
        candidate_id,
    )
    return [dict(r) for r in rows]


async def add_attempt(db: Db, candidate_id: uuid.UUID, question_idx: int, attempt: int, session_id: uuid.UUID) -> None:
    await db.execute(
        "INSERT INTO candidate_answers (candidate_id, question_idx, attempt, session_id) VALUES ($1, $2, $3, $4)",
        candidate_id,
        question_idx,
        attempt,
        session_id,
    )


async def set_attempt_status(db: Db, candidate_id: uuid.UUID, question_idx: int, attempt: int, status: str) -> None:
    await db.execute(
        "UPDATE candidate_answers SET status = $4, finished_at = now() WHERE candidate_id = $1 AND question_idx = $2 "
        "AND attempt = $3",
        candidate_id,
        question_idx,
        attempt,
        status,
    )


async def overdue_attempts(db: Db, grace_s: float, practice_s: float = 1800.0) -> list[dict[str, Any]]:
    """Attempts still recording longer than their question's answer time (``practice_s`` for the
    practice question, index -1) plus ``grace_s``."""
    rows = await db.fetch(
        "SELECT a.candidate_id, a.question_idx, a.attempt, a.session_id, o.owner_id "
        "FROM candidate_answers a JOIN candidates c ON c.id = a.candidate_id "
        "JOIN interviews i ON i.id = c.interview_id JOIN organisations o ON o.id = c.org_id "
        "WHERE a.status = 'recording' AND a.session_id IS NOT NULL AND a.created_at < now() - make_interval(secs => "
        "CASE WHEN a.question_idx < 0 THEN $2 "
        "ELSE coalesce((i.questions -> a.question_idx ->> 'answer_seconds')::float, 1800) "
        "* (1 + c.extra_time_pct / 100.0) END + $1) LIMIT 100",  # the candidate's accommodation
        grace_s,
        practice_s,
    )
    return [dict(r) for r in rows]


async def latest_take(db: Db, candidate_id: uuid.UUID, question_idx: int) -> dict[str, Any] | None:
    """The candidate's own latest finished attempt at one question (the practice one too), to watch."""
    return _row(
        await db.fetchrow(
            "SELECT question_idx, attempt, session_id FROM candidate_answers WHERE candidate_id = $1 "
            "AND question_idx = $2 AND status = 'done' AND session_id IS NOT NULL ORDER BY attempt DESC LIMIT 1",
            candidate_id,
            question_idx,
        )
    )


async def finish_attempt_if_recording(db: Db, a: dict[str, Any], status: str) -> bool:
    res = await db.execute(
        "UPDATE candidate_answers SET status = $4, finished_at = now() WHERE candidate_id = $1 AND question_idx = $2 "
        "AND attempt = $3 AND status = 'recording'",
        a["candidate_id"],
        a["question_idx"],
        a["attempt"],
        status,
    )
    return res.endswith(" 1")


async def complete(db: Db, candidate_id: uuid.UUID) -> bool:
    """True the first time only (the e-mail and the webhook go out once)."""
    res = await db.execute(
        "UPDATE candidates SET status = 'completed', completed_at = now() WHERE id = $1 AND status <> 'completed'",
        candidate_id,
    )
    return res.endswith(" 1")


# ---- webhooks ----


async def log_delivery(
    db: Db,
    org_id: uuid.UUID,
    candidate_id: uuid.UUID | None,
    event: str,
    delivery_id: uuid.UUID,
    url: str,
    attempt: int,
    status_code: int | None,
    error: str,
    ok: bool,
) -> None:
    await db.execute(
        "INSERT INTO webhook_deliveries (org_id, candidate_id, event, delivery_id, url, attempt, status_code, error, ok) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        org_id,
        candidate_id,
        event,
        delivery_id,
        url,
        attempt,
        status_code,
        error,
        ok,
    )


async def list_deliveries(db: Db, org_id: uuid.UUID, limit: int = 100) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT d.id, d.candidate_id, d.event, d.delivery_id, d.url, d.attempt, d.status_code, d.error, d.ok, "
        "d.created_at, o.state FROM webhook_deliveries d LEFT JOIN webhook_outbox o ON o.delivery_id = d.delivery_id "
        "WHERE d.org_id = $1 ORDER BY d.id DESC LIMIT $2",
        org_id,
        limit,
    )
    return [dict(r) for r in rows]


async def org_by_id(db: Db, org_id: uuid.UUID) -> dict[str, Any]:
    r = await db.fetchrow(
        "SELECT id, name, owner_id, webhook_url, webhook_secret FROM organisations WHERE id = $1", org_id
    )
    assert r is not None
    return dict(r)


async def recorded_seconds(db: Db, candidate_id: uuid.UUID) -> float:
    """Seconds recorded over all of the candidate's attempts: what the media node reported for ended
    ones, the time since media started for one still live."""
    secs = await db.fetchval(
        "SELECT COALESCE(SUM(CASE WHEN s.status = 'live' AND s.started_at IS NOT NULL "
        "  THEN GREATEST(COALESCE(s.media_seconds, 0), EXTRACT(EPOCH FROM now() - s.started_at)) "
        "  ELSE COALESCE(s.media_seconds, 0) END), 0) "
        "FROM candidate_answers a JOIN sessions s ON s.id = a.session_id WHERE a.candidate_id = $1",
        candidate_id,
    )
    return float(secs or 0)
