"""The one retry helper every loop shares: what counts as a passing outage, and how long to wait.

Redis restarting, PostgreSQL crash-restarting, a refused TCP connection: these pass, and a loop
that meets one waits (exponential backoff with jitter, capped) and goes on. Anything else is a bug
or bad data and is not retried blindly by ``retry`` (a periodic loop still runs its next pass).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from redis.exceptions import BusyLoadingError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import db

log = logging.getLogger("retry")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

TRANSIENT: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # also redis-py's "Connection closed by server" and refused connections
    RedisTimeoutError,
    BusyLoadingError,  # Redis is loading its AOF/RDB after a restart
    OutOfMemoryError,  # maxmemory reached under noeviction: writes refused until workers catch up
    ReadOnlyError,  # a failover is under way: we still talk to the old primary, now a replica
    OSError,  # ConnectionRefusedError, ConnectionResetError, ...
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """True for an error that goes away when Redis / PostgreSQL is back (PostgreSQL's: ``db.unavailable``,
    the same rule that turns them into 503 ``database_unavailable``)."""
    return isinstance(exc, TRANSIENT) or db.unavailable(exc)


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``initial``, ×``factor`` per failure, at most ``cap`` seconds."""

    initial: float = 0.2
    cap: float = 5.0
    factor: float = 2.0
    jitter: float = 0.2  # ± share of the delay, so many processes do not retry in step
    failures: int = 0

    def next_delay(self) -> float:
        base = min(self.cap, self.initial * self.factor ** min(self.failures, 30))
        self.failures += 1
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))

    def reset(self) -> None:
        self.failures = 0


async def retry(
    fn: Callable[[], Awaitable[T]],
    what: str,
    *,
    backoff: Backoff | None = None,
    sleep: Sleep = asyncio.sleep,
    attempts: int | None = None,
) -> T:
    """``await fn()`` until it returns; transient errors are logged and waited out with backoff.

    ``attempts`` = None retries for ever; otherwise the last transient error is raised after that
    many calls. A non-transient error is raised at once.
    """
    b = backoff or Backoff()
    n = 0
    while True:
        n += 1
        try:
            return await fn()
        except Exception as e:
            if not is_transient(e) or (attempts is not None and n >= attempts):
                raise
            delay = b.next_delay()
            log.warning("%s failed, retrying in %.2f s error=%r", what, delay, e)
            await sleep(delay)


async def every(
    interval_s: float,
    sweep: Callable[[], Awaitable[object]],
    what: str,
    *,
    sleep: Sleep = asyncio.sleep,
    backoff: Backoff | None = None,
    passes: int | None = None,
) -> None:
    """Run ``sweep`` now and then every ``interval_s`` for ever (or ``passes`` times).

    A failed pass never ends the loop: a transient error (Redis/PostgreSQL away) is retried after a
    backoff shorter than the interval at first, another error is logged and the next pass runs on time.
    """
    b = backoff or Backoff(initial=min(1.0, interval_s), cap=max(interval_s, 1.0))
    n = 0
    while passes is None or n < passes:
        n += 1
        delay = interval_s
        try:
            await sweep()
            b.reset()
        except Exception as e:
            if is_transient(e):
                delay = min(interval_s, b.next_delay())
                log.warning("periodic task failed, retrying in %.2f s task=%s error=%r", delay, what, e)
            else:
                log.exception("periodic task failed task=%s", what)
        await sleep(delay)
