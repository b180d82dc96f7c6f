"""A circuit breaker for a model provider: stop calling a model that keeps timing out or failing.

closed: calls go through; ``failures`` outages in a row (timeouts, 5xx, unreachable) open it.
open: calls are refused at once for ``open_s`` seconds, so callers fall back to the offline
provider straight away instead of waiting for a timeout per call, and hold no slot meanwhile.
half-open: after that one trial call goes through; success closes the breaker, failure opens it
again for another ``open_s``. The clock is injected (tests move it by hand).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("llm.breaker")

# ProviderError codes that mean the model is out (not a bad key or a bad reply)
OUTAGE_CODES = frozenset({"ai_timeout", "ai_unavailable"})


@dataclass
class CircuitBreaker:
    name: str = "model"
    failures: int = 3
    open_s: float = 30.0
    clock: Callable[[], float] = field(default=time.monotonic)
    _failed: int = 0
    _open_until: float | None = None
    _trial: bool = False  # a half-open trial call is running

    @property
    def state(self) -> str:
        if self._open_until is None:
            return "closed"
        return "open" if self.clock() < self._open_until or self._trial else "half_open"

    def retry_in(self) -> float:
        """Seconds until a call may go through again (0 when closed or half-open)."""
        if self._open_until is None:
            return 0.0
        return max(0.0, self._open_until - self.clock())

    def allow(self) -> bool:
        """May a call go to the model now? In half-open only the one trial call may."""
        if self._open_until is None:
            return True
        if self._trial or self.clock() < self._open_until:
            return False
        self._trial = True
        log.info("circuit half-open provider=%s: one trial call", self.name)
        return True

    def success(self) -> None:
        if self._open_until is not None:
            log.info("circuit closed provider=%s: the model answers again", self.name)
        self._failed = 0
        self._open_until = None
        self._trial = False

    def failure(self) -> None:
        self._failed += 1
        if self._trial or self._failed >= self.failures:
            self._open_until = self.clock() + self.open_s
            log.warning(
                "circuit open provider=%s failures=%d: offline answers for %.0f s", self.name, self._failed, self.open_s
            )
        self._trial = False

    def release(self) -> None:
        """A call ended without telling whether the model works (a cancelled or refused call)."""
        if self._trial:
            self._trial = False
            self._open_until = self.clock()  # the next call is the trial
