"""Fixed-window attempt counters in Redis (shared by every signaling replica).

A counter is created with its expiry and incremented in one MULTI, so it can never be left
without a TTL.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiohttp import web

from interview_room.config import Config

from .errors import ApiError

log = logging.getLogger("signaling.ratelimit")


@dataclass(frozen=True)
class Limit:
    name: str
    max_attempts: int
    window_seconds: int


LOGIN_PER_EMAIL = Limit("login:email", 5, 900)
LOGIN_PER_IP = Limit("login:ip", 20, 900)
CODE_PER_EMAIL = Limit("code:email", 5, 900)
CODE_PER_IP = Limit("code:ip", 20, 900)
SEND_PER_EMAIL = Limit("send:email", 5, 900)
SEND_PER_IP = Limit("send:ip", 20, 900)


def _key(limit: Limit, subject: str) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]  # no e-mail addresses in Redis keys
    return f"rl:{limit.name}:{digest}"


async def check(r: aioredis.Redis, *pairs: tuple[Limit, str]) -> None:
    """Refuse with 429 when any (limit, subject) is used up."""
    keys = [_key(limit, subject) for limit, subject in pairs]
    values = await r.mget(keys)
    for (limit, _), key, v in zip(pairs, keys, values, strict=True):
        if v is not None and int(v) >= limit.max_attempts:
            ttl = await r.ttl(key)
            log.warning("attempts refused limit=%s retry_after=%ss", limit.name, ttl)
            raise ApiError(
                429,
                "too_many_attempts",
                "Too many attempts; please wait a few minutes and try again",
                retry_after_seconds=max(int(ttl), 1),
            )


async def hit(r: aioredis.Redis, *pairs: tuple[Limit, str]) -> None:
    async with r.pipeline(transaction=True) as p:
        for limit, subject in pairs:
            key = _key(limit, subject)
            p.set(key, 0, ex=limit.window_seconds, nx=True)
            p.incr(key)
        await p.execute()


async def reset(r: aioredis.Redis, limit: Limit, subject: str) -> None:
    await r.delete(_key(limit, subject))


def client_ip(request: web.Request, cfg: Config) -> str:
    """The peer address, or the client named by X-Forwarded-For when the peer is a trusted proxy."""
    peer = request.remote or "unknown"
    if peer not in cfg.trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in cfg.trusted_proxies:
            return hop
    return peer
