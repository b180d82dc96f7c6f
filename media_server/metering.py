"""Credits metered by the second of media a session actually receives.

The media node feeds ``add()`` with the duration of every decoded audio frame, per track; the
billable time is that of the longest track (two microphones for one minute cost one minute).
``tick()`` (at least every 15 s) writes a ledger debit for the seconds not yet billed, tells the
client what is left, warns once when five minutes remain, and reports exhaustion so the node can
end the session gracefully. ``close()`` bills the rest at /end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg

from interview_room.messages import Credits, Event, Notice, SessionEnded
from interview_room.metrics import CREDITS_DEBITED
from interview_room.store import credits

log = logging.getLogger("media.metering")

LOW_CREDITS_SECONDS = 300.0
TICK_SECONDS = 15.0

Publish = Callable[[Event], Awaitable[object]]


class CreditMeter:
    """One per live session. Not thread-safe: call everything from the node's event loop."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        user_id: UUID | str,
        session_id: UUID | str,
        publish: Publish,
        *,
        low_seconds: float = LOW_CREDITS_SECONDS,
    ) -> None:
        self.pool = pool
        self.user_id = user_id if isinstance(user_id, UUID) else UUID(user_id)
        self.session_id = session_id if isinstance(session_id, UUID) else UUID(session_id)
        self.publish = publish
        self.low_seconds = low_seconds
        self._tracks: dict[str, float] = {}
        self._billed = 0.0  # media seconds already written to the ledger
        self._debited = 0.0  # seconds the ledger actually took (less than billed once credits ran out)
        self.remaining: float | None = None  # last known balance
        self._warned = False
        self._exhausted = False
        self._closed = False
        self._lock = asyncio.Lock()

    # ---- fed by the media node

    def add(self, seconds: float, track: str = "audio") -> None:
        """``seconds`` of media received on ``track`` (e.g. the transceiver mid)."""
        if seconds > 0:
            self._tracks[track] = self._tracks.get(track, 0.0) + seconds

    @property
    def media_seconds(self) -> float:
        """Billable media time: the longest track, not the sum of tracks."""
        return max(self._tracks.values(), default=0.0)

    @property
    def debited_seconds(self) -> float:
        return self._debited

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def next_tick_in(self, max_interval: float = TICK_SECONDS) -> float:
        """How long the node may wait before the next tick without overrunning the balance much."""
        if self.remaining is None:
            return min(max_interval, 1.0)
        left = self.remaining - (self.media_seconds - self._billed)
        return max(0.5, min(max_interval, left))

    # ---- billing

    async def _bill(self) -> float:
        """Debit the unbilled seconds; returns the balance after."""
        unbilled = self.media_seconds - self._billed
        async with self.pool.acquire() as conn:
            if unbilled > 0:
                res = await credits.debit(conn, self.user_id, self.session_id, unbilled)
                self._billed += unbilled
                self._debited += res.debited
                if res.debited > 0:
                    CREDITS_DEBITED.inc(res.debited)
                if res.debited + credits.EPSILON < unbilled:
                    log.info("credits ran out asked=%.2f debited=%.2f", unbilled, res.debited)
                remaining = res.remaining
            else:
                remaining = await credits.balance(conn, self.user_id)
        self.remaining = remaining
        return remaining

    async def tick(self) -> bool:
        """Bill what was received since the last tick; False when the credits are exhausted.

        On exhaustion the meter itself publishes a ``notice`` (code ``credits_exhausted``) and
        ``session.ended`` (reason ``credits_exhausted``), once; the node then ends the session the
        way /end does (recording and transcript kept, AI stopped).
        """
        async with self._lock:
            if self._exhausted:
                return False
            remaining = await self._bill()
            await self.publish(Credits(remaining_seconds=round(remaining, 1)))
            # ended only when nothing is left: the last fraction of a second was paid for too
            if remaining <= credits.EPSILON:
                self._exhausted = True
                log.info("credits exhausted, ending the session debited=%.1f", self._debited)
                await self.publish(
                    Notice(
                        level="warning",
                        code="credits_exhausted",
                        message="Your credits are used up, so the session has ended. "
                        "The recording and transcript are saved; buy more time to continue.",
                    )
                )
                await self.publish(SessionEnded(reason="credits_exhausted"))
                return False
            if remaining <= self.low_seconds and not self._warned:
                self._warned = True
                minutes = max(1, round(remaining / 60))
                await self.publish(
                    Notice(
                        level="warning",
                        code="credits_low",
                        message=f"About {minutes} minute{'s' if minutes != 1 else ''} of credits left.",
                    )
                )
            return True

    async def close(self) -> float:
        """Final debit at /end (idempotent); returns the balance left."""
        async with self._lock:
            if self._closed:
                return self.remaining or 0.0
            remaining = await self._bill()
            self._closed = True
            log.info(
                "meter closed media=%.2f debited=%.2f remaining=%.1f", self.media_seconds, self._debited, remaining
            )
            return remaining

    async def run(self, on_exhausted: Callable[[], Awaitable[object]], max_interval: float = TICK_SECONDS) -> None:
        """Tick until the credits run out (then await ``on_exhausted``) or the task is cancelled."""
        while not self._closed:
            await asyncio.sleep(self.next_tick_in(max_interval))
            if self._closed:
                return
            try:
                alive = await self.tick()
            except Exception:  # the database hiccuped: nothing was billed, the next tick bills it
                log.exception("credit tick failed")
                continue
            if not alive:
                await on_exhausted()
                return


async def has_credits(conn: asyncpg.Connection | asyncpg.Pool, user_id: UUID) -> bool:
    """Before an offer: False means answer 402 ``no_credits``."""
    return await credits.has_credits(conn, user_id)
