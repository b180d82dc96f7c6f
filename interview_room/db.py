"""The asyncpg pool and the migration runner.

Migrations are the numbered SQL files in ``migrations/``; each is applied once, in order, in a
transaction, under an advisory lock so several processes can start at the same time.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import asyncpg

log = logging.getLogger("db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_ID = 7_340_001


async def _init_conn(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=_init_conn)
    assert pool is not None
    return pool


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
