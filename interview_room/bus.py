"""Redis streams: names, publishing, and the consumer-group loop every worker shares.

A worker acks only after its output is written; entries a dead consumer left pending are
claimed with XAUTOCLAIM after ``claim_idle_ms``. Publishing to a session's event stream can be
made idempotent with ``publish_once`` (a Lua script: SET NX + XADD in one atomic step).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from .messages import Event

log = logging.getLogger("bus")

STT_SEGMENTS = "stt:segments"
STT_GROUP = "stt"
LLM_JOBS = "llm:jobs"
LLM_GROUP = "llm"
# every media node URL that ever registered in this Redis (a set, kept): the orphan reaper ends only sessions
# held by one of these that is gone, never sessions of nodes that belong to another Redis (another cluster)
KNOWN_MEDIA_NODES = "media:nodes:known"
EVENTS_MAXLEN = 5000
WORK_MAXLEN = 100_000


def events_stream(session_id: str) -> str:
    return f"session:{session_id}:events"


def connect(url: str) -> aioredis.Redis:
    return aioredis.from_url(url, decode_responses=False)


async def ensure_group(r: aioredis.Redis, stream: str, group: str) -> None:
    try:
        await r.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


async def publish_event(r: aioredis.Redis, session_id: str, event: Event) -> bytes:
    return await r.xadd(events_stream(session_id), {"data": event.to_json()}, maxlen=EVENTS_MAXLEN, approximate=True)


_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[1])
end
return false
"""


async def publish_once(r: aioredis.Redis, session_id: str, key: str, event: Event) -> bool:
    """Publish ``event`` unless an event with the same ``key`` was published before."""
    res = await r.eval(
        _ONCE, 2, f"published:{key}", events_stream(session_id), event.to_json(), str(EVENTS_MAXLEN), str(7 * 86400)
    )
    return res is not None


def consumer_name(kind: str) -> str:
    return f"{kind}-{socket.gethostname()}-{os.getpid()}"


Handler = Callable[[bytes, dict[bytes, bytes]], Awaitable[None]]


class StreamConsumer:
    """Reads a stream through a consumer group, hands entries to ``handler``, acks after it returns.

    A handler that raises leaves its entry pending; it is retried after ``claim_idle_ms`` (by
    this consumer or another) and dropped to the log after ``max_deliveries``.
    """

    def __init__(
        self,
        r: aioredis.Redis,
        stream: str,
        group: str,
        consumer: str,
        handler: Handler,
        *,
        concurrency: int = 1,
        claim_idle_ms: int = 10_000,
        max_deliveries: int = 5,
        block_ms: int = 1000,
        delete_acked: bool = False,
    ) -> None:
        self.r = r
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.handler = handler
        self.concurrency = concurrency
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.block_ms = block_ms
        self.delete_acked = delete_acked  # big entries (PCM): gone once handled, or the stream eats RAM
        self._sem = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._running = asyncio.Event()  # set while run() is inside its read loop

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            await self.handler(entry_id, fields)
        except Exception:
            log.exception("handler failed stream=%s id=%s", self.stream, entry_id.decode())
            await self._maybe_drop(entry_id)
            return
        finally:
            self._sem.release()
        await self._ack(entry_id)

    async def _ack(self, entry_id: bytes) -> None:
        if self.delete_acked:
            async with self.r.pipeline(transaction=True) as p:
                p.xack(self.stream, self.group, entry_id)
                p.xdel(self.stream, entry_id)
                await p.execute()
        else:
            await self.r.xack(self.stream, self.group, entry_id)

    async def _maybe_drop(self, entry_id: bytes) -> None:
        info = await self.r.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
        if info and info[0]["times_delivered"] >= self.max_deliveries:
            log.error("dropping poison entry stream=%s id=%s", self.stream, entry_id.decode())
            await self._ack(entry_id)

    async def _dispatch(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        for entry_id, fields in entries:
            if not fields:  # deleted/trimmed entry
                await self.r.xack(self.stream, self.group, entry_id)
                continue
            await self._sem.acquire()
            t = asyncio.create_task(self._handle(entry_id, fields))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def claim_stale(self) -> int:
        """Take over entries other consumers left pending too long (a crashed worker)."""
        res = await self.r.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=self.claim_idle_ms, start_id="0-0", count=50
        )
        claimed = res[1]
        if claimed:
            log.info("claimed stale entries stream=%s n=%d", self.stream, len(claimed))
            await self._dispatch(claimed)
        return len(claimed)

    async def run(self) -> None:
        self._running.set()
        try:
            await self._run()
        finally:
            self._running.clear()

    async def _run(self) -> None:
        await ensure_group(self.r, self.stream, self.group)
        # first our own pending entries (we restarted under the same name), then new ones
        own = await self.r.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=100)
        for _, entries in own or []:
            await self._dispatch(entries)
        loop = asyncio.get_running_loop()
        next_claim = 0.0
        while not self._stopping:
            if loop.time() >= next_claim:
                await self.claim_stale()
                next_claim = loop.time() + self.claim_idle_ms / 2000
            res: Any = await self.r.xreadgroup(
                self.group, self.consumer, {self.stream: ">"}, count=self.concurrency, block=self.block_ms
            )
            for _, entries in res or []:
                await self._dispatch(entries)

    async def stop(self) -> None:
        """Finish what was read, then return: the loop ends after its current read (a cancel can be
        swallowed by redis-py inside a blocking read, and an entry read but not yet handed to a
        handler would stay pending until another consumer claims it)."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.block_ms / 1000 + 5
        while self._running.is_set() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def stream_lag(r: aioredis.Redis, stream: str, group: str) -> int:
    """Entries not yet delivered to the group plus entries delivered but not acked.

    Redis 7 reports ``lag`` in XINFO GROUPS; Redis 6.2 (the embedded one) does not, so the
    undelivered part is counted from the group's last-delivered id (bounded scan).
    """
    try:
        groups = await r.xinfo_groups(stream)
    except ResponseError:
        return 0
    for g in groups:
        name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
        if name != group:
            continue
        pending = int(g.get("pending") or 0)
        if g.get("lag") is not None:
            return int(g["lag"]) + pending
        last = g["last-delivered-id"]
        last = last.decode() if isinstance(last, bytes) else last
        undelivered = await r.xrange(stream, min=f"({last}", max="+", count=10_000)
        return len(undelivered) + pending
    return 0


async def add_once(r: aioredis.Redis, key: str, stream: str, data: str, maxlen: int = WORK_MAXLEN) -> bool:
    """XADD ``{"data": data}`` to any stream (e.g. a job to ``llm:jobs``) unless ``key`` was used before.

    The same atomic guard as ``publish_once`` (they share the ``published:`` key space), so a
    reclaimed entry never enqueues its follow-up work twice.
    """
    res = await r.eval(_ONCE, 2, f"published:{key}", stream, data, str(maxlen), str(7 * 86400))
    return res is not None
