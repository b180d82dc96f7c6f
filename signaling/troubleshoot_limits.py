"""How many troubleshooting peers one user may open: a few at once, a few per minute.

Counted in Redis so the limits hold across signaling replicas. A user's open peers are a sorted set
(member = peer id, score = when the node closes it at the latest); a slot is taken before the offer
is forwarded (so a burst of simultaneous offers cannot all pass), given back when the node refuses
the offer, and freed by the node when the peer closes (or by its expiry). Attempts per minute are a
fixed-window counter created with its expiry in the same MULTI.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from interview_room.internal_api import TROUBLESHOOT_SECONDS, troubleshoot_peers_key
from web.common.errors import ApiError

log = logging.getLogger("signaling.troubleshoot")

SLOT_SLACK_SECONDS = 30.0  # the node's clock starts once it has answered (ICE gathering first)
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class TroubleshootLimits:
    at_once: int  # 0 = no limit
    per_minute: int  # 0 = no limit


def _rate_key(user_id: str) -> str:
    return f"troubleshoot:rate:{user_id}"


async def reserve(r: aioredis.Redis, user_id: str, limits: TroubleshootLimits) -> str:
    """A slot for one more troubleshooting peer of ``user_id`` (its peer id), or ApiError 429."""
    now = time.time()
    peers_key = troubleshoot_peers_key(user_id)
    peer_id = uuid.uuid4().hex
    async with r.pipeline(transaction=True) as p:
        p.set(_rate_key(user_id), 0, ex=WINDOW_SECONDS, nx=True)
        p.incr(_rate_key(user_id))
        p.ttl(_rate_key(user_id))
        p.zremrangebyscore(peers_key, "-inf", now)
        p.zadd(peers_key, {peer_id: now + TROUBLESHOOT_SECONDS + SLOT_SLACK_SECONDS})
        p.expire(peers_key, int(TROUBLESHOOT_SECONDS + SLOT_SLACK_SECONDS) + 60)
        p.zrange(peers_key, 0, -1, withscores=True)
        res = await p.execute()
    attempts, ttl, peers = int(res[1]), int(res[2]), res[6]
    if limits.per_minute > 0 and attempts > limits.per_minute:
        await release(r, user_id, peer_id)
        log.warning("troubleshooting refused: %d attempts this minute", attempts)
        raise ApiError(
            429,
            "troubleshoot_rate_limited",
            f"At most {limits.per_minute} connection tests a minute; please wait and try again",
            retry_after_seconds=max(ttl, 1),
        )
    others = [score for member, score in peers if (member.decode() if isinstance(member, bytes) else member) != peer_id]
    if limits.at_once > 0 and len(others) >= limits.at_once:
        await release(r, user_id, peer_id)
        log.warning("troubleshooting refused: %d peers open", len(others))
        raise ApiError(
            429,
            "too_many_troubleshoot_peers",
            f"At most {limits.at_once} connection tests may run at once; close one and try again",
            retry_after_seconds=max(1, math.ceil(min(others) - now)),
        )
    return peer_id


async def release(r: aioredis.Redis, user_id: str, peer_id: str) -> None:
    await r.zrem(troubleshoot_peers_key(user_id), peer_id)
