"""argon2 password hashing on a small pool of its own, so a burst of logins cannot exhaust memory.

Each argon2 call holds ``memory_cost`` KiB while it runs. The hashes run on ``PASSWORD_HASH_THREADS``
threads of their own (not the loop's default executor, which other work shares); at most
``PASSWORD_HASH_QUEUE`` more requests wait for one, and anything beyond is refused at once with 429
``server_busy``. So one process never holds more than threads x memory (2 x 19 MiB by default; 2 x 64 MiB
while verifying hashes made with argon2-cffi's older defaults, which are rehashed at the next login).

Cost (defaults: OWASP's m=19 MiB, t=2, p=1) comes from the configuration; ``setup(cfg)`` is called when
the app is created, and the first use without it takes the environment's configuration.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from interview_room import config
from interview_room.config import Config
from web.common.errors import ApiError

log = logging.getLogger("signaling.passwords")

T = TypeVar("T")


class HashingBusy(ApiError):
    def __init__(self) -> None:
        super().__init__(
            429, "server_busy", "Too many sign-ins at this moment; please try again in a few seconds", retry_after_seconds=1
        )


class HashPool:
    """A fixed number of threads for argon2 and a bounded number of waiting calls."""

    def __init__(self, cfg: Config) -> None:
        self.hasher = PasswordHasher(
            time_cost=cfg.password_hash_time_cost, memory_cost=cfg.password_hash_memory_kib, parallelism=1
        )
        # verified against when the e-mail is unknown, so both cases cost the same time
        self.dummy_hash = self.hasher.hash("not-a-real-password")
        self.threads = max(1, cfg.password_hash_threads)
        self.slots = self.threads + max(0, cfg.password_hash_queue)
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="argon2")
        self._lock = threading.Lock()
        self._in_use = 0

    def _done(self, _: Future[object]) -> None:  # a worker thread, or the loop when cancelled before it ran
        with self._lock:
            self._in_use -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False)  # calls already submitted still finish

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a hashing thread; HashingBusy when every thread and waiting place is taken."""
        with self._lock:
            if self._in_use >= self.slots:
                busy = True
            else:
                busy = False
                self._in_use += 1
        if busy:
            log.warning("password hashing busy slots=%d", self.slots)
            raise HashingBusy()
        # the slot is freed when the call really ends, not when a disconnected client's request is cancelled
        fut = self._executor.submit(fn)
        fut.add_done_callback(self._done)
        return await asyncio.wrap_future(fut)


_pool: HashPool | None = None
_pool_lock = threading.Lock()


def setup(cfg: Config) -> HashPool:
    """The process' pool for this configuration (kept when an app with the same settings asks again)."""
    global _pool
    with _pool_lock:
        if _pool is None or not _same_settings(_pool, cfg):
            if _pool is not None:
                _pool.close()
            _pool = HashPool(cfg)
        return _pool


def _same_settings(p: HashPool, cfg: Config) -> bool:
    h = p.hasher
    return (
        (h.time_cost, h.memory_cost, p.threads, p.slots)
        == (
            cfg.password_hash_time_cost,
            cfg.password_hash_memory_kib,
            max(1, cfg.password_hash_threads),
            max(1, cfg.password_hash_threads) + max(0, cfg.password_hash_queue),
        )
    )


def _current() -> HashPool:
    return _pool if _pool is not None else setup(config.load())


async def hash_password(password: str) -> str:
    pool = _current()
    return await pool.run(lambda: pool.hasher.hash(password))


async def verify_password(password_hash: str | None, password: str) -> bool:
    pool = _current()

    def check() -> bool:
        try:
            return pool.hasher.verify(password_hash or pool.dummy_hash, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await pool.run(check)


def needs_rehash(password_hash: str) -> bool:
    return _current().hasher.check_needs_rehash(password_hash)
