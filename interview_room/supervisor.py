"""``interview-room run`` keeps what it started running: embedded PostgreSQL and Redis and the parts.

A child that dies is restarted after a backoff (``backoff_s``, doubling per restart in a row, at most
``MAX_BACKOFF_S``; a child that has stayed up ``STABLE_S`` starts again from the first step), and the
log says so. More than ``max_restarts`` restarts of one child within ``window_s`` means something is
broken for good: the supervisor gives up loudly (``check`` returns why) and the stack stops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("supervisor")

MAX_BACKOFF_S = 30.0
STABLE_S = 60.0


@dataclass
class Child:
    name: str
    start: Callable[[], object]  # (re)start it; raises when it cannot
    alive: Callable[[], bool]
    describe: Callable[[], str] = lambda: ""  # e.g. "code=-9" of a dead process, for the log
    restarts: list[float] = field(default_factory=list)  # when it was restarted (within the window)
    in_a_row: int = 0  # restarts since it last stayed up STABLE_S
    down_since: float | None = None
    retry_at: float = 0.0
    up_since: float = 0.0


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        *,
        max_restarts: int = 5,
        window_s: float = 600.0,
        backoff_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = children
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.backoff_s = backoff_s
        self.clock = clock
        now = clock()
        for c in children:
            c.up_since = now

    def backoff(self, in_a_row: int) -> float:
        return min(MAX_BACKOFF_S, self.backoff_s * (2 ** max(0, in_a_row)))

    def check(self) -> str | None:
        """One look at every child; returns why it gives up, or None while all is well or being fixed."""
        now = self.clock()
        for c in self.children:
            if c.alive():
                if c.down_since is None and c.in_a_row and now - c.up_since >= STABLE_S:
                    c.in_a_row = 0
                continue
            if c.down_since is None:
                c.down_since = now
                c.retry_at = now + self.backoff(c.in_a_row)
                log.warning("%s died %s; restarting it in %.1f s", c.name, c.describe(), c.retry_at - now)
                continue
            if now < c.retry_at:
                continue
            c.restarts = [t for t in c.restarts if now - t < self.window_s]
            if len(c.restarts) >= self.max_restarts:
                return (
                    f"{c.name} keeps dying: restarted {len(c.restarts)} times in the last {self.window_s:.0f} s "
                    f"and died again {c.describe()}; giving up"
                )
            c.restarts.append(now)
            c.in_a_row += 1
            try:
                c.start()
            except Exception as e:
                c.retry_at = now + self.backoff(c.in_a_row)
                log.error("restart of %s failed (%s); next try in %.1f s", c.name, e, c.retry_at - now)
                continue
            c.down_since = None
            c.up_since = now
            log.warning(
                "restarted %s (restart %d of at most %d in %.0f s)",
                c.name,
                len(c.restarts),
                self.max_restarts,
                self.window_s,
            )
        return None
