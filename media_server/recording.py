"""A session's clock and its recording on this node: the file, its part row, the camera, a full disk.

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
import logging
import time
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamTrack

from interview_room import db, disk
from interview_room.messages import Notice
from interview_room.store import recording_parts as parts_store
from recorder import SessionRecorder

from .audio import frames
from .context import SessionContext

log = logging.getLogger("media.session")

PART_ROW_ATTEMPTS = 12  # about a minute and a half of retries while the database restarts
VIDEO_RESYNC = 2.0  # s between a picture's RTP time and its arrival before the track is re-anchored
RTP_WRAP = 1 << 32


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


class Recording:
    """The session clock and this node's recording part. ``unrecorded`` says why recording stopped
    (a full disk, a failed recorder): from then on nothing is recorded and nothing is billed."""

    def __init__(self, ctx: SessionContext, path: Path) -> None:
        self.ctx = ctx
        self.path = path
        self.recorder: SessionRecorder | None = None
        self.unrecorded: str | None = None
        self.video_received = False  # an answer accepted a camera (the recording then expects one)
        self._camera: MediaStreamTrack | None = None  # the video track being recorded
        self.clock0: float | None = None  # loop.time() at session t = 0 (this node's first audio frame, or earlier)
        self._origin: float | None = None  # unix time of t = 0 set by an earlier part on another node
        self._part_task: asyncio.Task[Any] | None = None

    async def load_origin(self) -> None:
        try:  # a session that recorded elsewhere before keeps its clock
            self._origin = await parts_store.media_origin(self.ctx.pool, uuid.UUID(self.ctx.id))
        except Exception:
            log.exception("could not read earlier recording parts; the clock starts at 0")

    # ---- the clock ----

    def offset(self, now: float) -> float:
        """The session time of loop time ``now``; the first call anchors the clock (and starts recording)."""
        if self.clock0 is None:
            self._start(now)
        assert self.clock0 is not None
        return now - self.clock0

    def now_t(self) -> float:
        """The session time now (0 before the first audio frame)."""
        if self.clock0 is None:
            return 0.0
        return max(0.0, asyncio.get_running_loop().time() - self.clock0)

    def _start(self, now: float) -> None:
        """The one place t is anchored: 0 at this first frame, or, when the session already recorded
        on another node, the wall-clock seconds since that recording's t = 0."""
        wall = time.time()
        offset = max(0.0, wall - self._origin) if self._origin is not None else 0.0
        self.clock0 = now - offset
        if self.unrecorded is not None:  # the disk filled before the first frame: nothing to record into
            return
        self.recorder = SessionRecorder(self.path, session_id=self.ctx.id, video=self.video_received, start=offset)
        self._part_task = self.ctx.tasks.spawn(self._register_part(offset, wall), "recording-part")
        log.info("media started recording=%s video=%s t=%.3f", self.path, self.video_received, offset)

    # ---- writing ----

    def write(self, t: float, pcm48k: Any) -> None:
        if self.recorder is not None:
            self.recorder.write(t, pcm48k)

    def write_played(self, now: float, samples: Any) -> None:
        """Audio the node plays (the interviewer's voice) at the session time it was played."""
        if self.recorder is not None and self.clock0 is not None:
            self.recorder.write(now - self.clock0, samples)

    async def consume_video(self, track: MediaStreamTrack, mid: str) -> None:
        """The camera -> recorder (which encodes in its thread, dropping pictures it has no time for).

        Pictures before the session's first audio have no place on the clock and are skipped. One
        camera is recorded at a time: after a reconnect the new track takes over once the old one ended.
        Every picture is taken from aiortc even when not recorded, or its queue would grow.
        """
        loop = asyncio.get_running_loop()
        times = VideoTimes()
        pictures = 0
        try:
            async for frame in frames(track):
                if self.clock0 is None or self.recorder is None:
                    continue
                if self._camera is None:
                    self._camera = track
                    log.info("camera recorded mid=%s", mid)
                if self._camera is track:
                    self.recorder.write_video(times.at(frame, loop.time() - self.clock0), frame)  # type: ignore[arg-type]
                    pictures += 1
        finally:
            if self._camera is track:
                self._camera = None
            log.info("camera ended mid=%s pictures=%d", mid, pictures)

    # ---- the part row, the disk, the end ----

    async def _register_part(self, offset: float, wall: float) -> None:
        """Say where this node's recording sits on the session clock (playback joins the parts)."""
        for attempt in range(PART_ROW_ATTEMPTS):  # the database may be restarting: playback needs this row
            try:
                part = await parts_store.add_part(
                    self.ctx.pool,
                    uuid.UUID(self.ctx.id),
                    path=str(self.path),
                    offset_s=round(offset, 3),
                    started_wall=wall,
                    media_node=self.ctx.cfg.media_base_url,
                )
                log.info("recording part=%s offset=%.3f path=%s", part, offset, self.path)
                return
            except Exception as e:
                if not db.unavailable(e) or attempt + 1 == PART_ROW_ATTEMPTS:
                    log.exception("could not register the recording part path=%s", self.path)
                    return
                log.warning("database unavailable, registering the recording part again soon: %s", e)
                await asyncio.sleep(min(10.0, 0.5 * 2**attempt))

    async def watch_disk(self) -> None:
        """Stop recording (and billing) when DATA_DIR runs out of space or the recorder failed writing."""
        interval = max(0.05, self.ctx.cfg.disk_check_interval_ms / 1000.0)
        while self.unrecorded is None:
            if self.recorder is not None and self.recorder.error is not None:
                await self._stop(f"recorder failed: {self.recorder.error!r}")
            elif not disk.has_room(self.ctx.cfg.recordings_dir, self.ctx.cfg.min_free_disk_mb):
                await self._stop(f"free disk below {self.ctx.cfg.min_free_disk_mb:.0f} MB")
            else:
                await asyncio.sleep(interval)

    async def _stop(self, why: str) -> None:
        self.unrecorded = why
        log.error("recording stopped, no longer billed: %s", why)
        if self.recorder is not None:  # finalize what is there: the file stays playable
            await self.recorder.aclose()
        await self.ctx.publish(
            Notice(
                level="warning",
                code="insufficient_storage",
                message="The server ran out of disk space: recording has stopped and the rest of this session is "
                "not billed. Captions and answers go on.",
            )
        )

    async def close(self) -> float:
        """Finish the file; the recorded seconds."""
        return await self.recorder.aclose() if self.recorder is not None else 0.0

    async def part_written(self) -> None:
        """The part's row is written before the session counts as ended."""
        if self._part_task is not None:
            await asyncio.wait({self._part_task}, timeout=10)

    def file(self) -> str | None:
        return str(self.path) if self.recorder is not None and self.path.exists() else None
