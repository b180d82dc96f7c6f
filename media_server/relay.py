"""A session's events stream (``session:{id}:events``) -> its open "events" data channels.

A node that takes a session over from a dead one relays, from ``session:{id}:relayed`` on, what that
node never got onto a data channel. While no channel is open, events wait (bounded)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from aiortc import RTCDataChannel

from interview_room import bus, retry
from interview_room.messages import Notice, SessionEnded

from .context import SessionContext

log = logging.getLogger("media.session")

MAX_PENDING_EVENTS = 1000  # events kept for a data channel that is not open yet
RELAY_BLOCK_MS = 1000  # blocking XREAD of the session's events; bounds how long a stop takes
RELAYED_TTL_S = 12 * 3600
SHED_NOTICE_EVERY = 30.0  # s between "some speech could not be captioned" notices to one session

# a new event as the relay read it: (stream entry id, its JSON text)
Listener = Callable[[bytes | str, str], None]


def stream_id(entry_id: bytes | str) -> tuple[int, int]:
    """A Redis stream entry id ("ms-seq") as a number pair, for ordering."""
    ms, _, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).partition("-")
    return int(ms), int(seq or 0)


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


class EventRelay:
    """``listener`` hears each event published after the relay started (not those replayed after a
    takeover: the node that published them acted on them)."""

    def __init__(self, ctx: SessionContext, listener: Listener | None = None) -> None:
        self.ctx = ctx
        self.listener = listener
        self.channels: list[RTCDataChannel] = []
        self._pending: deque[str] = deque(maxlen=MAX_PENDING_EVENTS)
        self._relayed_key = f"session:{ctx.id}:relayed"  # the newest event id put on an open data channel
        self._replayed_until: bytes | str = b"0-0"
        self._events_last: bytes | str = "$"
        self._task: asyncio.Task[Any] | None = None
        self._stopping = False
        self._shed_notified = -SHED_NOTICE_EVERY

    async def seek(self) -> None:
        """Where relaying starts: after the newest event now, or at a dead node's last mark."""
        last = await self.ctx.redis.xrevrange(bus.events_stream(self.ctx.id), count=1)
        # not "$" at the first XREAD: events published between now and that read are kept
        newest = last[0][0] if last else b"0-0"
        self._replayed_until = newest
        # a session taken over from a dead node: what that node never got onto the data channel (captions
        # and answers finished while the client was reconnecting) is relayed now, from its last mark on
        relayed = await self.ctx.redis.get(self._relayed_key)
        self._events_last = relayed if relayed and stream_id(relayed) < stream_id(newest) else newest
        if self._events_last != newest:
            log.info("relaying events the previous node did not deliver from=%s", _text(self._events_last))

    def start(self) -> None:
        self._task = self.ctx.tasks.spawn(self._relay(), "events")

    async def _relay(self) -> None:
        stream = bus.events_stream(self.ctx.id)
        backoff = retry.Backoff(initial=0.2, cap=2.0)
        while not self._stopping:
            try:
                res = await self.ctx.redis.xread(
                    {stream: self._events_last}, count=100, block=RELAY_BLOCK_MS
                )  # below redis-py 8's 5 s socket timeout
                backoff.reset()
            except (ConnectionError, OSError, aioredis.RedisError) as e:
                delay = backoff.next_delay()
                log.warning("events read failed, retrying in %.2f s error=%r", delay, e)
                await asyncio.sleep(delay)
                continue
            delivered = None
            for _, entries in res or []:
                for entry_id, fields in entries:
                    self._events_last = entry_id
                    data = fields.get(b"data")
                    if data:
                        text = data.decode("utf-8", "replace")
                        if self.send(text):
                            delivered = entry_id
                        # an event replayed after a takeover was acted on by the node that published it
                        if self.listener is not None and stream_id(entry_id) > stream_id(self._replayed_until):
                            self.listener(entry_id, text)
            if delivered is not None:
                await self._mark_relayed(delivered)

    async def _mark_relayed(self, entry_id: bytes | str) -> None:
        """The newest event on an open data channel, for a node that takes the session over."""
        try:
            await self.ctx.redis.set(self._relayed_key, entry_id, ex=RELAYED_TTL_S)
        except (ConnectionError, OSError, aioredis.RedisError) as e:
            log.warning("could not mark the relayed events error=%r", e)

    async def last_events(self, notify: str | None) -> None:
        """Before hanging up: deliver what is still in the stream (e.g. the credits notice), once."""
        if self._task is not None:
            # redis-py can swallow a cancel that lands inside a blocking XREAD (the loop then runs
            # on), so the relay is asked to stop and given one read's time before a cancel.
            self._stopping = True
            done, _ = await asyncio.wait({self._task}, timeout=RELAY_BLOCK_MS / 1000 + 1)
            if not done:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        sent = False
        try:
            if notify:
                await self.ctx.publish(SessionEnded(reason=notify))
            res = await self.ctx.redis.xread({bus.events_stream(self.ctx.id): self._events_last}, count=1000)
            for _, entries in res or []:
                for entry_id, fields in entries:
                    self._events_last = entry_id
                    if fields.get(b"data"):
                        self.send(fields[b"data"].decode("utf-8", "replace"))
                        sent = True
        except Exception:
            log.exception("could not deliver the last events")
        if sent and any(c.readyState == "open" for c in self.channels):
            await asyncio.sleep(0.3)  # let SCTP put them on the wire before the connection closes

    # ---- the data channels ----

    def add_channel(self, channel: RTCDataChannel) -> None:
        self.channels.append(channel)

        @channel.on("close")
        def _close() -> None:
            if channel in self.channels:
                self.channels.remove(channel)

        if channel.readyState == "open":
            self._flush_pending()
        else:
            channel.on("open", self._flush_pending)

    def send(self, text: str) -> bool:
        """To every open "events" channel of the session; kept for later while none is open (False)."""
        open_channels = [c for c in self.channels if c.readyState == "open"]
        if not open_channels:
            self._pending.append(text)
            return False
        for c in open_channels:
            c.send(text)
        return True

    def _flush_pending(self) -> None:
        while self._pending and any(c.readyState == "open" for c in self.channels):
            self.send(self._pending.popleft())

    def notify_shed(self, session_id: str, reason: str, nbytes: int) -> None:
        """A segment of this session was not transcribed: say so on the data channel (at most every 30 s)."""
        now = time.monotonic()
        if now - self._shed_notified < SHED_NOTICE_EVERY:
            return
        self._shed_notified = now
        text = (
            "Some speech could not be captioned: the caption service is briefly unavailable"
            if reason == "outage_buffer_full"
            else "Some speech could not be captioned: the caption service is overloaded"
        )
        self.send(Notice(level="warning", code="captions_dropped", message=text).to_json())
