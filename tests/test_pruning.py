"""Tables that only grow are pruned: expired logins after a day, gateway events and ATS webhook logs after retention."""

from __future__ import annotations

import uuid

import asyncpg

from web.common.pruning import Pruner


async def _user(pool: asyncpg.Pool) -> uuid.UUID:
    uid = uuid.uuid4()
    await pool.execute("INSERT INTO users (id, email, name) VALUES ($1, $2, 'P')", uid, f"{uid}@example.test")
    return uid


async def test_expired_logins_and_old_webhook_rows_are_pruned_and_live_ones_kept(pool: asyncpg.Pool) -> None:
    uid = await _user(pool)
    tag = uuid.uuid4().hex[:8]
    tokens = {
        "old-expired": "now() - interval '2 days'",
        "just-expired": "now() - interval '1 hour'",
        "live": "now() + interval '7 days'",
    }
    for name, expires in tokens.items():
        await pool.execute(
            f"INSERT INTO auth_tokens (id, user_id, expires_at) VALUES ($1, $2, {expires})", f"{tag}-{name}", uid
        )
    await pool.execute(
        "INSERT INTO auth_tokens (id, user_id, expires_at, revoked_at) VALUES ($1, $2, now() + interval '5 days', now() - interval '3 days')",
        f"{tag}-revoked",
        uid,
    )
    email = f"{tag}@example.test"
    for expires in ("now() - interval '3 days'", "now() + interval '10 minutes'"):
        await pool.execute(f"INSERT INTO login_codes (email, code_hash, expires_at) VALUES ($1, 'h', {expires})", email)
    for eid, received in ((f"{tag}-old", "now() - interval '100 days'"), (f"{tag}-new", "now() - interval '1 day'")):
        await pool.execute(
            f"INSERT INTO webhook_events (gateway, id, type, received_at) VALUES ('stripe', $1, 't', {received})", eid
        )
    org = uuid.uuid4()
    await pool.execute(
        "INSERT INTO organisations (id, name, owner_id, webhook_secret) VALUES ($1, 'O', $2, 's')", org, uid
    )
    for age in ("100 days", "1 day"):
        await pool.execute(
            "INSERT INTO webhook_deliveries (org_id, event, delivery_id, url, attempt, ok, created_at) "
            f"VALUES ($1, 'candidate.completed', $2, 'http://x', 1, true, now() - interval '{age}')",
            org,
            uuid.uuid4(),
        )
    outbox = {
        "delivered-old": ("delivered", "100 days"),
        "failed-old": ("failed", "100 days"),
        "pending-old": ("pending", "100 days"),
        "delivered-new": ("delivered", "1 day"),
    }
    ids = {}
    for name, (state, age) in outbox.items():
        ids[name] = uuid.uuid4()
        await pool.execute(
            "INSERT INTO webhook_outbox (delivery_id, org_id, event, url, body, state, updated_at) "
            f"VALUES ($1, $2, 'candidate.completed', 'http://x', '{{}}', $3, now() - interval '{age}')",
            ids[name],
            org,
            state,
        )

    removed = await Pruner(pool, keep_days=90).sweep()
    assert removed["auth_tokens"] >= 2 and removed["login_codes"] >= 1 and removed["webhook_events"] >= 1
    left = {r["id"] for r in await pool.fetch("SELECT id FROM auth_tokens WHERE user_id = $1", uid)}
    assert left == {f"{tag}-just-expired", f"{tag}-live"}
    assert await pool.fetchval("SELECT count(*) FROM login_codes WHERE email = $1", email) == 1
    assert {r["id"] for r in await pool.fetch("SELECT id FROM webhook_events WHERE id LIKE $1", f"{tag}-%")} == {
        f"{tag}-new"
    }
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE org_id = $1", org) == 1
    kept = {r["delivery_id"] for r in await pool.fetch("SELECT delivery_id FROM webhook_outbox WHERE org_id = $1", org)}
    assert kept == {ids["pending-old"], ids["delivered-new"]}
    assert await Pruner(pool, keep_days=90).sweep() == dict.fromkeys(removed, 0)  # a second pass finds nothing


async def test_retention_zero_keeps_the_webhook_logs_but_still_prunes_logins(pool: asyncpg.Pool) -> None:
    uid = await _user(pool)
    tag = uuid.uuid4().hex[:8]
    await pool.execute(
        "INSERT INTO auth_tokens (id, user_id, expires_at) VALUES ($1, $2, now() - interval '2 days')", tag, uid
    )
    await pool.execute(
        "INSERT INTO webhook_events (gateway, id, type, received_at) VALUES ('stripe', $1, 't', now() - interval '400 days')",
        tag,
    )
    removed = await Pruner(pool, keep_days=0).sweep()
    assert set(removed) == {"auth_tokens", "login_codes"}
    assert await pool.fetchval("SELECT count(*) FROM auth_tokens WHERE id = $1", tag) == 0
    assert await pool.fetchval("SELECT count(*) FROM webhook_events WHERE id = $1", tag) == 1
