"""One live session on this node: its peer connections, tracks, segmenters, recording, events relay.

Why the clock lives here: t = 0 is the first audio frame the node receives for the session, and
every track (also one that joins late or after a reconnect, and the camera) is placed on that clock
by the arrival of its own first frame plus its RTP timestamps. Segments, the recording and therefore
captions and playback all use the same t. A session that moved here from a dead node goes on on the
same clock: its t = 0 is the first part's (``recording_parts``), so this node's first frame is at the
wall-clock time since then (the reconnect gap is real time) and its recording file is a part placed
there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import asyncpg
import av
import redis.asyncio as aioredis
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from interview_room import bus, client_settings, db, disk, messages, retry
from interview_room.config import Config
from interview_room.logs import session_id_var
from interview_room.messages import (
    Caption,
    ErrorEvent,
    Event,
    Listening,
    LlmJob,
    Notice,
    PauseRequest,
    Segment,
    SessionEnded,
    VoiceActivity,
)
from interview_room.metrics import CLIENT_MESSAGES_DROPPED, PEER_CONNECTIONS, SEGMENTS, SESSIONS_LIVE
from interview_room.service import TaskGroup
from interview_room.store import captions as captions_store
from interview_room.store import media as media_store
from interview_room.store import pauses as pauses_store
from interview_room.store import recording_parts as parts_store
from interview_room.token_bucket import Clock, Throttle, TokenBucket
from recorder import SessionRecorder

from . import tts
from .audio import AudioConverter
from .metering import CreditMeter
from .peer import default_role
from .publisher import SegmentPublisher
from .segmenter import Segmenter, SegmenterSettings, Utterance
from .tts_track import InterviewerTrack, Spoken

log = logging.getLogger("media.session")

EVENTS_LABEL = "events"
MAX_PENDING_EVENTS = 1000  # events kept for a data channel that is not open yet
RELAY_BLOCK_MS = 1000  # blocking XREAD of the session's events; bounds how long a stop takes
SEQ_TTL_S = 12 * 3600  # the Redis copy of a session's segment numbers (PostgreSQL seeds them when it is gone)
MAX_CLIENT_MESSAGE = 8 * 1024  # default of CLIENT_MSG_MAX_BYTES
RATE_NOTICE_EVERY_S = 5.0  # at most one rate_limited notice per session this often
RATE_LIMITED = "rate_limited"
SPOKEN_EVENTS = ("mock.question", "mock.done")  # events of a mock session the node also says aloud
VOICE_MARK_EVERY = 0.25  # s between "the candidate is speaking" marks in Redis
VOICE_MARK_TTL = 300
TTS_CAPTION_SEQ0 = 1_000_000  # interviewer captions of spoken questions, apart from the segmenter's seqs
GOODBYE_WAIT = 30.0
SHED_NOTICE_EVERY = 30.0  # s between "some speech could not be captioned" notices to one session

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
RTP_WRAP = 1 << 32


def stream_id(entry_id: bytes | str) -> tuple[int, int]:
    """A Redis stream entry id ("ms-seq") as a number pair, for ordering."""
    ms, _, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).partition("-")
    return int(ms), int(seq or 0)


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v
PART_ROW_ATTEMPTS = 12  # about a minute and a half of retries while the database restarts
VIDEO_RESYNC = 2.0  # s between a picture's RTP time and its arrival before the track is re-anchored


def interviewer_voice(mode: object) -> InterviewerTrack | None:
    """The track a mock session's interviewer speaks on (added to the answer before it is made)."""
    return InterviewerTrack() if mode == "mock" else None


def voice_key(session_id: str) -> str:
    """Redis key: "<wall time> <session time>" of the candidate's latest speech in a mock session."""
    return f"mock:voice:{session_id}"


class VideoTimes:
    """Session time of each picture of one camera track: the arrival of its first picture plus its
    RTP clock (90 kHz, 32 bits), as for audio, so jitter-buffer bursts do not move pictures against
    the sound. A sender whose clock jumps (restarted, or no timestamps) is re-anchored on arrival."""

    def __init__(self) -> None:
        self._pts0: int | None = None
        self._offset = 0.0

    def at(self, frame: av.VideoFrame, arrival: float) -> float:
        if frame.pts is None or frame.time_base is None:
            return arrival
        if self._pts0 is not None:
            t = self._offset + float(((frame.pts - self._pts0) % RTP_WRAP) * Fraction(frame.time_base))
            if abs(t - arrival) <= VIDEO_RESYNC:
                return t
        self._pts0, self._offset = frame.pts, arrival
        return arrival


@dataclass
class EndResult:
    media_seconds: float
    recording_path: str | None

    def to_json(self) -> dict[str, Any]:
        return {"media_seconds": round(self.media_seconds, 3), "recording_path": self.recording_path}


class MediaSession:
    def __init__(
        self,
        *,
        session_id: str,
        user_id: str,
        mode: str,
        listen_language: str,
        hangover: str,
        cfg: Config,
        redis: aioredis.Redis,
        pool: asyncpg.Pool,
        owner: TaskGroup,
        request_end: Callable[[str], Awaitable[object]],
        end_grace: float = 30.0,
        recording_path: Path | None = None,
        publisher: SegmentPublisher | None = None,
    ) -> None:
        self.id = session_id
        self.user_id = user_id
        self.mode = mode
        self.lang = _session_language(listen_language)
        self.cfg = cfg
        self.redis = redis
        self.pool = pool
        self.recording_path = recording_path or cfg.recordings_dir / f"{session_id}.webm"
        self.seg_settings = SegmenterSettings.from_config(cfg, hangover)
        self.tasks = TaskGroup(f"session-{session_id[:8]}")
        self._owner = owner
        self._request_end = request_end
        self._end_grace = end_grace
        self.publisher = publisher or SegmentPublisher(
            redis, buffer_bytes=cfg.media_outage_buffer_bytes, backlog_bytes=cfg.stt_backlog_bytes, on_shed=self.notify_shed
        )
        self._shed_notified = -SHED_NOTICE_EVERY
        self.meter = CreditMeter(pool, user_id, session_id, self.publish_event)
        self.recorder: SessionRecorder | None = None
        self.pcs: set[RTCPeerConnection] = set()
        self._live_pcs: set[RTCPeerConnection] = set()  # counted in PEER_CONNECTIONS
        self.channels: list[RTCDataChannel] = []
        self._pending: deque[str] = deque(maxlen=MAX_PENDING_EVENTS)
        self._seq: dict[str, int] = {}
        self._seq_key = f"session:{self.id}:seq"
        self._relayed_key = f"session:{self.id}:relayed"  # the newest event id put on an open data channel
        self._replayed_until: bytes | str = b"0-0"
        self._segmenters: set[Segmenter] = set()
        self._track_tasks: set[asyncio.Task[Any]] = set()
        self._video_received = False  # an answer accepted a camera (the recording then expects one)
        self._camera: MediaStreamTrack | None = None  # the video track being recorded
        # client -> server messages: rate-limited per session (every data channel of it), a bounded queue
        self.limiter = ClientLimiter(cfg.client_msg_rate, cfg.client_msg_burst)
        self._inbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(max(1, cfg.client_inbox_max))
        self._clock0: float | None = None  # loop.time() at session t = 0 (this node's first audio frame, or earlier)
        self._origin: float | None = None  # unix time of t = 0 set by an earlier part on another node
        self._part_task: asyncio.Task[Any] | None = None
        self._events_last: bytes | str = "$"
        self._grace: asyncio.Task[Any] | None = None
        self._relay_task: asyncio.Task[Any] | None = None
        self._relay_stopping = False
        self._end_task: asyncio.Task[EndResult] | None = None
        self.ending = False
        self.unrecorded: str | None = None  # why recording stopped (a full disk): that time is not billed
        self.segments_published = 0
        self.started = False
        # mock sessions: the interviewer's voice, one track per peer connection
        self.voices: dict[RTCPeerConnection, InterviewerTrack] = {}
        self._speech: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._last_spoken: tuple[str, dict[str, Any]] | None = None
        self._voice_marked = 0.0
        self._voice_task: asyncio.Task[Any] | None = None
        self._tts_n = 0
        # the candidate's voice activity for the llm worker (it scores an answer once they stopped)
        self._voice_q: asyncio.Queue[VoiceActivity] = asyncio.Queue(maxsize=64)
        # a second peer (the ``interview-room listen`` companion) adds tracks; it never replaces the browser's
        self.peer_kinds: dict[RTCPeerConnection, str] = {}
        # paused listening: no captions, no billing, no recording; the span is stored as a marker
        self.paused = False
        self._pause_row: int | None = None
        self._pause_t0 = 0.0
        self._pause_lock = asyncio.Lock()

    # ---- lifecycle ----

    async def start(self) -> None:
        """Background work of a session that went live: events relay, client messages, credits."""
        session_id_var.set(self.id)
        self.started = True
        SESSIONS_LIVE.inc()
        try:  # a session that recorded elsewhere before keeps its clock
            self._origin = await parts_store.media_origin(self.pool, uuid.UUID(self.id))
        except Exception:
            log.exception("could not read earlier recording parts; the clock starts at 0")
        # segment numbers go on where they were, also when the session moved here from a dead node
        # (a reused number would read as an already-captioned segment to the stt worker)
        # (Redis keeps them; PostgreSQL's stored captions are the floor, should Redis have lost them)
        stored = await self.redis.hgetall(self._seq_key)
        self._seq = await captions_store.last_seqs(self.pool, self.id, TTS_CAPTION_SEQ0)
        for k, v in stored.items():
            self._seq[k.decode()] = max(self._seq.get(k.decode(), 0), int(v))
        last = await self.redis.xrevrange(bus.events_stream(self.id), count=1)
        # not "$" at the first XREAD: events published between now and that read are kept
        newest = last[0][0] if last else b"0-0"
        self._replayed_until = newest
        # a session taken over from a dead node: what that node never got onto the data channel (captions
        # and answers finished while the client was reconnecting) is relayed now, from its last mark on
        relayed = await self.redis.get(self._relayed_key)
        self._events_last = relayed if relayed and stream_id(relayed) < stream_id(newest) else newest
        if self._events_last != newest:
            log.info("relaying events the previous node did not deliver from=%s", _text(self._events_last))
        self._relay_task = self.tasks.spawn(self._relay_events(), "events")
        self.tasks.spawn(self._handle_inbox(), "inbox")
        self.tasks.spawn(self.meter.run(self._credits_exhausted), "credits")
        self.tasks.spawn(self._watch_disk(), "disk")
        self.tasks.spawn(self._send_voice_activity(), "voice-activity")
        if self.mode == "mock":
            self.tasks.spawn(self._speaker(), "speaker")
            # the interviewer starts (or, after a node restart, repeats where it was)
            self._inbox.put_nowait(("mock", {"type": "mock", "action": "start"}))

    def attach(self, pc: RTCPeerConnection, kind: str = "browser") -> None:
        """Register a new peer connection (before its offer is applied, so no event is missed).

        ``kind``: ``browser`` (the room) or ``companion`` (``interview-room listen``, computer audio)."""
        self.pcs.add(pc)
        self.peer_kinds[pc] = kind
        self._live_pcs.add(pc)
        PEER_CONNECTIONS.inc()
        pc.on("datachannel", self._on_datachannel)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            await self._on_pc_state(pc)

    async def replace_peers(self, pc: RTCPeerConnection) -> None:
        """A new offer of the session replaces its earlier connection: the old one is closed (its
        tracks end and flush their utterances), so a client never has two decoded at once. Only a
        connection of the same kind is replaced: the companion's adds a track to the room's session."""
        kind = self.peer_kinds.get(pc, "browser")
        old = [p for p in self.pcs if p is not pc and self.peer_kinds.get(p, "browser") == kind]
        for p in old:
            self.pcs.discard(p)
            self.peer_kinds.pop(p, None)
            self.voices.pop(p, None)
        if old:
            log.info("re-offer replaces %d earlier peer connection(s)", len(old))
            await asyncio.gather(*(self._close_pc(p) for p in old), return_exceptions=True)

    def start_tracks(self, pc: RTCPeerConnection, roles: dict[str, str]) -> list[str]:
        """Start consuming every audio track (and an accepted camera) of an answered offer; returns
        the audio tracks' roles."""
        started = []
        for t in pc.getTransceivers():
            if isinstance(t.sender.track, InterviewerTrack):
                self._add_voice(pc, t.sender.track)
            track = t.receiver.track
            if t.kind == "video" and track is not None and t.direction == "recvonly":
                self._video_received = True
                task = self.tasks.spawn(self._consume_video(track, t.mid or "?"), f"camera-{t.mid}")
                self._track_tasks.add(task)
                task.add_done_callback(self._track_tasks.discard)
                continue
            if t.kind != "audio" or track is None:
                continue
            kind = self.peer_kinds.get(pc, "browser")
            # the companion sends the computer's audio: the other side of the call
            role = "interviewer" if kind == "companion" else roles.get(t.mid or "") or default_role(self.mode)
            meter_key = (t.mid or "?") if kind == "browser" else f"{kind}:{t.mid}"  # metered apart, billed once
            task = self.tasks.spawn(self._consume(track, role, meter_key), f"track-{t.mid}-{role}")
            self._track_tasks.add(task)
            task.add_done_callback(self._track_tasks.discard)
            started.append(role)
        self._arm_grace()
        return started

    async def end(self, *, by_node: bool, reason: str) -> EndResult:
        """Close everything and report the media time. Idempotent; concurrent callers share one end."""
        if self._end_task is None:
            self.ending = True
            self._end_task = self._owner.spawn(self._end(by_node, reason), f"end-{self.id[:8]}")
        return await asyncio.shield(self._end_task)

    async def _end(self, by_node: bool, reason: str) -> EndResult:
        session_id_var.set(self.id)
        if self._grace is not None:
            self._grace.cancel()
        if self.paused:  # the pause marker ends with the session
            await self._store_resume(self._now_t())
        if self.started:
            await self._last_events(notify=reason if by_node and reason == "node_shutdown" else None)
        await asyncio.gather(*(self._close_pc(pc) for pc in list(self.pcs)), return_exceptions=True)
        if self._track_tasks:  # closing the pcs ends the tracks; each flushes its segmenter
            _, pending = await asyncio.wait(set(self._track_tasks), timeout=10)
            for t in pending:
                t.cancel()
        seconds = 0.0
        if self.recorder is not None:
            seconds = await self.recorder.aclose()
        media_seconds = self.meter.media_seconds
        try:
            await self.meter.close()
        except Exception:
            log.exception("final credit debit failed")
        if self._part_task is not None:  # the part's row is written before the session counts as ended
            await asyncio.wait({self._part_task}, timeout=10)
        try:  # queued ask/settings go out before the session_end job
            await asyncio.wait_for(self._inbox.join(), 5)
        except TimeoutError:
            log.warning("client messages still queued at the end were dropped")
        await self.tasks.close()
        try:
            await self._add_job(
                LlmJob(
                    kind="session_end", session_id=self.id, payload={"reason": reason, "media_seconds": media_seconds}
                )
            )
        except Exception:
            log.exception("could not publish session_end")
        try:
            await bus.expire_events(self.redis, self.id)
        except Exception as e:
            log.warning("could not set the event stream to expire error=%r", e)
        try:
            await media_store.store_media_seconds(self.pool, uuid.UUID(self.id), media_seconds, mark_ended=by_node)
        except Exception:
            log.exception("could not store media seconds")
        if self.started:
            SESSIONS_LIVE.dec()
        path = str(self.recording_path) if self.recorder is not None and self.recording_path.exists() else None
        log.info(
            "session ended reason=%s media_seconds=%.2f recorded=%.2f segments=%d",
            reason,
            media_seconds,
            seconds,
            self.segments_published,
        )
        return EndResult(media_seconds=media_seconds, recording_path=path)

    async def _close_pc(self, pc: RTCPeerConnection) -> None:
        try:
            await pc.close()
        finally:
            if pc in self._live_pcs:
                self._live_pcs.discard(pc)
                PEER_CONNECTIONS.dec()

    async def _on_pc_state(self, pc: RTCPeerConnection) -> None:
        state = pc.connectionState
        log.info("peer connection state=%s", state)
        if state == "failed":
            self.tasks.spawn(self._close_pc(pc), "close-failed-pc")
        elif state == "closed" and pc in self._live_pcs:
            self._live_pcs.discard(pc)
            PEER_CONNECTIONS.dec()
        self._arm_grace()

    def _arm_grace(self) -> None:
        """With no usable peer connection left, end the session after the grace period."""
        alive = any(pc.connectionState not in ("failed", "closed") for pc in self.pcs)
        if alive or self.ending:
            if self._grace is not None:
                self._grace.cancel()
                self._grace = None
            return
        if self._grace is None:
            self._grace = self.tasks.spawn(self._grace_expired(), "grace")

    async def _grace_expired(self) -> None:
        await asyncio.sleep(self._end_grace)
        log.info("no peer connection for %.0f s, ending the session", self._end_grace)
        self._grace = None
        self._owner.spawn(self._request_end("peer_gone"), f"end-{self.id[:8]}")

    async def _watch_disk(self) -> None:
        """Stop recording (and billing) when DATA_DIR runs out of space or the recorder failed writing."""
        interval = max(0.05, self.cfg.disk_check_interval_ms / 1000.0)
        while self.unrecorded is None:
            if self.recorder is not None and self.recorder.error is not None:
                await self._stop_recording(f"recorder failed: {self.recorder.error!r}")
            elif not disk.has_room(self.cfg.recordings_dir, self.cfg.min_free_disk_mb):
                await self._stop_recording(f"free disk below {self.cfg.min_free_disk_mb:.0f} MB")
            else:
                await asyncio.sleep(interval)

    async def _stop_recording(self, why: str) -> None:
        self.unrecorded = why
        log.error("recording stopped, no longer billed: %s", why)
        if self.recorder is not None:  # finalize what is there: the file stays playable
            await self.recorder.aclose()
        await self.publish_event(
            Notice(
                level="warning",
                code="insufficient_storage",
                message="The server ran out of disk space: recording has stopped and the rest of this session is "
                "not billed. Captions and answers go on.",
            )
        )

    async def _credits_exhausted(self) -> None:
        self._owner.spawn(self._request_end("credits_exhausted"), f"end-{self.id[:8]}")

    # ---- audio ----

    def _start_clock(self, now: float) -> None:
        """The one place t is anchored: 0 at this first frame, or, when the session already recorded
        on another node, the wall-clock seconds since that recording's t = 0."""
        wall = time.time()
        offset = max(0.0, wall - self._origin) if self._origin is not None else 0.0
        self._clock0 = now - offset
        if self.unrecorded is not None:  # the disk filled before the first frame: nothing to record into
            return
        self.recorder = SessionRecorder(
            self.recording_path, session_id=self.id, video=self._video_received, start=offset
        )
        self._part_task = self.tasks.spawn(self._register_part(offset, wall), "recording-part")
        log.info("media started recording=%s video=%s t=%.3f", self.recording_path, self._video_received, offset)

    async def _register_part(self, offset: float, wall: float) -> None:
        """Say where this node's recording sits on the session clock (playback joins the parts)."""
        for attempt in range(PART_ROW_ATTEMPTS):  # the database may be restarting: playback needs this row
            try:
                part = await parts_store.add_part(
                    self.pool,
                    uuid.UUID(self.id),
                    path=str(self.recording_path),
                    offset_s=round(offset, 3),
                    started_wall=wall,
                    media_node=self.cfg.media_base_url,
                )
                log.info("recording part=%s offset=%.3f path=%s", part, offset, self.recording_path)
                return
            except Exception as e:
                if not db.unavailable(e) or attempt + 1 == PART_ROW_ATTEMPTS:
                    log.exception("could not register the recording part path=%s", self.recording_path)
                    return
                log.warning("database unavailable, registering the recording part again soon: %s", e)
                await asyncio.sleep(min(10.0, 0.5 * 2**attempt))

    async def _consume_video(self, track: MediaStreamTrack, mid: str) -> None:
        """The camera -> recorder (which encodes in its thread, dropping pictures it has no time for).

        Pictures before the session's first audio have no place on the clock and are skipped. One
        camera is recorded at a time: after a reconnect the new track takes over once the old one ended.
        Every picture is taken from aiortc even when not recorded, or its queue would grow.
        """
        loop = asyncio.get_running_loop()
        times = VideoTimes()
        pictures = 0
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    break
                if self._clock0 is None or self.recorder is None:
                    continue
                if self._camera is None:
                    self._camera = track
                    log.info("camera recorded mid=%s", mid)
                if self._camera is track:
                    self.recorder.write_video(times.at(frame, loop.time() - self._clock0), frame)  # type: ignore[arg-type]
                    pictures += 1
        finally:
            if self._camera is track:
                self._camera = None
            log.info("camera ended mid=%s pictures=%d", mid, pictures)

    async def _consume(self, track: MediaStreamTrack, role: str, mid: str) -> None:
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
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    break
                if offset is None:
                    now = loop.time()
                    if self._clock0 is None:
                        self._start_clock(now)
                    assert self._clock0 is not None
                    offset = now - self._clock0
                    log.info("track started role=%s t=%.3f", role, offset)
                chunk = conv.convert(frame)  # type: ignore[arg-type]
                t = offset + chunk.t
                if self.paused:  # listening paused: not captioned, billed or recorded (the recording keeps silence)
                    if not was_paused:  # what was said before the pause is still captioned
                        was_paused = True
                        for u in seg.flush():
                            await self._publish_segment(role, u, seg)
                    continue
                was_paused = False
                if self.unrecorded is None:  # what is not recorded is not billed
                    if self.recorder is not None:
                        self.recorder.write(t, chunk.pcm48k)
                    self.meter.add(chunk.seconds, mid)
                was_active = seg.active
                for u in seg.push(chunk.pcm16k, t):
                    await self._publish_segment(role, u, seg)
                if seg.active != was_active:
                    self._voice_activity(role, seg.active, t)
                if seg.active and role == "candidate" and self.mode == "mock":
                    self._mark_voice(t)
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
            seq = int(await self.redis.eval(_NEXT_SEQ, 1, self._seq_key, role, str(floor), str(SEQ_TTL_S)))  # type: ignore[misc]
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
            session_id=self.id,
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

    # ---- events: server -> client ----

    async def publish_event(self, event: Event) -> object:
        """Events the node itself produces (credits, notices) go through the stream like any other."""
        return await bus.publish_event(self.redis, self.id, event)

    async def _relay_events(self) -> None:
        stream = bus.events_stream(self.id)
        backoff = retry.Backoff(initial=0.2, cap=2.0)
        while not self._relay_stopping:
            try:
                res = await self.redis.xread(
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
                        # an event replayed after a takeover was said by the node that published it
                        if self.mode == "mock" and stream_id(entry_id) > stream_id(self._replayed_until):
                            self._maybe_speak(entry_id, text)
            if delivered is not None:
                await self._mark_relayed(delivered)

    async def _mark_relayed(self, entry_id: bytes | str) -> None:
        """The newest event on an open data channel, for a node that takes the session over."""
        try:
            await self.redis.set(self._relayed_key, entry_id, ex=SEQ_TTL_S)
        except (ConnectionError, OSError, aioredis.RedisError) as e:
            log.warning("could not mark the relayed events error=%r", e)

    async def _last_events(self, notify: str | None) -> None:
        """Before hanging up: deliver what is still in the stream (e.g. the credits notice), once."""
        if self._relay_task is not None:
            # redis-py can swallow a cancel that lands inside a blocking XREAD (the loop then runs
            # on), so the relay is asked to stop and given one read's time before a cancel.
            self._relay_stopping = True
            done, _ = await asyncio.wait({self._relay_task}, timeout=RELAY_BLOCK_MS / 1000 + 1)
            if not done:
                self._relay_task.cancel()
                await asyncio.gather(self._relay_task, return_exceptions=True)
        sent = False
        try:
            if notify:
                await self.publish_event(SessionEnded(reason=notify))
            res = await self.redis.xread({bus.events_stream(self.id): self._events_last}, count=1000)
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

    # ---- mock interviews: the interviewer's voice ----

    def _add_voice(self, pc: RTCPeerConnection, track: InterviewerTrack) -> None:
        track.on_frame = self._record_voice
        self.voices[pc] = track
        if self._last_spoken is not None and self._last_spoken[1].get("type") == "mock.question":
            self._speech.put_nowait(self._last_spoken)  # a reconnect: say the current question again

    def _record_voice(self, now: float, samples: Any) -> None:
        """The interviewer goes into the recording at the session time it was played."""
        if self.recorder is not None and self._clock0 is not None:
            self.recorder.write(now - self._clock0, samples)

    def _maybe_speak(self, entry_id: bytes | str, text: str) -> None:
        if '"mock.' not in text:
            return
        try:
            event = json.loads(text)
        except ValueError:
            return
        if isinstance(event, dict) and event.get("type") in SPOKEN_EVENTS:
            key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            self._last_spoken = (key, event)
            self._speech.put_nowait((key, event))

    async def _speaker(self) -> None:
        """Say each interviewer event in order; a newer one cuts the one still playing short."""
        synth = tts.shared(self.cfg)
        while True:
            key, event = await self._speech.get()
            speech = str(event.get("speech") or event.get("text") or "")
            lang = str(event.get("lang") or self.lang or "en")
            pcm = None
            if synth is not None and speech:
                try:
                    pcm = await synth.synthesize(speech, lang)
                except tts.SpeechError as e:
                    log.warning("could not synthesize the interviewer error=%s", e)
                except Exception:
                    log.exception("text to speech failed")
            live = [v for pc, v in self.voices.items() if pc.connectionState not in ("failed", "closed")]
            spoken = [v.say(key, pcm, interrupt=True) for v in live] if pcm is not None and len(pcm) else []
            self.tasks.spawn(self._after_speech(key, event, speech, lang, spoken), "spoken")

    async def _after_speech(self, key: str, event: dict[str, Any], speech: str, lang: str, spoken: list[Spoken]) -> None:
        """Once said: the line goes into the captions (and the transcript); a goodbye ends the session."""
        if spoken:
            try:
                await asyncio.wait_for(spoken[0].done.wait(), GOODBYE_WAIT + spoken[0].seconds)
            except TimeoutError:
                pass
            first = spoken[0]
            if first.started is not None and self._clock0 is not None and speech:
                end = first.ended if first.ended is not None else asyncio.get_running_loop().time()
                await self._interviewer_caption(key, speech, lang, first.started - self._clock0, end - self._clock0)
        if event.get("type") == "mock.done" and not self.ending:
            log.info("mock interview finished reason=%s", event.get("reason"))
            await self.publish_event(SessionEnded(reason="mock_complete"))
            self._owner.spawn(self._request_end("mock_complete"), f"end-{self.id[:8]}")

    async def _interviewer_caption(self, key: str, text: str, lang: str, t0: float, t1: float) -> None:
        self._tts_n += 1
        t0 = max(0.0, t0)
        cap = Caption(
            id=f"{self.id}:interviewer:say-{key}", role="interviewer", t0=round(t0, 3), t1=round(max(t0, t1), 3), text=text, lang=lang
        )
        try:
            if await captions_store.insert_caption(self.pool, cap, self.id, TTS_CAPTION_SEQ0 + self._tts_n):
                await self.publish_event(cap)
        except Exception:
            log.exception("could not store the interviewer's caption")

    def _mark_voice(self, t: float) -> None:
        """Tell the mock interviewer the candidate is speaking (off the audio path: a slow Redis never stalls it)."""
        now = time.time()
        if now - self._voice_marked < VOICE_MARK_EVERY or (self._voice_task is not None and not self._voice_task.done()):
            return
        self._voice_marked = now
        self._voice_task = self.tasks.spawn(self._set_voice_mark(now, t), "voice-mark")

    async def _set_voice_mark(self, now: float, t: float) -> None:
        try:
            await self.redis.set(voice_key(self.id), f"{now:.3f} {t:.3f}", ex=VOICE_MARK_TTL)
        except (ConnectionError, OSError, aioredis.RedisError) as e:
            log.warning("could not mark candidate speech error=%r", e)

    def _voice_activity(self, role: str, speaking: bool, t: float) -> None:
        """The candidate started/stopped speaking: queued for the llm worker, off the audio path."""
        if role != "candidate":
            return
        try:
            self._voice_q.put_nowait(VoiceActivity(role=role, speaking=speaking, t=round(t, 3)))
        except asyncio.QueueFull:
            log.warning("voice activity dropped (queue full) speaking=%s", speaking)

    async def _send_voice_activity(self) -> None:
        while True:
            v = await self._voice_q.get()
            try:
                await self._add_job(LlmJob(kind="voice", session_id=self.id, payload=v.to_payload()))
            except (ConnectionError, OSError, aioredis.RedisError) as e:
                log.warning("could not send voice activity error=%r", e)

    # ---- pause: the candidate stops listening for a while ----

    def _now_t(self) -> float:
        """The session time now (0 before the first audio frame)."""
        if self._clock0 is None:
            return 0.0
        return max(0.0, asyncio.get_running_loop().time() - self._clock0)

    def _on_pause(self, request: PauseRequest) -> None:
        self.tasks.spawn(self.set_paused(request.paused), "pause")

    async def set_paused(self, paused: bool) -> None:
        """Pause or resume listening for every track of the session (every peer): while paused the
        tracks are still received (aiortc's queues must drain) but not segmented, metered or recorded.
        The span is stored (``session_pauses``: the recording is marked) and every data channel hears
        ``listening``. Asking for the state the session is already in only repeats that event."""
        async with self._pause_lock:
            t = self._now_t()
            if paused != self.paused:
                self.paused = paused
                log.info("listening %s t=%.3f", "paused" if paused else "resumed", t)
                if paused:
                    self._pause_t0 = t
                    try:
                        self._pause_row = await pauses_store.start_pause(self.pool, uuid.UUID(self.id), round(t, 3))
                    except Exception:
                        log.exception("could not store the pause marker")
                        self._pause_row = None
                else:
                    await self._store_resume(t)
            await self.publish_event(Listening(paused=self.paused, t=round(self._pause_t0 if self.paused else t, 3)))

    async def _store_resume(self, t: float) -> None:
        row, self._pause_row = self._pause_row, None
        if row is None:
            return
        try:
            await pauses_store.end_pause(self.pool, row, round(max(t, self._pause_t0), 3))
        except Exception:
            log.exception("could not close the pause marker")

    # ---- data channel: client -> server ----

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_LABEL:
            log.info("ignoring data channel label=%r", channel.label)
            return
        self.channels.append(channel)

        @channel.on("message")
        def _message(message: str | bytes) -> None:
            self._on_message(channel, message)

        @channel.on("close")
        def _close() -> None:
            if channel in self.channels:
                self.channels.remove(channel)

        if channel.readyState == "open":
            self._flush_pending()
        else:
            channel.on("open", self._flush_pending)

    def _on_message(self, channel: RTCDataChannel, message: str | bytes) -> None:
        token = session_id_var.set(self.id)  # this runs in aiortc's task: its log lines name the session
        try:
            handle_client_message(
                message,
                reply=channel.send,
                enqueue=self._inbox.put_nowait,
                mock=self.mode == "mock",
                limiter=self.limiter,
                control=self._on_pause,
                max_bytes=self.cfg.client_msg_max_bytes,
            )
        finally:
            session_id_var.reset(token)

    async def _handle_inbox(self) -> None:
        while True:
            kind, msg = await self._inbox.get()
            try:
                if kind == "settings":
                    self._apply_settings(msg)
                await self._add_job(LlmJob(kind=kind, session_id=self.id, payload=msg))
            except Exception:
                log.exception("could not queue %s job", kind)
                self.send(ErrorEvent(code="unavailable", message="Could not take that request; try again").to_json())
            finally:
                self._inbox.task_done()

    def _apply_settings(self, msg: dict[str, Any]) -> None:
        """A settings message that ``handle_client_message`` validated (its normalised payload)."""
        change = client_settings.parse_settings(msg)
        if change.listen_language is not None:
            self.lang = change.listen_language
            log.info("listen language=%s", self.lang)
        if change.hangover is not None:
            for s in self._segmenters:
                s.set_hangover(change.hangover)

    async def _add_job(self, job: LlmJob) -> None:
        await self.redis.xadd(bus.LLM_JOBS, job.to_fields(), maxlen=bus.WORK_MAXLEN, approximate=True)  # type: ignore[arg-type]


def _session_language(value: str | None) -> str:
    """The session's listening language as Whisper takes it; an unusable stored one means detect it."""
    if not value:
        return "en"
    try:
        return client_settings.language(value, allow_auto=True)
    except ValueError:
        log.warning("unusable listen language %r; detecting the language instead", value[:40])
        return client_settings.AUTO


class ClientLimiter:
    """One session's budget for client messages: a token bucket; what it drops is told to the client
    as one ``notice`` ``rate_limited`` per ``notice_every`` seconds, however many were dropped."""

    def __init__(
        self, rate: float, burst: float, clock: Clock = time.monotonic, notice_every: float = RATE_NOTICE_EVERY_S
    ) -> None:
        self.bucket = TokenBucket(rate, burst, clock)
        self.throttle = Throttle(notice_every, clock)
        self.dropped = 0

    def admit(self, reply: Callable[[str], object]) -> bool:
        if self.bucket.take():
            return True
        self.drop(reply, "rate")
        return False

    def drop(self, reply: Callable[[str], object], why: str) -> None:
        """A message that is not handled: counted, and the client told (throttled)."""
        self.dropped += 1
        CLIENT_MESSAGES_DROPPED.labels(reason=why).inc()
        if self.throttle.ready():
            log.warning("client messages dropped reason=%s dropped_total=%d", why, self.dropped)
            reply(
                Notice(
                    level="warning",
                    code=RATE_LIMITED,
                    message="Too many requests: some were ignored; wait a few seconds before asking again",
                ).to_json()
            )


def _size(message: str | bytes, limit: int) -> int:
    if isinstance(message, str) and len(message) <= limit // 4:
        return len(message)  # at most 4 bytes a character: certainly within the limit
    return len(message.encode("utf-8", "surrogatepass")) if isinstance(message, str) else len(message)


def handle_client_message(
    message: str | bytes,
    *,
    reply: Callable[[str], object],
    enqueue: Callable[[tuple[str, dict[str, Any]]], object] | None,
    mock: bool = False,
    limiter: ClientLimiter | None = None,
    max_bytes: int = MAX_CLIENT_MESSAGE,
    control: Callable[[PauseRequest], object] | None = None,
) -> None:
    """One client->server data-channel message: answer ping, queue ask/settings (and, in a mock
    session, ``{"type": "mock", "action": skip|repeat|next|end}``), hand ``pause`` to ``control``,
    refuse the rest. What each may hold is ``messages.parse_client_message`` (the llm worker runs the
    same on what is queued).

    A bad message gets an ``error`` event back (``bad_message``, ``message_too_large``,
    ``invalid_settings``: nothing changes, not even on the llm worker). With a ``limiter`` every
    message costs a token, so a flood of anything (asks, pings, garbage) is dropped; a full queue
    (``enqueue`` raising QueueFull) drops the message too. Either way the client gets a throttled
    ``rate_limited`` notice.
    """

    def error(text: str, code: str = "bad_message") -> None:
        reply(ErrorEvent(code=code, message=text).to_json())

    if limiter is not None and not limiter.admit(reply):
        return None
    if _size(message, max_bytes) > max_bytes:
        return error(f"Messages can be at most {max_bytes} bytes", "message_too_large")
    try:
        m = messages.parse_client_message(message, mock=mock)
    except messages.InvalidClientMessage as e:
        reply(e.to_event().to_json())
        return None
    if isinstance(m, messages.Ping):
        reply(messages.Pong(id=m.id).to_json())
        return None
    if isinstance(m, PauseRequest):  # applied on the node itself, not an llm job
        if control is None:
            return error(f"Unknown message type {m.type!r}")
        control(m)
        return None
    if enqueue is None:  # a troubleshooting peer: ping only
        return error(f"Unknown message type {m.type!r}")
    item = (m.type, m.to_payload())
    try:
        enqueue(item)
    except asyncio.QueueFull:
        if limiter is not None:
            limiter.drop(reply, "queue")
        else:
            reply(Notice(level="warning", code=RATE_LIMITED, message="Too many requests; this one was ignored").to_json())
    return None
