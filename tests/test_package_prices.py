"""Migration 014: the new package prices in a fresh database; packages an administrator edited keep their values."""

from __future__ import annotations

import asyncpg
from test_migrations import empty_db_fixture

from interview_room import db

NEW = {"starter": (18000, 999), "professional": (54000, 2499), "enterprise": (180000, 7999)}


empty_db = empty_db_fixture("ir_prices")


async def _packages(url: str) -> dict[str, tuple[int, int, str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT id, seconds, price_cents, kind FROM packages")
    finally:
        await conn.close()
    return {r["id"]: (r["seconds"], r["price_cents"], r["kind"]) for r in rows}


async def test_a_fresh_database_has_the_new_prices(empty_db: str) -> None:
    await db.migrate(empty_db)
    pk = await _packages(empty_db)
    for pid, (seconds, cents) in NEW.items():
        assert pk[pid] == (seconds, cents, "one_time")
    assert pk["free"] == (7200, 0, "one_time")  # the free grant stays
    assert pk["pro_monthly"] == (72000, 3900, "monthly")  # the monthly plan stays


async def test_packages_an_admin_edited_keep_their_values(empty_db: str) -> None:
    conn = await asyncpg.connect(empty_db)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for path in db.migration_files():
            if path.stem >= "014":
                break
            await conn.execute(path.read_text())
            await conn.execute("INSERT INTO schema_migrations(version) VALUES ($1)", path.stem)
        # an administrator changed Enterprise's price and Professional's hours before the upgrade
        await conn.execute("UPDATE packages SET price_cents = 12000 WHERE id = 'enterprise'")
        await conn.execute("UPDATE packages SET seconds = 60000 WHERE id = 'professional'")
    finally:
        await conn.close()
    assert "014_package_prices" in await db.migrate(empty_db)
    pk = await _packages(empty_db)
    assert pk["starter"] == (18000, 999, "one_time")
    assert pk["enterprise"] == (180000, 12000, "one_time")
    assert pk["professional"] == (60000, 4900, "one_time")
    assert pk["pro_monthly"] == (72000, 3900, "monthly")
