"""The user's own data: everything to export, erasing an account, and sessions past their retention.

Export reads each table a session's pipeline writes as JSON rows (``row_to_json``), one session at a time,
so an export never holds more than one session's rows. Erasing an account removes its sessions (their rows
by cascade), tokens, login codes and organisation membership in one transaction; the credit ledger and the
payments stay for the accounts, attached to the same user id whose row keeps no personal data any more
(e-mail ``erased-…@erased.invalid``, no name, no password, no instructions): the tombstone.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

ERASED_DOMAIN = "erased.invalid"

# the tables holding a session's data (each has session_id), in the order an export lists them
SESSION_TABLES = (
    "captions",
    "questions",
    "answers",
    "scores",
    "translations",
    "mock_sessions",
    "mock_questions",
    "reports",
    "answer_scores",
    "session_summaries",
    "recording_parts",
)


@dataclass(frozen=True)
class ExportSession:
    id: uuid.UUID
    mode: str
    status: str
    created_at: datetime
    ended_at: datetime | None
    recording_path: str | None
    row: dict[str, Any]  # the whole sessions row


@dataclass(frozen=True)
class SessionRef:
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    media_node: str | None
    recording_path: str | None


@dataclass(frozen=True)
class ErasedAccount:
    user_id: uuid.UUID
    sessions: int
    tokens: int
    ledger_rows_kept: int
    payments_kept: int


def _json(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


async def account_row(db: Db, user_id: uuid.UUID) -> dict[str, Any]:
    """The user's profile, without the password hash."""
    text = await db.fetchval(
        """SELECT row_to_json(u)::text FROM (
               SELECT id, email, name, plan, default_listen_language, default_answer_language,
                      default_instructions, created_at, email_verified_at
               FROM users WHERE id = $1) u""",
        user_id,
    )
    return _json(text)


async def export_session_ids(db: Db, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await db.fetch("SELECT id FROM sessions WHERE user_id = $1 ORDER BY created_at, id", user_id)
    return [r["id"] for r in rows]


async def export_session(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> ExportSession | None:
    """One session's whole row (read one at a time: a row may carry a 100 kB résumé)."""
    r = await db.fetchrow(
        "SELECT id, mode, status, created_at, ended_at, recording_path, row_to_json(s)::text AS j "
        "FROM sessions s WHERE user_id = $1 AND id = $2",
        user_id,
        session_id,
    )
    if r is None:
        return None
    return ExportSession(
        r["id"], r["mode"], r["status"], r["created_at"], r["ended_at"], r["recording_path"], _json(r["j"])
    )


async def session_tables(db: Db, user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """Every row of the session's tables (the session must be the user's: checked in the query)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in SESSION_TABLES:
        texts = await db.fetch(
            f"""SELECT row_to_json(t)::text AS j FROM {table} t
                WHERE t.session_id = $2 AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = $2 AND s.user_id = $1)""",
            user_id,
            session_id,
        )
        out[table] = [_json(r["j"]) for r in texts]
    return out


async def billing_rows(db: Db, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    payments = await db.fetch(
        """SELECT row_to_json(p)::text AS j FROM (
               SELECT id, package_id, gateway, status, amount_cents, currency, seconds, kind, refunded_cents,
                      created_at, paid_at, refunded_at
               FROM payments WHERE user_id = $1 ORDER BY created_at) p""",
        user_id,
    )
    ledger = await db.fetch(
        """SELECT row_to_json(l)::text AS j FROM (
               SELECT id, seconds, kind, session_id, payment_id, note, created_at
               FROM credit_ledger WHERE user_id = $1 ORDER BY id) l""",
        user_id,
    )
    return {"payments": [_json(r["j"]) for r in payments], "credit_ledger": [_json(r["j"]) for r in ledger]}


async def session_refs(db: Db, user_id: uuid.UUID) -> list[SessionRef]:
    rows = await db.fetch(
        "SELECT id, user_id, status, media_node, recording_path FROM sessions WHERE user_id = $1", user_id
    )
    return [SessionRef(r["id"], r["user_id"], r["status"], r["media_node"], r["recording_path"]) for r in rows]


async def owns_organisation(db: Db, user_id: uuid.UUID) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM organisations WHERE owner_id = $1 LIMIT 1", user_id))


async def erase_account(pool: asyncpg.Pool, user_id: uuid.UUID, email: str) -> ErasedAccount:
    """One transaction: sessions (and their rows), tokens, login codes, membership gone; ledger and payments
    kept on a tombstone user row with no personal data. Session ids stay in the ledger (random ids)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
        # recruiter answer sessions of other organisations keep their candidate row, without this session
        n_sessions = int((await conn.execute("DELETE FROM sessions WHERE user_id = $1", user_id)).split()[-1])
        n_tokens = int((await conn.execute("DELETE FROM auth_tokens WHERE user_id = $1", user_id)).split()[-1])
        await conn.execute("DELETE FROM login_codes WHERE lower(email) = lower($1)", email)
        await conn.execute("DELETE FROM org_members WHERE user_id = $1", user_id)
        await conn.execute("UPDATE org_invites SET invited_by = NULL WHERE invited_by = $1", user_id)
        # ledger notes of debits may carry a session's title: the amounts stay, the words go
        await conn.execute("UPDATE credit_ledger SET note = '' WHERE user_id = $1 AND kind <> 'purchase'", user_id)
        await conn.execute("UPDATE payments SET note = '' WHERE user_id = $1", user_id)
        await conn.execute(
            """UPDATE users SET email = $2, name = '', password_hash = NULL, default_instructions = '',
                      email_verified_at = NULL
               WHERE id = $1""",
            user_id,
            f"erased-{secrets.token_hex(12)}@{ERASED_DOMAIN}",
        )
        ledger = int(await conn.fetchval("SELECT count(*) FROM credit_ledger WHERE user_id = $1", user_id))
        payments = int(await conn.fetchval("SELECT count(*) FROM payments WHERE user_id = $1", user_id))
    return ErasedAccount(user_id, n_sessions, n_tokens, ledger, payments)


async def sessions_past_retention(db: Db, keep_seconds: float, limit: int = 200) -> list[SessionRef]:
    """Assistant and mock sessions (not recruiter answer sessions: CANDIDATE_RETENTION_DAYS covers those)
    that ended, or were created and never ended, longer ago than ``keep_seconds``."""
    rows = await db.fetch(
        """SELECT s.id, s.user_id, s.status, s.media_node, s.recording_path FROM sessions s
           WHERE s.mode IN ('assistant', 'mock')
             AND COALESCE(s.ended_at, s.created_at) < now() - make_interval(secs => $1)
             AND (s.status = 'ended' OR s.created_at < now() - make_interval(secs => $1 + 86400))
             AND NOT EXISTS (SELECT 1 FROM candidate_answers ca WHERE ca.session_id = s.id)
           ORDER BY COALESCE(s.ended_at, s.created_at) LIMIT $2""",
        float(keep_seconds),
        limit,
    )
    return [SessionRef(r["id"], r["user_id"], r["status"], r["media_node"], r["recording_path"]) for r in rows]
