"""The asyncpg pool and the migration runner.

Migrations are the numbered SQL files in ``migrations/``; each is applied once, in order, in a
transaction, under an advisory lock so several processes can start at the same time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from pathlib import Path

import asyncpg

from . import config

log = logging.getLogger("db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_ID = 7_340_001


async def _init_conn(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


CONNECT_TIMEOUT_S = 5.0


async def create_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int | None = None,
    command_timeout_s: float | None = None,
) -> asyncpg.Pool:
    """The pool every process uses. Every query is bounded: ``statement_timeout`` on the server,
    ``command_timeout`` in the client, and connecting gives up after ``CONNECT_TIMEOUT_S``.

    A connection the server dropped (a restart) is noticed by asyncpg and replaced on the next
    acquire; a query that was running on it fails with an error ``unavailable()`` recognises.
    """
    cfg = config.load()
    st = cfg.db_statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
    ct = cfg.db_command_timeout_s if command_timeout_s is None else command_timeout_s
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_conn,
        command_timeout=ct if ct > 0 else None,
        timeout=CONNECT_TIMEOUT_S,
        server_settings={"statement_timeout": str(max(0, st))},
    )
    assert pool is not None
    return pool


_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08: the connection broke
    asyncpg.exceptions.OperatorInterventionError,  # class 57: statement timeout, shutdown, crash, starting up
    asyncpg.exceptions.LockNotAvailableError,  # lock_timeout
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionError,  # refused / reset while the server restarts
)


def unavailable(e: BaseException) -> bool:
    """Is ``e`` the database being down, restarting or too slow (worth a retry), not a bug?"""
    if isinstance(e, _UNAVAILABLE):
        return True
    if isinstance(e, asyncpg.InterfaceError):  # "connection is closed", "pool is closing"
        return "clos" in str(e)
    if isinstance(e, OSError | asyncio.TimeoutError):  # connect failures, command_timeout
        return _from_asyncpg(e)
    return False


def _from_asyncpg(e: BaseException) -> bool:
    return any("asyncpg" in f.filename for f, _ in traceback.walk_tb(e.__traceback__))


def migration_files() -> list[Path]:
    return sorted(p for p in MIGRATIONS_DIR.glob("*.sql"))


async def migrate(url: str) -> list[str]:
    """Apply pending migrations; returns the versions applied now (empty when up to date)."""
    conn = await asyncpg.connect(url)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for path in migration_files():
            version = path.stem
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations(version) VALUES ($1)", version)
            applied_now.append(version)
            log.info("migration applied version=%s", version)
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
        finally:
            await conn.close()
    return applied_now
