"""The web process (`interview-room signaling`): the one entry point that assembles the areas of the HTTP API
(``signaling`` and the packages of ``web/``), the web client and the docs.

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
from interview_room.service import Health, add_health_routes, in_background, run_forever, start_site
from signaling import area as signaling
from web.accounts import area as accounts
from web.accounts.auth import auth_middleware
from web.billing import area as billing
from web.common import http_guard, static
from web.common.context import SERVICES, Services
from web.common.errors import error_middleware, metrics_middleware
from web.common.pruning import Pruner
from web.recruiting import area as recruiting
from web.reports import area as reports
from web.sessions import area as sessions

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

    add_health_routes(app, Health().redis(redis).database(pool))
    # each area registers its routes and starts its background work (cleanup_ctx: with every runner of the app)
    accounts.setup(app)
    signaling.setup(app)
    sessions.setup(app)
    reports.setup(app)
    billing.setup(app)
    recruiting.setup(app)
    in_background(app, "pruning", lambda _: Pruner(pool, cfg.prune_after_days).run())
    static.setup(app)  # last: the web client's route takes every GET path outside /api
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
        log.info("signaling listening on http://%s:%d", cfg.http_host, cfg.http_port)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
            await pool.close()
            await redis.aclose()

    run_forever(run)
