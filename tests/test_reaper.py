"""Sessions a dead media node left live are ended after a grace period; resumable ones are not."""

from __future__ import annotations

import json
import uuid

import asyncpg

from interview_room import bus, registry
from interview_room.messages import LlmJob
from signaling.reaper import OrphanReaper

mine: list[str] = []


async def _live_session(pool: asyncpg.Pool, node: str) -> str:
    uid, sid = uuid.uuid4(), uuid.uuid4()
    await pool.execute("INSERT INTO users (id, email) VALUES ($1, $2)", uid, f"{uid}@example.test")
    await pool.execute(
        "INSERT INTO sessions (id, user_id, status, media_node, started_at) VALUES ($1, $2, 'live', $3, now())",
        sid,
        uid,
        node,
    )
    mine.append(str(sid))
    return str(sid)


async def test_orphaned_live_session_is_ended_after_grace(infra, pool: asyncpg.Pool) -> None:
    r = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/5")
    try:
        alive_url = f"http://127.0.0.1:{uuid.uuid4().int % 20000 + 30000}"
        await registry.register(r, f"test-{uuid.uuid4().hex[:6]}", json.dumps({"url": alive_url, "sessions": 1}), 60)
        on_alive = await _live_session(pool, alive_url)
        # a node that registered here once and is gone (its registry key expired)
        await r.sadd(bus.KNOWN_MEDIA_NODES, "http://127.0.0.1:9")
        orphan = await _live_session(pool, "http://127.0.0.1:9")
        reaper = OrphanReaper(pool, r, grace_s=100)

        assert orphan not in await reaper.sweep(now=1000.0)  # first seen: the client may still come back
        assert await pool.fetchval("SELECT status FROM sessions WHERE id = $1", orphan) == "live"
        assert orphan in await reaper.sweep(now=1101.0)
        assert await pool.fetchval("SELECT status FROM sessions WHERE id = $1", orphan) == "ended"
        assert await pool.fetchval("SELECT status FROM sessions WHERE id = $1", on_alive) == "live"
        jobs = [LlmJob.from_fields(f) for _, f in await r.xrange(bus.LLM_JOBS)]
        assert [j.kind for j in jobs if j.session_id == orphan] == ["session_end"]
        assert await reaper.sweep(now=1300.0) == []  # idempotent

        # a session that a client re-offered onto a live node in time is left alone
        moved = await _live_session(pool, "http://127.0.0.1:9")
        await reaper.sweep(now=2000.0)
        await pool.execute("UPDATE sessions SET media_node = $2 WHERE id = $1", moved, alive_url)
        assert moved not in await reaper.sweep(now=2200.0)
        assert await pool.fetchval("SELECT status FROM sessions WHERE id = $1", moved) == "live"
    finally:
        await pool.execute("UPDATE sessions SET status = 'ended' WHERE id = ANY($1::uuid[])", [uuid.UUID(x) for x in mine])
        await r.aclose()


async def test_sessions_of_another_clusters_nodes_are_left_alone(infra, pool: asyncpg.Pool) -> None:
    """Two clusters sharing one database (as the test modules do, each on its own Redis database): a reaper ends
    only sessions held by nodes that registered in its own Redis, whatever it cannot see of the others."""
    mine_r = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/6")
    other_r = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/7")
    try:
        other_url = f"http://127.0.0.1:{uuid.uuid4().int % 20000 + 30000}"
        await other_r.set(f"media:node:other-{uuid.uuid4().hex[:6]}", json.dumps({"url": other_url}), ex=60)
        await other_r.sadd(bus.KNOWN_MEDIA_NODES, other_url)
        theirs = await _live_session(pool, other_url)
        reaper = OrphanReaper(pool, mine_r, grace_s=100)
        assert theirs not in await reaper.sweep(now=1000.0)
        assert theirs not in await reaper.sweep(now=5000.0)
        assert await pool.fetchval("SELECT status FROM sessions WHERE id = $1", theirs) == "live"
        # the other cluster's own reaper still ends it once its node is gone
        await other_r.delete(*[k async for k in other_r.scan_iter(match="media:node:other-*")])
        theirs_reaper = OrphanReaper(pool, other_r, grace_s=100)
        assert theirs not in await theirs_reaper.sweep(now=1000.0)
        assert theirs in await theirs_reaper.sweep(now=1101.0)
    finally:
        await pool.execute("UPDATE sessions SET status = 'ended' WHERE id = ANY($1::uuid[])", [uuid.UUID(x) for x in mine])
        await mine_r.aclose()
        await other_r.aclose()
