"""Migrations build the whole schema on an empty database, exactly once, even when several
processes start together."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest_asyncio

from interview_room import db


def empty_db_fixture(prefix: str) -> Any:
    """A fixture ``empty_db``: the URL of a new empty database named ``prefix_…``, dropped after the test."""

    @pytest_asyncio.fixture(name="empty_db")
    async def empty_db(infra: Any) -> AsyncIterator[str]:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(infra.database_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            yield infra.database_url.rsplit("/", 1)[0] + f"/{name}"
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    return empty_db


empty_db = empty_db_fixture("ir_migrate")


async def test_migrations_apply_once_on_an_empty_database(empty_db: str) -> None:
    versions = [p.stem for p in db.migration_files()]
    assert versions[0] == "001_core" and versions == sorted(versions)
    assert await db.migrate(empty_db) == versions
    assert await db.migrate(empty_db) == []

    conn = await asyncpg.connect(empty_db)
    try:
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert tables >= {
            "users", "auth_tokens", "login_codes", "sessions", "captions", "questions",
            "answers", "translations", "scores", "credit_ledger", "schema_migrations",
        }  # fmt: skip
        assert [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")] == versions
    finally:
        await conn.close()


async def test_concurrent_starts_apply_each_migration_once(empty_db: str) -> None:
    results = await asyncio.gather(db.migrate(empty_db), db.migrate(empty_db), db.migrate(empty_db))
    applied = [v for r in results for v in r]
    assert sorted(applied) == [p.stem for p in db.migration_files()]
    assert sum(1 for r in results if r) == 1
