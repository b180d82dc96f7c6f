"""Segments from the media node to ``stt:segments``: held through a Redis outage, the backlog capped in bytes.

Two limits, two different choices of what to lose, both counted (``ir_segments_shed_total``,
``ir_audio_frames_dropped_total``) and told to the session with a ``notice``:

- While Redis is away, final segments wait in this node's ``SegmentBuffer`` (``MEDIA_OUTAGE_BUFFER_BYTES``
  of PCM) and are published in order when it is back. When it is full the *newest* segment is refused:
  the oldest speech is kept, because everything in it is already spoken and numbered, and an outage
  that outlasts the buffer loses a contiguous tail rather than holes all through the conversation.
- In Redis, ``stt:segments`` holds at most ``STT_BACKLOG_BYTES`` of PCM not yet given to a worker
  (stt workers too slow or gone): adding a segment over that sheds the *oldest* waiting ones first
  (``_ADD``, atomic in Lua). Their captions would come too late to help anyone live, and the newest
  speech is what the conversation is about now.

Partials (``final=False``) are never buffered: by the time Redis is back they are stale. Nor do they
ever cost a final its place: over the backlog cap a partial is not added, and a final over it sheds
the waiting partials before any waiting final (silently: their words come with their final).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from interview_room import bus, retry
from interview_room.messages import Segment
from interview_room.metrics import AUDIO_FRAMES_DROPPED, SEGMENTS_SHED

log = logging.getLogger("media.publisher")

FRAME_BYTES = 640  # one 20 ms frame of 16 kHz mono s16le: the unit of ir_audio_frames_dropped_total

# KEYS: stream, bytes counter. ARGV: cap, group, then the entry's field/value pairs.
# Returns {entry id ('' = a partial not added), {session id, bytes, ...} of the shed finals, partials shed}.
_ADD = """
local cap = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
local size, partial = 0, false
for i = 3, #ARGV, 2 do
  if ARGV[i] == 'pcm' then size = string.len(ARGV[i + 1]) elseif ARGV[i] == 'final' then partial = ARGV[i + 1] == '0' end
end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local shed = {}
local partials = 0
if used + size > cap then
  if partial then return {'', shed, 0} end
  local last = '0-0'
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
  if ok then
    for _, g in ipairs(groups) do
      local name, ld
      for j = 1, #g, 2 do
        if g[j] == 'name' then name = g[j + 1] elseif g[j] == 'last-delivered-id' then ld = g[j + 1] end
      end
      if name == ARGV[2] then last = ld end
    end
  end
  local cursor = last
  while used + size > cap do  -- the waiting partials first
    local e = redis.call('XRANGE', KEYS[1], '(' .. cursor, '+', 'COUNT', 100)
    if #e == 0 then break end
    for _, entry in ipairs(e) do
      local id, f = entry[1], entry[2]
      cursor = id
      local sz, fin = 0, '1'
      for j = 1, #f, 2 do
        if f[j] == 'pcm' then sz = string.len(f[j + 1]) elseif f[j] == 'final' then fin = f[j + 1] end
      end
      if fin == '0' then
        redis.call('XDEL', KEYS[1], id)
        used = used - sz
        partials = partials + 1
        if used + size <= cap then break end
      end
    end
  end
  while used + size > cap do  -- then the oldest waiting finals
    local e = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
    if #e == 0 then break end
    local id, f = e[1][1], e[1][2]
    local sz, sid = 0, ''
    for j = 1, #f, 2 do
      if f[j] == 'pcm' then sz = string.len(f[j + 1]) elseif f[j] == 'session_id' then sid = f[j + 1] end
    end
    redis.call('XDEL', KEYS[1], id)
    used = used - sz
    last = id
    table.insert(shed, sid)
    table.insert(shed, sz)
  end
end
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], '*', unpack(args))
redis.call('SET', KEYS[2], math.max(0, used) + size)
return {id, shed, partials}
"""


@dataclass
class SegmentBuffer:
    """Final segments waiting for Redis, oldest first, at most ``max_bytes`` of PCM: a segment that
    does not fit is refused (the oldest speech is kept)."""

    max_bytes: int
    items: deque[Segment] = field(default_factory=deque)
    nbytes: int = 0

    def offer(self, seg: Segment) -> bool:
        if self.nbytes + len(seg.pcm) > self.max_bytes:
            return False
        self.items.append(seg)
        self.nbytes += len(seg.pcm)
        return True

    def peek(self) -> Segment | None:
        return self.items[0] if self.items else None

    def pop(self) -> Segment:
        seg = self.items.popleft()
        self.nbytes -= len(seg.pcm)
        return seg

    def __len__(self) -> int:
        return len(self.items)


Shed = Callable[[str, str, int], None]  # (session id, reason, bytes) -> tell the session


class SegmentPublisher:
    """One per media node: ``publish`` never raises and never blocks on an outage."""

    def __init__(
        self,
        r: aioredis.Redis,
        *,
        buffer_bytes: int,
        backlog_bytes: int,
        on_shed: Shed,
        sleep: retry.Sleep = asyncio.sleep,
    ) -> None:
        self.r = r
        self.buffer = SegmentBuffer(buffer_bytes)
        self.backlog_bytes = backlog_bytes
        self.on_shed = on_shed
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    @property
    def holding(self) -> bool:
        """Segments wait for Redis (it was away at the last try)."""
        return bool(len(self.buffer))

    async def _add(self, seg: Segment) -> bool:
        """False: a partial that did not fit under the backlog cap (nothing was shed for it)."""
        args: list[bytes | str] = [str(self.backlog_bytes), bus.STT_GROUP]
        for k, v in seg.to_fields().items():
            args += [k, v]
        entry, shed, partials = await self.r.eval(_ADD, 2, bus.STT_SEGMENTS, bus.STT_BACKLOG_BYTES, *args)  # type: ignore[misc]
        if int(partials):
            SEGMENTS_SHED.labels(reason="partial").inc(int(partials))
        if not entry:
            SEGMENTS_SHED.labels(reason="partial").inc()
            return False
        self.published += 1
        for i in range(0, len(shed), 2):
            sid = shed[i].decode() if isinstance(shed[i], bytes) else str(shed[i])
            self._shed(sid, "backlog_full", int(shed[i + 1]))
        return True

    def _shed(self, session_id: str, reason: str, nbytes: int) -> None:
        SEGMENTS_SHED.labels(reason=reason).inc()
        AUDIO_FRAMES_DROPPED.inc(max(1, nbytes // FRAME_BYTES))
        log.warning("segment shed reason=%s session=%s bytes=%d", reason, session_id, nbytes)
        try:
            self.on_shed(session_id, reason, nbytes)
        except Exception:
            log.exception("could not tell the session about a shed segment")

    async def publish(self, seg: Segment) -> bool:
        """Published, or held for later: True; refused (a partial during an outage, or the buffer is full): False."""
        if not len(self.buffer):
            try:
                return await self._add(seg)
            except Exception as e:
                if not retry.is_transient(e):
                    log.exception("could not publish segment id=%s", seg.id)
                    return False
                log.warning("redis unavailable, holding segments error=%r", e)
        if not seg.final:
            return False
        if not self.buffer.offer(seg):
            self._shed(seg.session_id, "outage_buffer_full", len(seg.pcm))
            return False
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="segment-publisher")
        self._wake.set()
        return True

    async def close(self) -> None:
        """Give held segments a last chance (a few seconds), then stop."""
        if self._task is None:
            return
        for _ in range(20):
            if not len(self.buffer):
                break
            await asyncio.sleep(0.25)
        if len(self.buffer):
            log.warning("stopping with held segments lost n=%d bytes=%d", len(self.buffer), self.buffer.nbytes)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def run(self) -> None:
        """Publish what the buffer holds, in order, as soon as Redis takes it again."""
        backoff = retry.Backoff(initial=0.2, cap=2.0)
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (seg := self.buffer.peek()) is not None:
                try:
                    await self._add(seg)
                except Exception as e:
                    if not retry.is_transient(e):
                        log.exception("dropping a held segment id=%s", seg.id)
                        self.buffer.pop()
                        continue
                    await self._sleep(backoff.next_delay())
                    continue
                self.buffer.pop()
                backoff.reset()
                if not len(self.buffer):
                    log.info("held segments published")
