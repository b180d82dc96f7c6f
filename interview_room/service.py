"""Running a process: signals, /health and /metrics for workers, owned background tasks."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import retry

log = logging.getLogger("service")


Check = Callable[[], Awaitable[str | None]]  # None = fine, else what is wrong
CHECK_TIMEOUT_S = 2.0


class Health:
    """What ``/health`` checks: each check returns None when fine or a short text saying what is wrong.

    ``/health`` answers 200 ``{"status": "ok"}`` or 503 ``{"status": "fail", "problems": {name: text}}``,
    so an orchestrator restarts a process whose consumer loop, Redis or database connection is down.
    """

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> Health:
        self.checks[name] = check
        return self

    def redis(self, r: Any) -> Health:
        async def ping() -> str | None:
            await r.ping()
            return None

        return self.add("redis", ping)

    def database(self, pool: Any) -> Health:
        async def select() -> str | None:
            await pool.fetchval("SELECT 1")
            return None

        return self.add("database", select)

    def task(self, name: str, get: Callable[[], asyncio.Task[Any] | None], healthy: Callable[[], str | None] | None = None) -> Health:
        """A background loop: wrong when its task has ended (or ``healthy`` says what is wrong)."""

        async def alive() -> str | None:
            t = get()
            if t is None or t.done():
                return "stopped"
            return healthy() if healthy is not None else None

        return self.add(name, alive)

    async def problems(self) -> dict[str, str]:
        async def one(check: Check) -> str | None:
            try:
                return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
            except TimeoutError:
                return "no answer"
            except Exception as e:
                return f"{type(e).__name__}: {e}"[:200]

        names = list(self.checks)
        results = await asyncio.gather(*(one(self.checks[n]) for n in names))
        return {n: r for n, r in zip(names, results, strict=True) if r is not None}

    async def handle(self, _: web.Request) -> web.Response:
        problems = await self.problems()
        if problems:
            log.warning("health check failed problems=%s", problems)
            return web.json_response({"status": "fail", "problems": problems}, status=503)
        return web.json_response({"status": "ok"})


async def metrics(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_health_routes(app: web.Application, health: Health | None = None) -> Health:
    """``/health`` (the checks of ``health``; none = always ok) and ``/metrics``."""
    h = health or Health()
    app.router.add_get("/health", h.handle)
    app.router.add_get("/metrics", metrics)
    return h


async def start_site(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def every(interval_s: float, sweep: Callable[[], Awaitable[Any]], what: str) -> None:
    """Run ``sweep`` now and then every ``interval_s`` for ever; a failed pass is logged, the next one
    runs (``retry.every``: Redis or PostgreSQL away is retried with backoff)."""
    await retry.every(interval_s, sweep, what)


def in_background(app: web.Application, name: str, start: Callable[[web.Application], Coroutine[Any, Any, Any]]) -> None:
    """Run ``start(app)`` for as long as ``app`` runs, through aiohttp's ``cleanup_ctx``: it starts with every
    runner of the app (the in-process apps tests build too), a failure is logged at once, and it is cancelled at
    the app's cleanup before the ``on_cleanup`` handlers close the pools."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        group = TaskGroup(name)
        group.spawn(start(app), name)
        yield
        await group.close()

    app.cleanup_ctx.append(ctx)


class TaskGroup:
    """Owns background tasks: logs a failure the moment it happens, cancels all on close."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        t = asyncio.create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(t)
        t.add_done_callback(self._done)
        return t

    def _done(self, t: asyncio.Task[Any]) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("background task failed task=%s", t.get_name(), exc_info=t.exception())

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def run_forever(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop_event)`` until SIGINT/SIGTERM sets the event."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
