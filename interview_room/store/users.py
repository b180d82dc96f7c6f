"""Users, auth tokens, one-time login codes and the credit balance.

Every function takes a pool or connection; user-owned rows are always selected by ``user_id``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

# the sign-up grant; store.credits.grant_signup recognises it by its note
FREE_PLAN_SECONDS = 7200
FREE_PLAN_NOTE = "Free plan"
PROFILE_FIELDS = ("name", "default_listen_language", "default_answer_language", "default_instructions")
_USER_COLS = (
    "id, email, name, password_hash, plan, default_listen_language, default_answer_language, "
    "default_instructions, created_at, email_verified_at"
)

Db = asyncpg.Pool | asyncpg.Connection


class EmailTaken(Exception):
    """Another account already uses this e-mail address."""


@dataclass
class User:
    id: uuid.UUID
    email: str
    name: str
    password_hash: str | None
    plan: str
    default_listen_language: str
    default_answer_language: str
    default_instructions: str
    created_at: datetime
    email_verified_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @classmethod
    def from_record(cls, r: asyncpg.Record | dict[str, Any]) -> User:
        return cls(**{k: r[k] for k in cls.__dataclass_fields__})


def _user(r: asyncpg.Record | None) -> User | None:
    return User.from_record(r) if r is not None else None


async def create_user(pool: asyncpg.Pool, email: str, name: str, password_hash: str | None) -> User:
    """Create the account and grant the free plan's credits in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        try:
            r = await conn.fetchrow(
                f"INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING {_USER_COLS}",
                uuid.uuid4(),
                email,
                name,
                password_hash,
            )
        except asyncpg.UniqueViolationError as e:
            raise EmailTaken(email) from e
        assert r is not None
        await conn.execute(
            "INSERT INTO credit_ledger (user_id, seconds, kind, note) VALUES ($1, $2, 'grant', $3)",
            r["id"],
            float(FREE_PLAN_SECONDS),
            FREE_PLAN_NOTE,
        )
    return User.from_record(r)


async def get_user(db: Db, user_id: uuid.UUID) -> User | None:
    return _user(await db.fetchrow(f"SELECT {_USER_COLS} FROM users WHERE id = $1", user_id))


async def get_user_by_email(db: Db, email: str) -> User | None:
    return _user(await db.fetchrow(f"SELECT {_USER_COLS} FROM users WHERE email = $1", email))


async def update_profile(db: Db, user_id: uuid.UUID, changes: dict[str, str]) -> User | None:
    cols = [k for k in changes if k in PROFILE_FIELDS]
    if not cols:
        return await get_user(db, user_id)
    sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(cols))
    r = await db.fetchrow(
        f"UPDATE users SET {sets} WHERE id = $1 RETURNING {_USER_COLS}", user_id, *(changes[c] for c in cols)
    )
    return _user(r)


async def set_password_hash(db: Db, user_id: uuid.UUID, password_hash: str) -> None:
    await db.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def mark_email_verified(db: Db, user_id: uuid.UUID) -> bool:
    """The account's owner entered a code sent to its address; True if it was not verified before."""
    done = await db.fetchval(
        "UPDATE users SET email_verified_at = now() WHERE id = $1 AND email_verified_at IS NULL RETURNING id", user_id
    )
    return done is not None


async def claim_unverified(pool: asyncpg.Pool, user_id: uuid.UUID) -> int | None:
    """The address's owner signed in by code to an account nobody had verified: whoever registered it
    may not be them, so their password is cleared and every token revoked, and the address is verified.
    Returns how many tokens were revoked, or None if the account was verified already (nothing changed)."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetchval(
            "UPDATE users SET email_verified_at = now(), password_hash = NULL "
            "WHERE id = $1 AND email_verified_at IS NULL RETURNING id",
            user_id,
        )
        if claimed is None:
            return None
        res = await conn.execute(
            "UPDATE auth_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )
    return int(res.split()[-1])


# ---- auth tokens ----


async def create_token(db: Db, token_id: str, user_id: uuid.UUID, ttl_seconds: int) -> datetime:
    expires: datetime = await db.fetchval(
        "INSERT INTO auth_tokens (id, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) "
        "RETURNING expires_at",
        token_id,
        user_id,
        float(ttl_seconds),
    )
    return expires


async def user_for_token(db: Db, token_id: str) -> User | None:
    """The token's user if the token exists, is not revoked and has not expired."""
    cols = ", ".join(f"u.{c.strip()}" for c in _USER_COLS.split(","))
    r = await db.fetchrow(
        f"SELECT {cols} FROM auth_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.id = $1 AND t.revoked_at IS NULL AND t.expires_at > now()",
        token_id,
    )
    return _user(r)


async def revoke_token(db: Db, user_id: uuid.UUID, token_id: str) -> None:
    await db.execute(
        "UPDATE auth_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        token_id,
        user_id,
    )


async def revoke_other_tokens(db: Db, user_id: uuid.UUID, keep_token_id: str) -> int:
    res = await db.execute(
        "UPDATE auth_tokens SET revoked_at = now() WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
        user_id,
        keep_token_id,
    )
    return int(res.split()[-1])


# ---- one-time login codes (stored as a keyed hash, never the code itself) ----

CODE_TTL_SECONDS = 600
CODE_MAX_ATTEMPTS = 5


async def create_login_code(db: Db, email: str, code_hash: str, ttl_seconds: int = CODE_TTL_SECONDS) -> None:
    await db.execute(
        "INSERT INTO login_codes (email, code_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))",
        email,
        code_hash,
        float(ttl_seconds),
    )


async def consume_login_code(db: Db, email: str, code_hash: str) -> bool:
    """Use the matching live code once; a wrong guess counts against every live code of the e-mail."""
    used = await db.fetchval(
        "UPDATE login_codes SET used_at = now() WHERE id = ("
        "  SELECT id FROM login_codes WHERE email = $1 AND code_hash = $2 AND used_at IS NULL"
        "  AND expires_at > now() AND attempts < $3 ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
        ") AND used_at IS NULL RETURNING id",
        email,
        code_hash,
        CODE_MAX_ATTEMPTS,
    )
    if used is not None:
        return True
    await db.execute(
        "UPDATE login_codes SET attempts = attempts + 1 WHERE email = $1 AND used_at IS NULL AND expires_at > now()",
        email,
    )
    return False
