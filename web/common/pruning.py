"""Hourly pruning of the tables that only grow (every signaling replica runs it; deletes are idempotent).

Logins (``auth_tokens``, ``login_codes``) go a day after they expired; payment-gateway events and
the ATS webhook log/outbox after ``PRUNE_AFTER_DAYS`` (0 = kept).
"""

from __future__ import annotations

import logging

import asyncpg

from interview_room.service import every
from interview_room.store import pruning

log = logging.getLogger("signaling.pruning")

INTERVAL_S = 3600.0
EXPIRED_GRACE_S = 86400.0


class Pruner:
    def __init__(self, pool: asyncpg.Pool, keep_days: float) -> None:
        self.pool = pool
        self.keep_days = keep_days

    def keep_seconds(self, table: str) -> float | None:
        """How long rows of ``table`` are kept (None = for ever)."""
        if table in ("auth_tokens", "login_codes"):
            return EXPIRED_GRACE_S
        return self.keep_days * 86400.0 if self.keep_days > 0 else None

    async def sweep(self) -> dict[str, int]:
        """One pass; returns the rows removed per table (only logged when something was)."""
        removed: dict[str, int] = {}
        for t in pruning.TABLES:
            keep = self.keep_seconds(t)
            if keep is not None:
                removed[t] = await pruning.prune(self.pool, t, keep)
        if any(removed.values()):
            log.info("pruned %s", " ".join(f"{t}={n}" for t, n in removed.items()))
        return removed

    async def run(self, interval_s: float = INTERVAL_S) -> None:
        await every(interval_s, self.sweep, "pruning")
