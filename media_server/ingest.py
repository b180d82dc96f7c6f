"""A session's incoming audio: each track -> 16 kHz -> segmenter -> ``stt:segments`` (numbered), the
48 kHz copy -> the recording, its seconds -> the credit meter; the candidate's voice activity -> the
llm worker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from aiortc import MediaStreamTrack

from interview_room import bus, retry
from interview_room.messages import LlmJob, Segment, VoiceActivity
from interview_room.metrics import SEGMENTS
from interview_room.store import captions as captions_store

from .audio import AudioConverter, frames
from .context import SessionContext
from .metering import CreditMeter
from .publisher import SegmentPublisher
from .recording import Recording
from .segmenter import Segmenter, SegmenterSettings, Utterance

log = logging.getLogger("media.session")

SEQ_TTL_S = 12 * 3600  # the Redis copy of a session's segment numbers (PostgreSQL seeds them when it is gone)
TTS_CAPTION_SEQ0 = 1_000_000  # interviewer captions of spoken questions, apart from the segmenter's seqs

# HINCRBY a session's segment counter, lifted above ARGV[2] (the numbers already used) when Redis lost it
_NEXT_SEQ = """
local v = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local floor = tonumber(ARGV[2])
if v <= floor then
  v = floor + 1
  redis.call('HSET', KEYS[1], ARGV[1], v)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return v
"""


async def add_job(redis: aioredis.Redis, job: LlmJob) -> None:
    await redis.xadd(bus.LLM_JOBS, job.to_fields(), maxlen=bus.WORK_MAXLEN, approximate=True)  # type: ignore[arg-type]


class Ingest:
    """Every audio track of one session, on the session clock of ``recording``.

    ``paused()``: listening is paused (tracks are still received, not segmented, metered or recorded).
    ``on_speaking(role, t)``: called for each chunk while someone speaks (the mock interviewer listens)."""

    def __init__(
        self,
        ctx: SessionContext,
        *,
        lang: str,
        seg_settings: SegmenterSettings,
        publisher: SegmentPublisher,
        recording: Recording,
        meter: CreditMeter,
        paused: Callable[[], bool],
        on_speaking: Callable[[str, float], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.lang = lang
        self.seg_settings = seg_settings
        self.publisher = publisher
        self.recording = recording
        self.meter = meter
        self._paused = paused
        self._on_speaking = on_speaking
        self._seq: dict[str, int] = {}
        self._seq_key = f"session:{ctx.id}:seq"
        self._segmenters: set[Segmenter] = set()
        self.segments_published = 0
        # the candidate's voice activity for the llm worker (it scores an answer once they stopped)
        self._voice_q: asyncio.Queue[VoiceActivity] = asyncio.Queue(maxsize=64)

    async def load_seqs(self) -> None:
        """Segment numbers go on where they were, also when the session moved here from a dead node
        (a reused number would read as an already-captioned segment to the stt worker). Redis keeps
        them; PostgreSQL's stored captions are the floor, should Redis have lost them."""
        stored = await self.ctx.redis.hgetall(self._seq_key)
        self._seq = await captions_store.last_seqs(self.ctx.pool, self.ctx.id, TTS_CAPTION_SEQ0)
        for k, v in stored.items():
            self._seq[k.decode()] = max(self._seq.get(k.decode(), 0), int(v))

    def set_hangover(self, hangover: str) -> None:
        for s in self._segmenters:
            s.set_hangover(hangover)

    async def consume(self, track: MediaStreamTrack, role: str, mid: str) -> None:
        """Per track: decode -> 16 kHz -> segmenter -> stt:segments; 48 kHz -> recorder; seconds -> meter.

        Metered per mid: two tracks at once (tab audio + microphone) cost the time once, and a
        reconnect (same mids again) adds to the time already received.
        """
        loop = asyncio.get_running_loop()
        conv = AudioConverter()
        seg = Segmenter(self.seg_settings)
        self._segmenters.add(seg)
        offset: float | None = None
        was_paused = False
        try:
            async for frame in frames(track):
                if offset is None:
                    offset = self.recording.offset(loop.time())
                    log.info("track started role=%s t=%.3f", role, offset)
                chunk = conv.convert(frame)  # type: ignore[arg-type]
                t = offset + chunk.t
                if self._paused():  # listening paused: not captioned, billed or recorded (the recording keeps silence)
                    if not was_paused:  # what was said before the pause is still captioned
                        was_paused = True
                        for u in seg.flush():
                            await self._publish_segment(role, u, seg)
                    continue
                was_paused = False
                if self.recording.unrecorded is None:  # what is not recorded is not billed
                    self.recording.write(t, chunk.pcm48k)
                    self.meter.add(chunk.seconds, mid)
                was_active = seg.active
                for u in seg.push(chunk.pcm16k, t):
                    await self._publish_segment(role, u, seg)
                if seg.active != was_active:
                    self._voice_activity(role, seg.active, t)
                if seg.active and self._on_speaking is not None:
                    self._on_speaking(role, t)
            was_active = seg.active
            for u in seg.flush():
                await self._publish_segment(role, u, seg)
            if was_active and offset is not None:
                self._voice_activity(role, False, seg.now if seg.now is not None else 0.0)
        finally:
            self._segmenters.discard(seg)
            log.info("track ended role=%s received=%.2f s", role, conv.received_seconds)

    async def _next_seq(self, role: str) -> int:
        """The next final segment number of ``role``: from Redis (several nodes may briefly hold one
        session), never at or below one this node used or PostgreSQL stored (Redis may have lost
        its data); while Redis is away, this node goes on counting alone."""
        floor = self._seq.get(role, 0)
        if self.publisher.holding:  # Redis is known to be away: no waiting for it on the audio path
            self._seq[role] = floor + 1
            return floor + 1
        try:
            seq = int(await self.ctx.redis.eval(_NEXT_SEQ, 1, self._seq_key, role, str(floor), str(SEQ_TTL_S)))  # type: ignore[misc]
        except Exception as e:
            if not retry.is_transient(e):
                raise
            seq = floor + 1
            log.warning("redis unavailable, numbering segments here role=%s seq=%d", role, seq)
        self._seq[role] = seq
        return seq

    async def _publish_segment(self, role: str, u: Utterance, seg: Segmenter) -> None:
        seq = self._seq.get(role, 0) + 1  # a partial shares the seq of the final that closes it
        if u.final:
            try:
                seq = await self._next_seq(role)
            except Exception:
                log.exception("could not allocate a segment number role=%s", role)
                return
        now_t = seg.now if seg.now is not None else u.t1  # session time of the audio that just arrived
        msg = Segment(
            session_id=self.ctx.id,
            role=role,
            seq=seq,
            t0=round(u.t0, 3),
            t1=round(u.t1, 3),
            pcm=u.pcm,
            lang=self.lang,
            end_wall=time.time() - max(0.0, now_t - u.speech_end),
            speech_end=round(u.speech_end, 3),
            final=u.final,
        )
        if not await self.publisher.publish(msg):
            return
        if u.final:
            SEGMENTS.labels(role=role).inc()
            self.segments_published += 1

    # ---- voice activity -> the llm worker ----

    def _voice_activity(self, role: str, speaking: bool, t: float) -> None:
        """The candidate started/stopped speaking: queued for the llm worker, off the audio path."""
        if role != "candidate":
            return
        try:
            self._voice_q.put_nowait(VoiceActivity(role=role, speaking=speaking, t=round(t, 3)))
        except asyncio.QueueFull:
            log.warning("voice activity dropped (queue full) speaking=%s", speaking)

    async def send_voice_activity(self) -> None:
        while True:
            v = await self._voice_q.get()
            try:
                await add_job(self.ctx.redis, LlmJob(kind="voice", session_id=self.ctx.id, payload=v.to_payload()))
            except (ConnectionError, OSError, aioredis.RedisError) as e:
                log.warning("could not send voice activity error=%r", e)
