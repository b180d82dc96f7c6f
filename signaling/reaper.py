"""Ends sessions left ``live`` by a media node that died and that no client brought back.

A node that dies cannot end its sessions; its registry key expires within seconds. Such a
session (on a node that registered in this Redis, ``bus.KNOWN_MEDIA_NODES``: a session held by a node of
another Redis, another cluster sharing the database, is not this reaper's to judge) stays resumable for ``grace_s`` (the client re-offers and is placed on another node,
which marks it live there); after that it is ended, so history, billing and the mock report
(the llm worker's ``session_end``) see it finished. Idempotent, so every signaling replica may run it.
"""

from __future__ import annotations

import logging
import time

import asyncpg
import redis.asyncio as aioredis

from interview_room import bus
from interview_room.messages import LlmJob
from interview_room.service import every
from interview_room.store import sessions

from . import media_nodes

log = logging.getLogger("signaling.reaper")

GRACE_S = 600.0
INTERVAL_S = 30.0


class OrphanReaper:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, *, grace_s: float = GRACE_S) -> None:
        self.pool = pool
        self.redis = redis
        self.grace_s = grace_s
        self._orphaned_since: dict[str, float] = {}

    async def sweep(self, now: float | None = None) -> list[str]:
        """One pass; returns the ids of the sessions it ended."""
        now = time.monotonic() if now is None else now
        up = {n.url for n in await media_nodes.live_nodes(self.redis)}
        known = {m.decode() if isinstance(m, bytes) else m for m in await self.redis.smembers(bus.KNOWN_MEDIA_NODES)}
        orphans = {
            p.session_id: p.media_node
            for p in await sessions.live_placements(self.pool)
            if p.media_node.rstrip("/") not in up and p.media_node.rstrip("/") in known
        }
        for sid in list(self._orphaned_since):
            if sid not in orphans:
                del self._orphaned_since[sid]  # back on a node, or ended
        ended: list[str] = []
        for sid, node in orphans.items():
            since = self._orphaned_since.setdefault(sid, now)
            if now - since < self.grace_s:
                continue
            done = await sessions.end_orphan(self.pool, sid, node)
            self._orphaned_since.pop(sid, None)
            if done:
                job = LlmJob(kind="session_end", session_id=sid, payload={"reason": "media_node_lost"})
                await bus.add_once(self.redis, f"llm:session_end:{sid}", bus.LLM_JOBS, job.to_fields()["data"])
                log.warning("ended a session its dead media node left live session=%s node=%s", sid, node)
                ended.append(sid)
        return ended

    async def run(self, interval_s: float = INTERVAL_S) -> None:
        await every(interval_s, self.sweep, "orphan sweep")
