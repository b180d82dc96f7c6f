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
        orphan = await _live_session(pool, "http://127.0.0.1:9")  # no node registers this url
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
