"""One live session on this node: its peer connections, tracks, segmenters, recording, events relay.

Why the clock lives here: t = 0 is the first audio frame the node receives for the session, and
every track (also one that joins late or after a reconnect) is placed on that clock by the arrival
of its own first frame plus its RTP timestamps. Segments, the recording and therefore captions and
playback all use the same t.
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
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from interview_room import bus
from interview_room.config import Config
from interview_room.logs import session_id_var
from interview_room.messages import ErrorEvent, Event, LlmJob, Segment, SessionEnded
from interview_room.metrics import PEER_CONNECTIONS, SEGMENTS, SESSIONS_LIVE
from interview_room.service import TaskGroup
from interview_room.store import media as media_store
from recorder import SessionRecorder

from .audio import AudioConverter
from .metering import CreditMeter
from .peer import default_role
from .segmenter import Segmenter, SegmenterSettings, Utterance

log = logging.getLogger("media.session")

EVENTS_LABEL = "events"
MAX_PENDING_EVENTS = 1000  # events kept for a data channel that is not open yet
MAX_CLIENT_MESSAGE = 64 * 1024
LANGUAGE_MAX = 16


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
    ) -> None:
        self.id = session_id
        self.user_id = user_id
        self.mode = mode
        self.lang = listen_language or "en"
        self.cfg = cfg
        self.redis = redis
        self.pool = pool
        self.recording_path = cfg.recordings_dir / f"{session_id}.webm"
        self.seg_settings = SegmenterSettings.from_config(cfg, hangover)
        self.tasks = TaskGroup(f"session-{session_id[:8]}")
        self._owner = owner
        self._request_end = request_end
        self._end_grace = end_grace
        self.meter = CreditMeter(pool, user_id, session_id, self.publish_event)
        self.recorder: SessionRecorder | None = None
        self.pcs: set[RTCPeerConnection] = set()
        self._live_pcs: set[RTCPeerConnection] = set()  # counted in PEER_CONNECTIONS
        self.channels: list[RTCDataChannel] = []
        self._pending: deque[str] = deque(maxlen=MAX_PENDING_EVENTS)
        self._seq: dict[str, int] = {}
        self._segmenters: set[Segmenter] = set()
        self._track_tasks: set[asyncio.Task[Any]] = set()
        self._inbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._clock0: float | None = None  # loop.time() of the first audio frame
        self._events_last: bytes | str = "$"
        self._grace: asyncio.Task[Any] | None = None
        self._relay_task: asyncio.Task[Any] | None = None
        self._end_task: asyncio.Task[EndResult] | None = None
        self.ending = False
        self.segments_published = 0
        self.started = False

    # ---- lifecycle ----

    async def start(self) -> None:
        """Background work of a session that went live: events relay, client messages, credits."""
        session_id_var.set(self.id)
        self.started = True
        SESSIONS_LIVE.inc()
        last = await self.redis.xrevrange(bus.events_stream(self.id), count=1)
        # not "$" at the first XREAD: events published between now and that read are kept
        self._events_last = last[0][0] if last else b"0-0"
        self._relay_task = self.tasks.spawn(self._relay_events(), "events")
        self.tasks.spawn(self._handle_inbox(), "inbox")
        self.tasks.spawn(self.meter.run(self._credits_exhausted), "credits")

    def attach(self, pc: RTCPeerConnection) -> None:
        """Register a new peer connection (before its offer is applied, so no event is missed)."""
        self.pcs.add(pc)
        self._live_pcs.add(pc)
        PEER_CONNECTIONS.inc()
        pc.on("datachannel", self._on_datachannel)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            await self._on_pc_state(pc)

    def start_tracks(self, pc: RTCPeerConnection, roles: dict[str, str]) -> list[str]:
        """Start consuming every audio track of an answered offer; returns their roles."""
        started = []
        for t in pc.getTransceivers():
            track = t.receiver.track
            if t.kind != "audio" or track is None:
                continue
            role = roles.get(t.mid or "") or default_role(self.mode)
            task = self.tasks.spawn(self._consume(track, role, t.mid or "?"), f"track-{t.mid}-{role}")
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

    async def _credits_exhausted(self) -> None:
        self._owner.spawn(self._request_end("credits_exhausted"), f"end-{self.id[:8]}")

    # ---- audio ----

    def _start_clock(self, now: float) -> None:
        self._clock0 = now
        self.recorder = SessionRecorder(self.recording_path, session_id=self.id)
        log.info("media started recording=%s", self.recording_path)

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
                if self.recorder is not None:
                    self.recorder.write(t, chunk.pcm48k)
                self.meter.add(chunk.seconds, mid)
                for u in seg.push(chunk.pcm16k, t):
                    await self._publish_segment(role, u, seg)
            for u in seg.flush():
                await self._publish_segment(role, u, seg)
        finally:
            self._segmenters.discard(seg)
            log.info("track ended role=%s received=%.2f s", role, conv.received_seconds)

    async def _publish_segment(self, role: str, u: Utterance, seg: Segmenter) -> None:
        seq = self._seq.get(role, 0) + 1  # a partial shares the seq of the final that closes it
        if u.final:
            self._seq[role] = seq
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
            final=u.final,
        )
        try:
            await self.redis.xadd(bus.STT_SEGMENTS, msg.to_fields(), maxlen=bus.WORK_MAXLEN, approximate=True)  # type: ignore[arg-type]
        except Exception:
            log.exception("could not publish segment seq=%d role=%s", seq, role)
            return
        if u.final:
            SEGMENTS.labels(role=role).inc()
            self.segments_published += 1

    # ---- events: server -> client ----

    async def publish_event(self, event: Event) -> object:
        """Events the node itself produces (credits, notices) go through the stream like any other."""
        return await bus.publish_event(self.redis, self.id, event)

    async def _relay_events(self) -> None:
        stream = bus.events_stream(self.id)
        while True:
            try:
                res = await self.redis.xread(
                    {stream: self._events_last}, count=100, block=2000
                )  # below redis-py 8's 5 s socket timeout
            except (ConnectionError, OSError, aioredis.RedisError) as e:
                log.warning("events read failed, retrying error=%r", e)
                await asyncio.sleep(1)
                continue
            for _, entries in res or []:
                for entry_id, fields in entries:
                    self._events_last = entry_id
                    data = fields.get(b"data")
                    if data:
                        self.send(data.decode("utf-8", "replace"))

    async def _last_events(self, notify: str | None) -> None:
        """Before hanging up: deliver what is still in the stream (e.g. the credits notice), once."""
        if self._relay_task is not None:
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

    def send(self, text: str) -> None:
        """To every open "events" channel of the session; kept for later while none is open."""
        open_channels = [c for c in self.channels if c.readyState == "open"]
        if not open_channels:
            self._pending.append(text)
            return
        for c in open_channels:
            c.send(text)

    def _flush_pending(self) -> None:
        while self._pending and any(c.readyState == "open" for c in self.channels):
            self.send(self._pending.popleft())

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
        handle_client_message(message, reply=channel.send, enqueue=self._inbox.put_nowait)

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
        lang = msg.get("listen_language")
        if isinstance(lang, str) and 0 < len(lang) <= LANGUAGE_MAX:
            self.lang = lang
        hangover = msg.get("hangover")
        if isinstance(hangover, str) and hangover:
            for s in self._segmenters:
                s.set_hangover(hangover)

    async def _add_job(self, job: LlmJob) -> None:
        await self.redis.xadd(bus.LLM_JOBS, job.to_fields(), maxlen=bus.WORK_MAXLEN, approximate=True)  # type: ignore[arg-type]


def handle_client_message(
    message: str | bytes,
    *,
    reply: Callable[[str], object],
    enqueue: Callable[[tuple[str, dict[str, Any]]], object] | None,
) -> None:
    """One client->server data-channel message: answer ping, queue ask/settings, refuse the rest.

    A bad message gets an ``error`` event back (``bad_message``) and changes nothing.
    """

    def error(text: str) -> None:
        reply(ErrorEvent(code="bad_message", message=text).to_json())

    if len(message) > MAX_CLIENT_MESSAGE:
        return error("Message too large")
    try:
        msg = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return error("Messages must be JSON objects")
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return error('Messages must be JSON objects with a "type"')
    kind = msg["type"]
    if kind == "ping":
        reply(json.dumps({"v": 1, "type": "pong", "ts": time.time(), "id": msg.get("id")}))
        return None
    if enqueue is not None and kind in ("ask", "settings"):
        if kind == "ask" and "text" in msg and not isinstance(msg["text"], str | None):
            return error('"text" must be a string')
        enqueue((kind, msg))
        return None
    return error(f"Unknown message type {kind!r}")
