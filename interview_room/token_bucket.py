"""Rate limits without I/O: a token bucket and a "say it at most every N seconds" throttle.

Both take the clock as a function (seconds, monotonic), so they are tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """``burst`` tokens to start with, refilled at ``rate`` per second up to ``burst``; each message takes one.

    ``rate`` <= 0 means no limit (every ``take`` succeeds).
    """

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def _refill(self) -> None:
        now = self._clock()
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def take(self, n: float = 1.0) -> bool:
        """Spend ``n`` tokens if there are that many; False (nothing spent) otherwise."""
        if self.unlimited:
            return True
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False


class Throttle:
    """True at most once per ``interval`` seconds: one notice for a flood, not one per dropped message."""

    def __init__(self, interval: float, clock: Clock = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True
