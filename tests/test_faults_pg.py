"""PostgreSQL failures mid-session: a crash-restart and a hung (locked) database.

The stack here has its own embedded PostgreSQL and Redis (this module kills and restarts its
PostgreSQL; the other tests' servers are not touched). What a user sees: a request the database
cannot serve gets a 503 ``database_unavailable`` JSON with ``Retry-After`` (never a hang or a 500),
the API works again once the database is back, and the captions of what was said while it was
down arrive late but arrive.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from conftest import Part, Stack, embedded_infra, stack_env, start_stack, until, verified_client

from interview_room import db
from interview_room.embedded import EmbeddedPostgres
from loadtests.client import FIXTURES, RoomClient, WavTrack

SCRIPT = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav", "q_url_shortener.wav"]
STATEMENT_TIMEOUT_MS = 1500


class PgStack:
    def __init__(self, stack: Stack, pg: EmbeddedPostgres) -> None:
        self.stack = stack
        self.pg = pg

    def pg_ctl(self, *args: str) -> None:
        self.pg._run([self.pg._bin("pg_ctl"), "-D", str(self.pg.folder / "pgdata"), *args], timeout=90)

    def crash(self) -> None:
        """Stop PostgreSQL the way a crash does: no checkpoint, every backend killed at once."""
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def start(self) -> None:
        self.pg.start()


@pytest.fixture(scope="module")
def pgstack() -> Iterator[PgStack]:
    with embedded_infra("ir-faults-pg-") as (infra, pg):
        env = stack_env(
            infra,
            STT_THREADS="1",
            STT_CLAIM_IDLE_MS="2000",  # a segment whose caption could not be stored is retried soon
            DB_STATEMENT_TIMEOUT_MS=str(STATEMENT_TIMEOUT_MS),
        )
        with start_stack(infra, env, "signaling", "media", "stt", Part("llm", wait=False)) as s:
            yield PgStack(s, pg)


@pytest_asyncio.fixture
async def own_pool(pgstack: PgStack) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(pgstack.stack.infra.database_url, statement_timeout_ms=0, command_timeout_s=0)
    yield p
    await p.close()


async def get(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, Any, dict[str, str]]:
    """GET with a client timeout far above the server's bounds: a hang shows up as a TimeoutError."""
    async with http.get(
        url, headers={"Authorization": f"Bearer {token}"}, timeout=aiohttp.ClientTimeout(total=60)
    ) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)


def assert_db_unavailable(status: int, body: Any, headers: dict[str, str]) -> None:
    assert status == 503, (status, body)
    assert body["error"]["code"] == "database_unavailable", body
    assert int(headers["Retry-After"]) > 0


async def new_user(pgstack: PgStack) -> RoomClient:
    stack = pgstack.stack  # its own database: marked verified there, as entering the e-mailed code does
    return await verified_client(
        stack.base_url, "faults", "faults password 123", "Faults", database_url=stack.infra.database_url
    )


async def test_a_locked_table_gives_503_within_the_statement_timeout(
    pgstack: PgStack, own_pool: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    base = pgstack.stack.base_url
    c = await new_user(pgstack)
    try:
        await c.create_session(title="locked")
        assert c.token
        async with own_pool.acquire() as conn, conn.transaction():
            # a stuck transaction holds the table: every read of it waits for the lock
            await conn.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
            status, body, headers = await get(http, f"{base}/api/sessions", c.token)
            assert_db_unavailable(status, body, headers)
        status, body, _ = await get(http, f"{base}/api/sessions", c.token)
        assert status == 200 and [s["title"] for s in body["sessions"]] == ["locked"], body
    finally:
        await c.close()


async def test_a_request_in_flight_when_postgres_crashes_gets_503_and_the_api_recovers(
    pgstack: PgStack, own_pool: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    base = pgstack.stack.base_url
    c = await new_user(pgstack)
    assert c.token
    try:
        await c.create_session(title="crash")
        # a request held in flight by a lock, then the server dies under it
        conn = await own_pool.acquire()
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        in_flight = asyncio.create_task(get(http, f"{base}/api/sessions", c.token))
        await asyncio.sleep(0.3)
        assert not in_flight.done()
        await asyncio.to_thread(pgstack.crash)
        await own_pool.release(conn)
        assert_db_unavailable(*await in_flight)
        # while it is down: 503 again, never a hang
        assert_db_unavailable(*await get(http, f"{base}/api/sessions", c.token))
        await asyncio.to_thread(pgstack.start)

        async def served() -> bool:
            status, body, headers = await get(http, f"{base}/api/sessions", c.token)
            if status != 200:
                assert_db_unavailable(status, body, headers)
            return status == 200

        await until(served, 60, "the API did not come back after PostgreSQL restarted", 0.2)
        status, body, _ = await get(http, f"{base}/api/sessions", c.token)
        assert status == 200 and [s["title"] for s in body["sessions"]] == ["crash"], body
    finally:
        await c.close()


async def test_captions_spoken_around_a_crash_restart_arrive(pgstack: PgStack, own_pool: asyncpg.Pool) -> None:
    c = await new_user(pgstack)
    try:
        s = await c.create_session(title="captions through a crash", listen_language="en")
        track = WavTrack([FIXTURES / f for f in SCRIPT], gap=2.0)
        await c.connect(s["id"], [("interviewer", track)])

        def finals() -> list[dict[str, Any]]:
            return [e for e in c.received if e.get("type") == "caption" and e.get("final")]

        async def first() -> bool:
            return bool(finals())

        await until(first, 120, "no caption before the crash", 0.2)
        # PostgreSQL is down while the next utterances are spoken and transcribed
        await asyncio.to_thread(pgstack.crash)
        await asyncio.sleep(4)
        await asyncio.to_thread(pgstack.start)
        await c.wait_played(timeout=120)

        async def all_stored() -> bool:
            n = await own_pool.fetchval("SELECT count(*) FROM captions WHERE session_id = $1", uuid.UUID(s["id"]))
            return n >= len(SCRIPT) and len(finals()) >= len(SCRIPT)

        await until(all_stored, 180, f"fewer than {len(SCRIPT)} captions stored/received after the restart", 0.2)
        stored = await own_pool.fetch("SELECT id FROM captions WHERE session_id = $1", uuid.UUID(s["id"]))
        assert {r["id"] for r in stored} >= {e["id"] for e in finals()}
    finally:
        await c.close()
