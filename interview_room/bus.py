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
from redis.maint_notifications import MaintNotificationsConfig

from . import retry
from .messages import Event

log = logging.getLogger("bus")

STT_SEGMENTS = "stt:segments"
STT_GROUP = "stt"
STT_BACKLOG_BYTES = "stt:segments:bytes"  # PCM bytes in stt:segments (media_server/publisher.py caps it)
LLM_JOBS = "llm:jobs"
LLM_GROUP = "llm"
# every media node URL that ever registered in this Redis (a set, kept): the orphan reaper ends only sessions
# held by one of these that is gone, never sessions of nodes that belong to another Redis (another cluster)
KNOWN_MEDIA_NODES = "media:nodes:known"
EVENTS_MAXLEN = 5000
WORK_MAXLEN = 100_000


def events_stream(session_id: str) -> str:
    return f"session:{session_id}:events"


POOL_WAIT_S = 10.0


def connect(url: str, max_connections: int = 200) -> aioredis.Redis:
    """A client whose pool makes a burst wait for a free connection (up to ``POOL_WAIT_S``) instead of
    failing: redis-py's plain pool raises "Too many connections" at its limit, which a login burst turned into
    500s. The bound keeps one process from opening more connections than the server accepts.

    Maintenance notifications (a Redis Cloud/Enterprise feature) are off: redis-py 8's default ("auto")
    also skips the pool's check of an idle connection before handing it out, so after a Redis restart every
    pooled connection failed its next command once (a user's request answered 500)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_WAIT_S,
        decode_responses=False,
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )
    return aioredis.Redis.from_pool(pool)


async def ensure_group(r: aioredis.Redis, stream: str, group: str) -> None:
    try:
        await r.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


# A session's event stream lives EVENTS_TTL_S after its latest event (refreshed by every publish)
# and EVENTS_ENDED_TTL_S once the session has ended (``expire_events``); a late event of an ended
# session (the llm worker's last score) does not lengthen that again.
EVENTS_TTL_S = 24 * 3600
EVENTS_ENDED_TTL_S = 600
# ``published:*`` idempotency keys: longer than any entry can stay pending (an outage is retried in
# place), far shorter than days (they are one key per caption)
PUBLISHED_TTL_S = 6 * 3600

_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl == -1 or ttl > tonumber(ARGV[4]) then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return id
"""


async def publish_event(r: aioredis.Redis, session_id: str, event: Event) -> bytes:
    res = await r.eval(
        _PUBLISH,
        1,
        events_stream(session_id),
        event.to_json(),
        str(EVENTS_MAXLEN),
        str(EVENTS_TTL_S),
        str(EVENTS_ENDED_TTL_S),
    )
    return res  # type: ignore[no-any-return]


async def expire_events(r: aioredis.Redis, session_id: str) -> None:
    """The session has ended: its event stream goes after EVENTS_ENDED_TTL_S."""
    await r.expire(events_stream(session_id), EVENTS_ENDED_TTL_S)


_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[1])
  if ARGV[4] ~= '' then
    local ttl = redis.call('TTL', KEYS[2])
    if ttl == -1 or ttl > tonumber(ARGV[5]) then
      redis.call('EXPIRE', KEYS[2], ARGV[4])
    end
  end
  return id
end
return false
"""


async def publish_once(r: aioredis.Redis, session_id: str, key: str, event: Event) -> bool:
    """Publish ``event`` unless an event with the same ``key`` was published before."""
    res = await r.eval(
        _ONCE, 2, f"published:{key}", events_stream(session_id), event.to_json(), str(EVENTS_MAXLEN),
        str(PUBLISHED_TTL_S), str(EVENTS_TTL_S), str(EVENTS_ENDED_TTL_S),
    )  # fmt: skip
    return res is not None


def consumer_name(kind: str) -> str:
    return f"{kind}-{socket.gethostname()}-{os.getpid()}"


Handler = Callable[[bytes, dict[bytes, bytes]], Awaitable[None]]


# ack + delete one entry and take its PCM off the stream's byte counter (never below 0)
_ACK_DEL = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #e > 0 then
  local f = e[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'pcm' then
      local left = redis.call('DECRBY', KEYS[2], string.len(f[i + 1]))
      if left < 0 then redis.call('SET', KEYS[2], 0) end
    end
  end
  redis.call('XDEL', KEYS[1], ARGV[2])
end
return 1
"""


class StreamConsumer:
    """Reads a stream through a consumer group, hands entries to ``handler``, acks after it returns.

    Redis going away never ends ``run``: it reconnects with backoff (``retry.Backoff``) and carries
    on, recreating the group if Redis came back without its data. A handler that fails because
    Redis or PostgreSQL is away (``retry.is_transient``) is retried in place with backoff, for as
    long as the outage lasts (the entry is kept claimed by this consumer meanwhile); a handler that
    fails otherwise leaves its entry pending, to be claimed again after ``claim_idle_ms``, and is
    dropped to the log after ``max_deliveries`` (a poison entry).
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
        bytes_key: str | None = None,
        sleep: retry.Sleep = asyncio.sleep,
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
        self.bytes_key = bytes_key  # with delete_acked: a counter of the entries' "pcm" bytes, decreased here
        self._sleep = sleep
        self._sem = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_hand: set[bytes] = set()  # entry ids with a handler running here
        self._stopping = False
        self._running = asyncio.Event()  # set while run() is inside its read loop
        self._backoff = retry.Backoff(initial=0.2, cap=5.0)
        self.connected = False  # the last read from Redis worked
        self.error: str | None = None  # why not, while not connected

    def health(self) -> str | None:
        """None while the loop reads from Redis, else what is wrong (for ``/health``)."""
        if not self._running.is_set():
            return "consumer loop not running"
        if not self.connected:
            return f"consumer loop cannot read {self.stream}: {self.error or 'connecting'}"
        return None

    def _retry_backoff(self) -> retry.Backoff:
        # in-place retries keep the entry claimed; each wait stays well below claim_idle_ms
        return retry.Backoff(initial=0.25, cap=max(0.25, min(5.0, self.claim_idle_ms / 3000)))

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            try:
                if not await self._run_handler(entry_id, fields):
                    return
            finally:
                self._sem.release()
            await self._until_done(lambda: self._ack(entry_id), f"ack {entry_id.decode()}")
        finally:
            self._in_hand.discard(entry_id)

    async def _run_handler(self, entry_id: bytes, fields: dict[bytes, bytes]) -> bool:
        """True when the handler returned (the entry is to be acked)."""
        backoff = self._retry_backoff()
        while True:
            try:
                await self.handler(entry_id, fields)
                return True
            except Exception as e:
                if not retry.is_transient(e):
                    log.exception("handler failed stream=%s id=%s", self.stream, entry_id.decode())
                    await self._until_done(lambda: self._maybe_drop(entry_id), "poison check", tries=3)
                    return False
                if self._stopping:  # left pending: redelivered after the restart
                    log.warning(
                        "handler failed while stopping stream=%s id=%s error=%r", self.stream, entry_id.decode(), e
                    )
                    return False
                delay = backoff.next_delay()
                log.warning(
                    "handler hit an outage, retrying in %.2f s stream=%s id=%s error=%r",
                    delay, self.stream, entry_id.decode(), e,
                )  # fmt: skip
                await self._sleep(delay)
                try:  # keep it ours (resets its idle time): no other consumer takes it over meanwhile
                    await self.r.xclaim(self.stream, self.group, self.consumer, 0, [entry_id], justid=True)
                except Exception as ce:
                    if not retry.is_transient(ce):
                        raise

    async def _until_done(self, fn: Callable[[], Awaitable[Any]], what: str, tries: int | None = None) -> None:
        """Retry a Redis call through an outage (at most ``tries`` times, or until stopping)."""
        backoff = self._retry_backoff()
        n = 0
        while True:
            n += 1
            try:
                await fn()
                return
            except Exception as e:
                if not retry.is_transient(e) or self._stopping or (tries is not None and n >= tries):
                    log.warning("%s failed stream=%s error=%r", what, self.stream, e)
                    return
                await self._sleep(backoff.next_delay())

    async def _ack(self, entry_id: bytes) -> None:
        if self.delete_acked and self.bytes_key:
            await self.r.eval(_ACK_DEL, 2, self.stream, self.bytes_key, self.group, entry_id)  # type: ignore[misc]
        elif self.delete_acked:
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
            if entry_id in self._in_hand:  # read again (own pending after an outage, or claimed): handled here already
                continue
            if not fields:  # deleted/trimmed entry
                await self.r.xack(self.stream, self.group, entry_id)
                continue
            await self._sem.acquire()
            self._in_hand.add(entry_id)
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
        """The read loop, for ever (until ``stop``): a lost Redis is waited for, never fatal."""
        self._running.set()
        try:
            while not self._stopping:
                try:
                    await self._run()
                    return
                except ResponseError as e:
                    if "NOGROUP" not in str(e):
                        raise
                    # the stream or its group vanished (Redis restarted without its data): recreate
                    self.error = str(e)
                    log.warning("stream or group vanished, recreating stream=%s error=%s", self.stream, e)
                except Exception as e:
                    if not retry.is_transient(e):
                        raise
                    self.error = repr(e)
                self.connected = False
                delay = self._backoff.next_delay()
                log.warning("redis unavailable, retrying in %.2f s stream=%s error=%s", delay, self.stream, self.error)
                await self._sleep(delay)
        finally:
            self.connected = False
            self._running.clear()

    def _read_ok(self) -> None:
        if not self.connected:
            log.info("reading again stream=%s", self.stream)
        self.connected = True
        self.error = None
        self._backoff.reset()

    async def _run(self) -> None:
        await ensure_group(self.r, self.stream, self.group)
        # first our own pending entries (we restarted under the same name), then new ones; an
        # entry already in a handler here (read before an outage) is skipped
        own = await self.r.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=100)
        self._read_ok()
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
            self._read_ok()
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
    res = await r.eval(_ONCE, 2, f"published:{key}", stream, data, str(maxlen), str(PUBLISHED_TTL_S), "", "0")
    return res is not None
