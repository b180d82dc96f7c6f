"""Collects transcription jobs from concurrent segment handlers into batched decoder calls.

One decoder call runs at a time (Whisper owns the cores). Jobs that arrive while it runs wait and
go together into the next call: with nothing running, a job starts at once (no batching delay),
under load the batch grows by itself. ``wait_s`` > 0 additionally holds a lone job that long
(bounded, ~100 ms at most) for others to join. Finals always go before partials: a call takes the
waiting finals and only those (partials go in calls of their own when no final waits), so a final
never waits behind a queued partial (only behind the one call already running); partials beyond
``max_partials`` are dropped, oldest first (``Dropped``). Plain asyncio, no network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger("stt.batcher")

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")  # its result


class Dropped(Exception):
    """A partial's job was dropped unheard: newer partials were waiting (``max_partials``)."""


@dataclass
class _Job(Generic[I, R]):
    item: I
    final: bool
    future: asyncio.Future[R] = field(repr=False)


class Batcher(Generic[I, R]):
    """``await submit(item, final)`` returns ``decode([... item ...])``'s result for that item.

    ``decode`` is awaited with at most ``max_batch`` items and must return one result per item, in
    order (run it in an executor thread); a result that is an exception fails that job only, an
    exception raised by ``decode`` fails every job of the call.
    """

    def __init__(
        self,
        decode: Callable[[list[I]], Awaitable[list[R]]],
        *,
        max_batch: int = 8,
        wait_s: float = 0.0,
        max_partials: int | None = None,
    ) -> None:
        self.decode = decode
        self.max_batch = max(1, max_batch)
        self.wait_s = max(0.0, min(wait_s, 0.1))
        self.max_partials = max_partials  # partials waiting beyond this are dropped, oldest first
        self._finals: list[_Job[I, R]] = []
        self._partials: list[_Job[I, R]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.calls = 0
        self.batch_sizes: list[int] = []  # per call (tests and metrics)

    @property
    def waiting(self) -> int:
        return len(self._finals) + len(self._partials)

    async def submit(self, item: I, final: bool = True) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        job = _Job(item, final, fut)
        (self._finals if final else self._partials).append(job)
        if not final and self.max_partials is not None:
            while len(self._partials) > self.max_partials:
                old = self._partials.pop(0)
                if not old.future.done():
                    old.future.set_exception(Dropped("newer partials waiting"))
        self._ensure_running()
        self._wake.set()
        return await fut

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="stt-batcher")

    def take(self) -> list[_Job[I, R]]:
        """The next call's jobs: the waiting finals (oldest first) or, when none wait, the newest partials.

        Never both in one call: a partial in the call would make the finals wait for its decoding.
        """
        if self._finals:
            jobs = self._finals[: self.max_batch]
            del self._finals[: len(jobs)]
            return jobs
        jobs = self._partials[-self.max_batch :]
        del self._partials[-self.max_batch :]
        return jobs

    async def _run(self) -> None:
        while True:
            if not self.waiting:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=30.0)
                except TimeoutError:
                    if not self.waiting:
                        return  # idle: the next submit starts a new loop
                continue
            if self.wait_s > 0 and self.waiting < self.max_batch:
                await asyncio.sleep(self.wait_s)
            jobs = [j for j in self.take() if not j.future.done()]  # a cancelled submitter is skipped
            if not jobs:
                continue
            self.calls += 1
            self.batch_sizes.append(len(jobs))
            try:
                results = await self.decode([j.item for j in jobs])
                if len(results) != len(jobs):
                    raise RuntimeError(f"decode returned {len(results)} results for {len(jobs)} items")
            except Exception as e:
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(e)
                continue
            for j, r in zip(jobs, results, strict=True):
                if j.future.done():
                    continue
                if isinstance(r, BaseException):  # this item failed alone (the others have results)
                    j.future.set_exception(r)
                else:
                    j.future.set_result(r)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for j in self._finals + self._partials:
            j.future.cancel()
        self._finals.clear()
        self._partials.clear()
