"""The signaling process: the HTTP API, the web client, and offers forwarded to media nodes.

Stateless: users, tokens and sessions live in Postgres, rate limits and the media node registry
in Redis, so any number of replicas can run behind a load balancer (with one SECRET_KEY).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from interview_room import bus, config, db
from interview_room.config import Config
from interview_room.internal_api import internal_token
from interview_room.service import Health, add_health_routes, run_forever, start_site

from . import (
    account_routes,
    analytics_routes,
    auth_routes,
    billing,
    companion_routes,
    http_guard,
    passwords,
    ratelimit,
    recruiting,
    report_routes,
    screen_routes,
    session_routes,
    static,
    summary_routes,
)
from .auth import auth_middleware
from .context import SERVICES, Services
from .errors import error_middleware, metrics_middleware
from .pruning import Pruner
from .reaper import OrphanReaper
from .recruiting import webhooks
from .recruiting.answer_limits import AnswerTimeLimit
from .recruiting.ats_events import ClosedSweeper
from .recruiting.erase import RetentionSweeper
from .recruiting.reminders import ReminderSweeper

log = logging.getLogger("signaling")

ROOT = Path(__file__).resolve().parent.parent


def create_app(
    cfg: Config,
    pool: asyncpg.Pool,
    redis: aioredis.Redis,
    *,
    web_root: Path | None = ROOT / "web_client",
    docs_root: Path | None = ROOT / "docs",
) -> web.Application:
    app = web.Application(
        client_max_size=cfg.max_body_bytes,
        middlewares=[metrics_middleware, error_middleware, http_guard.guard_middleware, auth_middleware],
    )
    http_guard.setup(app, cfg)
    passwords.setup(cfg)
    ratelimit.proxy_networks(tuple(cfg.trusted_proxies))  # a bad TRUSTED_PROXIES entry stops the start
    svc = Services(
        cfg=cfg,
        pool=pool,
        redis=redis,
        secret=config.secret_key(cfg).encode(),
        internal_token=internal_token(cfg),
        web_root=web_root if web_root is not None and web_root.is_dir() else None,
        docs_root=docs_root if docs_root is not None and docs_root.is_dir() else None,
    )
    app[SERVICES] = svc

    async def _close(_: web.Application) -> None:
        await svc.close()

    app.on_cleanup.append(_close)

    async def _start(_: web.Application) -> None:
        # in every runner of this app (the in-process test apps too), unlike the reaper spawned in main()
        svc.tasks.spawn(app[webhooks.DISPATCHER].run(), "webhook-dispatcher")

    app.on_startup.append(_start)
    add_health_routes(app, Health().redis(redis).database(pool))
    auth_routes.add_routes(app)
    account_routes.add_routes(app)
    session_routes.add_routes(app)
    screen_routes.add_routes(app)
    summary_routes.add_routes(app)
    analytics_routes.add_routes(app)
    companion_routes.add_routes(app)
    report_routes.add_routes(app)
    billing.setup(app, cfg)
    recruiting.setup(app)
    static.add_routes(app, svc.web_root, svc.docs_root)
    return app


def main(cfg: Config) -> None:
    if not cfg.secret_key:
        log.warning("SECRET_KEY is not set; using a key kept in DATA_DIR (set one when running several replicas)")

    async def run(stop: asyncio.Event) -> None:
        await db.migrate(cfg.database_url)
        pool = await db.create_pool(cfg.database_url)
        redis = bus.connect(cfg.redis_url)
        app = create_app(cfg, pool, redis)
        runner = await start_site(app, cfg.http_host, cfg.http_port)
        app[SERVICES].tasks.spawn(OrphanReaper(pool, redis).run(), "orphan-reaper")
        app[SERVICES].tasks.spawn(ReminderSweeper(app[SERVICES]).run(), "reminder-sweeper")
        app[SERVICES].tasks.spawn(AnswerTimeLimit(app[SERVICES]).run(), "answer-time-limit")
        app[SERVICES].tasks.spawn(RetentionSweeper(app[SERVICES]).run(), "candidate-retention")
        app[SERVICES].tasks.spawn(ClosedSweeper(app[SERVICES], app).run(), "interview-closed-events")
        app[SERVICES].tasks.spawn(Pruner(pool, cfg.prune_after_days).run(), "pruning")
        log.info("signaling listening on http://%s:%d", cfg.http_host, cfg.http_port)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
            await pool.close()
            await redis.aclose()

    run_forever(run)
