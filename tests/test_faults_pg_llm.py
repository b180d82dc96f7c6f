"""A PostgreSQL crash-restart while the llm worker stores an answer: the answer is not lost.

The worker runs in this process as in tests/test_llm_worker.py (its own job stream), on an embedded
PostgreSQL and Redis of this module's own: the test stops that PostgreSQL the way a crash does
right when the answer's text is complete, and starts it again a little later. The caption job that
started the answer has been handled by then, so nothing else would write the answer again
(loadtests/chaos.py lost answers this way).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from conftest import embedded_infra

from ai_sidecar.llm.offline import OFFLINE_HEADER, OfflineProvider
from ai_sidecar.llm.provider import AnswerContext
from interview_room import bus, db
from interview_room.embedded import EmbeddedPostgres
from interview_room.store import insights
from tests.test_llm_worker import Q_PROCESS, assert_answer_stream, done_count, new_session, running

RESTART_AFTER_S = 2.0  # PostgreSQL stays down this long after the crash


class Pg:
    def __init__(self, pg: EmbeddedPostgres) -> None:
        self.pg = pg

    def crash(self) -> None:
        """No checkpoint, every backend killed at once."""
        pgdata = str(self.pg.folder / "pgdata")
        self.pg._run([self.pg._bin("pg_ctl"), "-D", pgdata, "-m", "immediate", "-w", "stop"], timeout=90)

    def start(self) -> None:
        self.pg.start()


@pytest.fixture(scope="module")
def pg_infra() -> Iterator[tuple[Any, Pg]]:
    with embedded_infra("ir-faults-pg-llm-") as (infra, pg):
        yield infra, Pg(pg)


@pytest_asyncio.fixture
async def own_pool(pg_infra: tuple[Any, Pg]) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(pg_infra[0].database_url)
    yield p
    await p.close()


@pytest_asyncio.fixture
async def own_r(pg_infra: tuple[Any, Pg]) -> AsyncIterator[aioredis.Redis]:
    client = bus.connect(pg_infra[0].redis_url)
    yield client
    await client.aclose()


class CrashingProvider(OfflineProvider):
    """The offline answer; once its text is complete, PostgreSQL crashes and restarts a little later."""

    def __init__(self, pg: Pg) -> None:
        super().__init__()
        self.pg = pg
        self.crashed = threading.Event()
        self.restarted = threading.Event()
        self.restart_error: BaseException | None = None

    async def answer(self, ctx: AnswerContext) -> AsyncIterator[str]:
        async for delta in super().answer(ctx):
            yield delta
        # the answer's text is complete: the worker stores it next, into a database that is gone
        await asyncio.to_thread(self.pg.crash)
        self.crashed.set()
        threading.Thread(target=self._restart_later, daemon=True).start()

    def _restart_later(self) -> None:
        try:
            time.sleep(RESTART_AFTER_S)
            self.pg.start()
        except BaseException as e:  # reported by the test, not lost in a thread
            self.restart_error = e
        finally:
            self.restarted.set()


async def test_an_answer_stored_through_a_postgres_crash_restart_is_stored_and_sent(
    pg_infra: tuple[Any, Pg], own_pool: asyncpg.Pool, own_r: aioredis.Redis
) -> None:
    _, pg = pg_infra
    sid = await new_session(own_pool)
    provider = CrashingProvider(pg)
    try:
        async with running(own_r, own_pool, provider) as h:
            await h.caption(sid, "interviewer", Q_PROCESS)
            evs = await h.events(sid, done_count(), timeout=90)
    finally:
        # PostgreSQL is running again whatever happened (the next test of the module needs it)
        if provider.crashed.is_set():
            await asyncio.to_thread(provider.restarted.wait, 120)
    assert provider.crashed.is_set() and provider.restarted.is_set() and provider.restart_error is None
    q = next(e for e in evs if e.type == "question")
    text = assert_answer_stream(evs, q.id)  # type: ignore[attr-defined]
    assert text.startswith(OFFLINE_HEADER) and "address space" in text
    rows = await insights.session_insights(own_pool, sid)
    assert [row["id"] for row in rows] == [q.id]  # type: ignore[attr-defined]
    assert rows[0]["answer"]["text"] == text and rows[0]["answer"]["provider"] == "offline"
