"""One live session on this node: its peer connections, and the parts that do the work, each owned
by the session's TaskGroup:

- ``Recording`` (recording.py): the session clock, the recording file and its part row, the camera, a full disk
- ``Ingest`` (ingest.py): audio tracks -> segmenter -> ``stt:segments``; voice activity -> the llm worker
- ``EventRelay`` (relay.py): the session's events stream -> its data channels
- ``ClientInbox`` and ``PauseControl`` (inbox.py): client messages -> llm jobs; paused listening
- ``MockVoice`` (mock_voice.py): a mock session's interviewer voice (only a mock session has one)

``MediaSession`` wires them, and owns the peers, the credit meter and the end of the session.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiortc import RTCDataChannel, RTCPeerConnection

from interview_room import bus, client_settings
from interview_room.config import Config
from interview_room.logs import session_id_var
from interview_room.messages import Event, LlmJob
from interview_room.metrics import PEER_CONNECTIONS, SESSIONS_LIVE
from interview_room.service import TaskGroup
from interview_room.store import media as media_store

from .context import SessionContext
from .inbox import ClientInbox, ClientLimiter, PauseControl, handle_client_message
from .ingest import Ingest, add_job
from .metering import CreditMeter
from .mock_voice import MockVoice, interviewer_voice, voice_key
from .peer import default_role
from .publisher import SegmentPublisher
from .recording import Recording
from .relay import EventRelay, stream_id
from .segmenter import SegmenterSettings
from .tts_track import InterviewerTrack

# moved to the parts; kept importable from here
__all__ = [
    "ClientLimiter",
    "EndResult",
    "MediaSession",
    "handle_client_message",
    "interviewer_voice",
    "stream_id",
    "voice_key",
]

log = logging.getLogger("media.session")

EVENTS_LABEL = "events"


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
        self.cfg = cfg
        self.redis = redis
        self.pool = pool
        self.recording_path = recording_path or cfg.recordings_dir / f"{session_id}.webm"
        self.tasks = TaskGroup(f"session-{session_id[:8]}")
        self._owner = owner
        self._request_end = request_end
        self._end_grace = end_grace
        self.pcs: set[RTCPeerConnection] = set()
        self._live_pcs: set[RTCPeerConnection] = set()  # counted in PEER_CONNECTIONS
        # a second peer (the ``interview-room listen`` companion) adds tracks; it never replaces the browser's
        self.peer_kinds: dict[RTCPeerConnection, str] = {}
        self._track_tasks: set[asyncio.Task[Any]] = set()
        self._grace: asyncio.Task[Any] | None = None
        self._end_task: asyncio.Task[EndResult] | None = None
        self.ending = False
        self.started = False
        # the parts, sharing one context; every task they start is owned by ``self.tasks``
        ctx = SessionContext(id=session_id, cfg=cfg, redis=redis, pool=pool, tasks=self.tasks)
        self.ctx = ctx
        self.recording = Recording(ctx, self.recording_path)
        self.mock: MockVoice | None = None
        if mode == "mock":  # mock-specific behaviour lives in MockVoice
            self.mock = MockVoice(
                ctx, recording=self.recording, lang=lambda: self.lang, is_ending=lambda: self.ending, end=self._end_soon
            )
        self.relay = EventRelay(ctx, listener=self.mock.on_event if self.mock is not None else None)
        self.publisher = publisher or SegmentPublisher(
            redis, buffer_bytes=cfg.media_outage_buffer_bytes, backlog_bytes=cfg.stt_backlog_bytes, on_shed=self.notify_shed
        )
        self.meter = CreditMeter(pool, user_id, session_id, ctx.publish)
        self.pause = PauseControl(ctx, now_t=self.recording.now_t)
        self.ingest = Ingest(
            ctx,
            lang=_session_language(listen_language),
            seg_settings=SegmenterSettings.from_config(cfg, hangover),
            publisher=self.publisher,
            recording=self.recording,
            meter=self.meter,
            paused=lambda: self.pause.paused,
            on_speaking=self.mock.mark_speaking if self.mock is not None else None,
        )
        self.inbox = ClientInbox(
            ctx, mock=self.mock is not None, control=self.pause.request, apply_settings=self._apply_settings, send=self.relay.send
        )

    @property
    def lang(self) -> str:
        """The listening language (Whisper's code, or ``auto``); a settings message changes it."""
        return self.ingest.lang

    @property
    def paused(self) -> bool:
        return self.pause.paused

    @property
    def unrecorded(self) -> str | None:
        """Why recording stopped (a full disk): that time is not billed."""
        return self.recording.unrecorded

    @property
    def segments_published(self) -> int:
        return self.ingest.segments_published

    async def set_paused(self, paused: bool) -> None:
        await self.pause.set_paused(paused)

    # ---- lifecycle ----

    async def start(self) -> None:
        """Background work of a session that went live: events relay, client messages, credits."""
        session_id_var.set(self.id)
        self.started = True
        SESSIONS_LIVE.inc()
        await self.recording.load_origin()
        await self.ingest.load_seqs()
        await self.relay.seek()
        self.relay.start()
        self.tasks.spawn(self.inbox.run(), "inbox")
        self.tasks.spawn(self.meter.run(self._credits_exhausted), "credits")
        self.tasks.spawn(self.recording.watch_disk(), "disk")
        self.tasks.spawn(self.ingest.send_voice_activity(), "voice-activity")
        if self.mock is not None:
            self.mock.start()
            # the interviewer starts (or, after a node restart, repeats where it was)
            self.inbox.put("mock", {"type": "mock", "action": "start"})

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
            if self.mock is not None:
                self.mock.forget(p)
        if old:
            log.info("re-offer replaces %d earlier peer connection(s)", len(old))
            await asyncio.gather(*(self._close_pc(p) for p in old), return_exceptions=True)

    def start_tracks(self, pc: RTCPeerConnection, roles: dict[str, str]) -> list[str]:
        """Start consuming every audio track (and an accepted camera) of an answered offer; returns
        the audio tracks' roles."""
        started = []
        for t in pc.getTransceivers():
            if isinstance(t.sender.track, InterviewerTrack) and self.mock is not None:
                self.mock.add_voice(pc, t.sender.track)
            track = t.receiver.track
            if t.kind == "video" and track is not None and t.direction == "recvonly":
                self.recording.video_received = True
                self._own_track(self.recording.consume_video(track, t.mid or "?"), f"camera-{t.mid}")
                continue
            if t.kind != "audio" or track is None:
                continue
            kind = self.peer_kinds.get(pc, "browser")
            # the companion sends the computer's audio: the other side of the call
            role = "interviewer" if kind == "companion" else roles.get(t.mid or "") or default_role(self.mode)
            meter_key = (t.mid or "?") if kind == "browser" else f"{kind}:{t.mid}"  # metered apart, billed once
            self._own_track(self.ingest.consume(track, role, meter_key), f"track-{t.mid}-{role}")
            started.append(role)
        self._arm_grace()
        return started

    def _own_track(self, work: Awaitable[None], name: str) -> None:
        task = self.tasks.spawn(work, name)  # type: ignore[arg-type]
        self._track_tasks.add(task)
        task.add_done_callback(self._track_tasks.discard)

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
        await self.pause.end()
        if self.started:
            await self.relay.last_events(notify=reason if by_node and reason == "node_shutdown" else None)
        await asyncio.gather(*(self._close_pc(pc) for pc in list(self.pcs)), return_exceptions=True)
        if self._track_tasks:  # closing the pcs ends the tracks; each flushes its segmenter
            _, pending = await asyncio.wait(set(self._track_tasks), timeout=10)
            for t in pending:
                t.cancel()
        seconds = await self.recording.close()
        media_seconds = self.meter.media_seconds
        try:
            await self.meter.close()
        except Exception:
            log.exception("final credit debit failed")
        await self.recording.part_written()
        await self.inbox.drain()
        await self.tasks.close()
        try:
            await add_job(
                self.redis,
                LlmJob(
                    kind="session_end", session_id=self.id, payload={"reason": reason, "media_seconds": media_seconds}
                ),
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
        log.info(
            "session ended reason=%s media_seconds=%.2f recorded=%.2f segments=%d",
            reason,
            media_seconds,
            seconds,
            self.segments_published,
        )
        return EndResult(media_seconds=media_seconds, recording_path=self.recording.file())

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
        self._end_soon("peer_gone")

    async def _credits_exhausted(self) -> None:
        self._end_soon("credits_exhausted")

    def _end_soon(self, reason: str) -> None:
        self._owner.spawn(self._request_end(reason), f"end-{self.id[:8]}")

    # ---- wiring of the parts ----

    async def publish_event(self, event: Event) -> object:
        """Events the node itself produces (credits, notices) go through the stream like any other."""
        return await self.ctx.publish(event)

    def send(self, text: str) -> bool:
        """To every open "events" channel of the session; kept for later while none is open (False)."""
        return self.relay.send(text)

    def notify_shed(self, session_id: str, reason: str, nbytes: int) -> None:
        self.relay.notify_shed(session_id, reason, nbytes)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_LABEL:
            log.info("ignoring data channel label=%r", channel.label)
            return

        @channel.on("message")
        def _message(message: str | bytes) -> None:
            self.inbox.on_message(channel, message)

        self.relay.add_channel(channel)

    def _apply_settings(self, change: client_settings.SettingsChange) -> None:
        if change.listen_language is not None:
            self.ingest.lang = change.listen_language
            log.info("listen language=%s", self.lang)
        if change.hangover is not None:
            self.ingest.set_hangover(change.hangover)


def _session_language(value: str | None) -> str:
    """The session's listening language as Whisper takes it; an unusable stored one means detect it."""
    if not value:
        return "en"
    try:
        return client_settings.language(value, allow_auto=True)
    except ValueError:
        log.warning("unusable listen language %r; detecting the language instead", value[:40])
        return client_settings.AUTO
