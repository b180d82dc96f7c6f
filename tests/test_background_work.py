"""Background work starts with the app itself (aiohttp cleanup_ctx), so the apps tests build with create_app run it
too, and it stops with the app's cleanup."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiohttp.test_utils import TestServer
from conftest import Infra, until

from interview_room import bus
from interview_room.config import Config
from web.app import create_app

JOBS = ("orphan-reaper", "reminder-sweeper", "answer-time-limit", "candidate-retention", "pruning", "webhook-dispatcher")


def _running() -> set[str]:
    return {t.get_name().split(":")[-1] for t in asyncio.all_tasks() if not t.done()}


async def test_create_app_runs_the_sweepers_and_stops_them_at_cleanup(infra: Infra, pool: asyncpg.Pool) -> None:
    uid = uuid.uuid4()
    await pool.execute("INSERT INTO users (id, email, name) VALUES ($1, $2, 'B')", uid, f"{uid}@example.test")
    stale = f"bg-{uuid.uuid4().hex[:8]}"
    await pool.execute(
        "INSERT INTO auth_tokens (id, user_id, expires_at) VALUES ($1, $2, now() - interval '3 days')", stale, uid
    )
    cfg = Config(
        data_dir=infra.data_dir / "background-work",
        database_url=infra.database_url,
        redis_url=infra.redis_url,
        secret_key="test-secret-key-not-for-production",
    )
    redis = bus.connect(infra.redis_url)
    app_pool = await asyncpg.create_pool(infra.database_url, min_size=1, max_size=3)
    app = create_app(cfg, app_pool, redis, web_root=None, docs_root=None)
    assert not set(JOBS) & _running()
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        assert set(JOBS) <= _running(), sorted(set(JOBS) - _running())
        # the pruning pass that runs at start removes the login that expired days ago
        gone = "SELECT NOT EXISTS (SELECT 1 FROM auth_tokens WHERE id = $1)"
        await until(lambda: pool.fetchval(gone, stale), 60, "pruning removes the stale login")
    finally:
        await server.close()
        await app_pool.close()
        await redis.aclose()
    assert not set(JOBS) & _running(), sorted(set(JOBS) & _running())
