"""Fixed-window attempt counters in Redis (shared by every signaling replica).

``acquire`` checks and counts in one Lua script: of 30 concurrent attempts against a limit of 5, exactly
5 get through and 25 are refused, whatever the interleaving. A refused attempt is not counted, so it never
extends the window. A counter is created with its expiry in the same script, so it never lacks a TTL.
An attempt that turned out not to be one (the password hasher was busy, the account was created) is
given back with ``release``; a successful sign-in clears the per-account counter with ``reset``.

Per-account lockout: after ``max_attempts`` wrong passwords the account's password login waits until the
window (counted from the first failure) ends, for the owner too — otherwise a 200 among 429s would tell the
attacker the password. The owner can still sign in with an e-mailed one-time code (its own counters), other
accounts are not affected, and refused attempts do not prolong the lock.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiohttp import web

from interview_room.config import Config
from web.common.errors import ApiError

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

# KEYS = counters; ARGV = max_1, window_1, max_2, window_2, ...
# Returns 0 when every counter had room (all were incremented), else the 1-based index of the full one
# and its remaining TTL (nothing incremented).
_ACQUIRE = """
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then
    return {i, redis.call('TTL', key)}
  end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 or redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, tonumber(ARGV[2 * i]))
  end
end
return {0, 0}
"""

# gives one counted attempt back (never below zero; DECR keeps the TTL)
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 0
"""


def _key(limit: Limit, subject: str) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]  # no e-mail addresses in Redis keys
    return f"rl:{limit.name}:{digest}"


def _too_many(limit: Limit, ttl: int) -> ApiError:
    log.warning("attempts refused limit=%s retry_after=%ss", limit.name, ttl)
    return ApiError(
        429,
        "too_many_attempts",
        "Too many attempts; please wait a few minutes and try again",
        retry_after_seconds=max(int(ttl), 1),
    )


async def acquire(r: aioredis.Redis, *pairs: tuple[Limit, str]) -> None:
    """Count one attempt against every (limit, subject), atomically; 429 (nothing counted) when one is used up."""
    pairs = tuple((limit, subject) for limit, subject in pairs if limit.max_attempts > 0)
    if not pairs:
        return
    args: list[int] = []
    for limit, _ in pairs:
        args += [limit.max_attempts, limit.window_seconds]
    full, ttl = await r.register_script(_ACQUIRE)(keys=[_key(limit, s) for limit, s in pairs], args=args)
    if int(full):
        raise _too_many(pairs[int(full) - 1][0], int(ttl))


async def release(r: aioredis.Redis, *pairs: tuple[Limit, str]) -> None:
    """Give back an attempt counted by ``acquire`` that did not happen or does not count."""
    keys = [_key(limit, subject) for limit, subject in pairs if limit.max_attempts > 0]
    if keys:
        await r.register_script(_RELEASE)(keys=keys)


async def check(r: aioredis.Redis, *pairs: tuple[Limit, str]) -> None:
    """Refuse with 429 when any (limit, subject) is used up, counting nothing (``acquire`` also counts)."""
    keys = [_key(limit, subject) for limit, subject in pairs]
    values = await r.mget(keys)
    for (limit, _), key, v in zip(pairs, keys, values, strict=True):
        if v is not None and int(v) >= limit.max_attempts:
            raise _too_many(limit, await r.ttl(key))


async def hit(r: aioredis.Redis, *pairs: tuple[Limit, str]) -> None:
    """Count an attempt without checking (after ``check``; racy under concurrency: prefer ``acquire``)."""
    async with r.pipeline(transaction=True) as p:
        for limit, subject in pairs:
            key = _key(limit, subject)
            p.set(key, 0, ex=limit.window_seconds, nx=True)
            p.incr(key)
        await p.execute()


async def reset(r: aioredis.Redis, limit: Limit, subject: str) -> None:
    await r.delete(_key(limit, subject))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def proxy_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES entries (addresses or CIDR ranges) as networks; a bad entry raises ValueError."""
    nets: list[Network] = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR range") from None
    return tuple(nets)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:10.0.0.1 is 10.0.0.1
    return mapped or ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, nets: Iterable[Network]) -> bool:
    return ip is not None and any(ip.version == n.version and ip in n for n in nets)


def client_ip(request: web.Request, cfg: Config) -> str:
    """The peer address, or, when the peer is a trusted proxy, the client it names in X-Forwarded-For.

    Hops are read right to left (each proxy appends the address it saw) and trusted ones skipped: the
    first untrusted hop is the client. What a client writes into the header itself sits further left
    and is never reached, so it cannot choose its own address.
    """
    peer = request.remote or "unknown"
    nets = proxy_networks(tuple(cfg.trusted_proxies))
    if not _trusted(_ip(peer), nets):
        return peer
    client = peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:  # garbage where a proxy should have written an address: stop at the last good one
            break
        client = str(ip)
        if not _trusted(ip, nets):
            break
    return client
