"""Pairing codes and companion credentials: how ``interview-room listen`` joins one session.

The room asks for a short code (``create_code``); the user types it into the companion, which
exchanges it (``claim``) for a credential that is good for one thing only: offering audio to that one
session (``companion_grant``). Why not the user's login token: it opens the whole account, and it
would have to be copied out of an HttpOnly cookie.

What makes a code safe to type:
- 8 characters of an alphabet without look-alikes (31^8, about 8.5e11), shown as ``ABCD-EFGH``;
- it expires (``PAIRING_CODE_TTL_SECONDS``), works once (GETDEL), and a newer code of the session
  replaces the older one;
- claims are counted per client address before they are checked (``PAIRING_ATTEMPTS_PER_IP`` per
  code lifetime, ``signaling.ratelimit``), so guessing is bounded; a wrong, used and expired code
  are the same 404;
- Redis holds only a keyed hash of a code or credential (``tokens.keyed_hash``), and nothing logs one.
The credential lives ``COMPANION_TOKEN_TTL_SECONDS`` and dies with its session (checked at each offer).
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from web.common.tokens import keyed_hash

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 8
MAX_CODE_INPUT = 32


@dataclass(frozen=True)
class Grant:
    """What a pairing code (and then a companion credential) allows: offering audio to this session."""

    session_id: uuid.UUID
    user_id: uuid.UUID

    def to_json(self) -> str:
        return json.dumps({"session_id": str(self.session_id), "user_id": str(self.user_id)})

    @classmethod
    def from_json(cls, raw: bytes | str) -> Grant:
        d = json.loads(raw)
        return cls(session_id=uuid.UUID(d["session_id"]), user_id=uuid.UUID(d["user_id"]))


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display(code: str) -> str:
    """``ABCDEFGH`` -> ``ABCD-EFGH`` (what the room shows)."""
    return f"{code[:4]}-{code[4:]}"


def normalize(text: object) -> str | None:
    """A typed code as stored (upper case, dashes and spaces dropped), or None
    when it cannot be a code at all (then nothing is looked up, but the attempt still counts)."""
    if not isinstance(text, str) or len(text) > MAX_CODE_INPUT:
        return None
    code = re.sub(r"[\s-]", "", text).upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def _code_key(secret: bytes, code: str) -> str:
    return f"pairing:code:{keyed_hash(secret, 'pairing-code', code)}"


def _session_key(session_id: uuid.UUID) -> str:
    return f"pairing:session:{session_id}"


def _token_key(secret: bytes, token: str) -> str:
    return f"companion:token:{keyed_hash(secret, 'companion-token', token)}"


async def create_code(r: aioredis.Redis, secret: bytes, grant: Grant, ttl: int) -> str:
    """A fresh code for ``grant``'s session; the session's earlier code stops working."""
    code = new_code()
    key = _code_key(secret, code)
    old = await r.getset(_session_key(grant.session_id), key)
    async with r.pipeline(transaction=True) as p:
        if old is not None and (old.decode() if isinstance(old, bytes) else old) != key:
            p.delete(old)
        p.set(key, grant.to_json(), ex=ttl)
        p.expire(_session_key(grant.session_id), ttl)
        await p.execute()
    return code


async def take_code(r: aioredis.Redis, secret: bytes, code: str) -> Grant | None:
    """The grant of a valid code, which is used up by this call (single use); else None."""
    raw = await r.getdel(_code_key(secret, code))
    if raw is None:
        return None
    grant = Grant.from_json(raw)
    await r.delete(_session_key(grant.session_id))
    return grant


async def issue_token(r: aioredis.Redis, secret: bytes, grant: Grant, ttl: int) -> str:
    token = "cmp_" + secrets.token_urlsafe(32)
    await r.set(_token_key(secret, token), grant.to_json(), ex=ttl)
    return token


async def companion_grant(r: aioredis.Redis, secret: bytes, token: object) -> Grant | None:
    """What a presented companion credential allows, or None (missing, malformed, expired, revoked)."""
    if not isinstance(token, str) or not token.startswith("cmp_") or len(token) > 100:
        return None
    raw = await r.get(_token_key(secret, token))
    return Grant.from_json(raw) if raw is not None else None


async def revoke_token(r: aioredis.Redis, secret: bytes, token: str) -> None:
    await r.delete(_token_key(secret, token))
