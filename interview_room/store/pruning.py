"""Deleting rows of tables that only grow: expired logins, old payment-gateway events, old ATS webhook logs.

Rows go in batches (a short lock each, well under the statement timeout); every function returns
how many rows it removed.
"""

from __future__ import annotations

import asyncpg

BATCH = 5000

# each: table, the condition of a prunable row ($1 = seconds kept after expiry / since the event)
_RULES: dict[str, tuple[str, str]] = {
    # a token past its expiry (or revoked) only answers 401 either way
    "auth_tokens": (
        "auth_tokens",
        "expires_at < now() - make_interval(secs => $1) OR revoked_at < now() - make_interval(secs => $1)",
    ),
    "login_codes": ("login_codes", "expires_at < now() - make_interval(secs => $1)"),
    # Stripe redelivers an event for up to 3 days: the idempotency row must outlive that by far
    "webhook_events": ("webhook_events", "received_at < now() - make_interval(secs => $1)"),
    "webhook_deliveries": ("webhook_deliveries", "created_at < now() - make_interval(secs => $1)"),
    # only finished events; a pending one is still to be sent
    "webhook_outbox": (
        "webhook_outbox",
        "state IN ('delivered', 'failed') AND updated_at < now() - make_interval(secs => $1)",
    ),
}


async def prune(pool: asyncpg.Pool, what: str, keep_seconds: float, batch: int = BATCH) -> int:
    """Delete the prunable rows of one table (``what`` is a key of ``_RULES``), batch by batch."""
    table, cond = _RULES[what]
    sql = f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {cond} LIMIT {int(batch)})"
    total = 0
    while True:
        status = await pool.execute(sql, float(keep_seconds))
        n = int(status.split()[-1])
        total += n
        if n < batch:
            return total


TABLES = tuple(_RULES)
