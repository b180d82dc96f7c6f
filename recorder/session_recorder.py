"""A session's audio, mixed from all its tracks onto the session clock, written to WebM/Opus as it arrives,
plus, when the session records video, the camera as a VP8 stream on the same clock (recorder/video.py).

Why a thread: Opus/VP8 encoding and disk writes must never run on the event loop that holds the peer
connections. The loop only puts (t, samples) and (t, picture) on a queue; the thread places each
piece at its session time in a mix (a late track starts late, holes are silence), encodes what every
track has had time to deliver (``mix_delay`` behind the newest audio), and muxes it. Short Matroska
clusters plus packet flushing keep the file playable up to the last second or so if the process dies.

Why a recording that expects video waits before writing: a stream cannot be added once the header is
written and its size comes from the first picture, so the file is opened at the first camera frame,
or audio-only after ``video_wait`` seconds of audio without one. Pictures that arrive while the
thread still has ``max_video_queue`` of them to encode are dropped: video may stutter, audio never.
"""

from __future__ import annotations

import logging
import queue
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from interview_room.logs import session_id_var
from interview_room.metrics import AUDIO_FRAMES_DROPPED

from .video import FrameRateLimit, VideoEncoder

log = logging.getLogger("recorder")

RATE = 48000
# cluster_time_limit: close a cluster every second so a crash loses at most that much;
# flush_packets: hand every packet to the file right away instead of a 32 KB buffer
MUXER_OPTIONS = {"cluster_time_limit": "1000", "flush_packets": "1"}
# with a camera: a stalled audio track holds video packets back at most this long (microseconds)
VIDEO_MUXER_OPTIONS = {**MUXER_OPTIONS, "max_interleave_delta": "2000000"}
_CLOSE = object()


class _Picture:
    __slots__ = ("t", "frame")

    def __init__(self, t: float, frame: av.VideoFrame) -> None:
        self.t, self.frame = t, frame


class SessionRecorder:
    """``write`` from the event loop (never blocks), ``close`` once (blocks; use ``aclose`` from async code)."""

    def __init__(
        self,
        path: Path,
        *,
        session_id: str = "-",
        bitrate: int = 32000,
        mix_delay: float = 0.5,
        max_queue: int = 3000,
        video: bool = False,
        video_wait: float = 4.0,
        max_video_queue: int = 3,
        start: float = 0.0,
    ) -> None:
        """``video``: the session receives a camera track, record it (``write_video``).
        ``start``: the session time of the file's first sample (a later part of a session that moved
        here from another node starts where the session clock is, but its file starts at 0)."""
        self.path = Path(path)
        self.start = start
        self.session_id = session_id
        self.bitrate = bitrate
        self._delay = int(mix_delay * RATE)
        self._q: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._pieces: list[tuple[int, np.ndarray]] = []  # (start sample, int16 mono) not yet encoded
        self._end = 0  # end sample of the newest audio seen
        self._written = 0  # samples encoded so far (the file's duration)
        self._container: av.container.OutputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        self._closed = False
        self.dropped = 0
        self.late_samples = 0
        self.error: BaseException | None = None
        # video: loop side
        self.video = video
        self._video_wait = int(video_wait * RATE)
        self._max_video_queue = max_video_queue
        self._video_queued = 0  # pictures on the queue, not yet taken by the thread
        self._video_lock = threading.Lock()
        self._rate = FrameRateLimit()
        self._video_off = not video  # set by the thread once the file is open without a video stream
        self.video_dropped = 0  # pictures lost because the thread was busy
        self.video_skipped = 0  # pictures above the frame rate limit
        # video: thread side
        self._video: VideoEncoder | None = None
        self._thread = threading.Thread(target=self._run, name=f"recorder-{session_id}", daemon=True)
        self._thread.start()

    @property
    def encoded_seconds(self) -> float:
        """Seconds already encoded and handed to the file."""
        return self._written / RATE

    def write(self, t: float, samples: np.ndarray) -> None:
        """Queue mono 48 kHz int16 ``samples`` whose first sample is at session time ``t``."""
        if self._closed or self.error is not None:
            return
        try:
            self._q.put_nowait((t - self.start, samples))
        except queue.Full:  # the encoder cannot keep up: lose audio in the file, never stall the call
            self.dropped += 1
            AUDIO_FRAMES_DROPPED.inc()

    def write_video(self, t: float, frame: av.VideoFrame) -> None:
        """Queue a camera picture that arrived at session time ``t`` (never blocks, may drop it)."""
        t -= self.start
        if self._closed or self.error is not None or self._video_off or t < 0:
            return
        if not self._rate.admit(t):
            self.video_skipped += 1
            return
        with self._video_lock:
            if self._video_queued >= self._max_video_queue:
                self.video_dropped += 1
                return
            self._video_queued += 1
        try:
            self._q.put_nowait(_Picture(t, frame))
        except queue.Full:
            with self._video_lock:
                self._video_queued -= 1
            self.video_dropped += 1

    @property
    def video_frames(self) -> int:
        """Camera pictures encoded so far (repeats of a stalled camera's last picture not counted)."""
        return self._video.frames if self._video is not None else 0

    def close(self, timeout: float = 30.0) -> float:
        """Encode what is left, finalize the file; returns its duration in seconds. Idempotent."""
        if not self._closed:
            self._closed = True
            self._q.put(_CLOSE)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("recorder did not finish in %.0f s path=%s", timeout, self.path)
        return self.encoded_seconds

    async def aclose(self) -> float:
        import asyncio

        return await asyncio.to_thread(self.close)

    # ---- the thread ----

    def _run(self) -> None:
        session_id_var.set(self.session_id)
        try:
            if not self.video:
                self._open(None)
            while True:
                item = self._q.get()
                if item is _CLOSE:
                    break
                self._take(item)
                closing = False
                while True:  # take whatever else is queued before encoding
                    try:
                        item = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if item is _CLOSE:
                        closing = True
                        break
                    self._take(item)
                if closing:
                    break
                self._step()
            self._finish()
        except BaseException as e:  # a broken recording must not take the session down
            self.error = e
            self._video_off = True
            log.exception("recording failed path=%s", self.path)
            self._abort()

    def _take(self, item: object) -> None:
        if isinstance(item, _Picture):
            with self._video_lock:
                self._video_queued -= 1
            self._add_picture(item.t, item.frame)
        else:
            t, samples = item  # type: ignore[misc]
            self._add(t, samples)

    def _step(self) -> None:
        """Encode the audio every track has had time to deliver (once the file is open)."""
        if self._container is None:
            if self._end < self._video_wait:
                return  # still waiting for the camera's first picture
            log.info("no camera picture in the first %.1f s: recording audio only", self._video_wait / RATE)
            self._open(None)
        if self._end - self._delay - self._written >= RATE // 10:
            self._encode_until(self._end - self._delay)
            if self._video is not None:
                self._video.fill(self._written / RATE)

    def _add_picture(self, t: float, frame: av.VideoFrame) -> None:
        if self._container is None:
            self._open(frame)
        if self._video is not None:
            self._video.encode(t, frame)

    def _open(self, first_picture: av.VideoFrame | None) -> None:
        """The file with the Opus stream, and a VP8 stream sized by ``first_picture`` if given."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = VIDEO_MUXER_OPTIONS if first_picture is not None else MUXER_OPTIONS
        self._container = av.open(str(self.path), "w", format="webm", options=dict(options))
        stream = self._container.add_stream("libopus", rate=RATE)
        stream.layout = "mono"
        stream.bit_rate = self.bitrate
        stream.options = {"application": "voip"}
        self._stream = stream
        if first_picture is not None:
            self._video = VideoEncoder(self._container, first_picture, self._container.mux)
            log.info("recording video %dx%d path=%s", self._video.width, self._video.height, self.path)
        else:
            self._video_off = True  # no stream to put pictures in: the loop stops queueing them

    def _add(self, t: float, samples: np.ndarray) -> None:
        start = int(round(t * RATE))
        x = np.asarray(samples, dtype=np.int16).reshape(-1)
        if start < self._written:  # arrived after its place was encoded: keep only the part still ahead
            cut = self._written - start
            self.late_samples += min(cut, len(x))
            x = x[cut:]
            start = self._written
        if len(x):
            self._pieces.append((start, x))
            self._end = max(self._end, start + len(x))

    def _encode_until(self, target: int) -> None:
        step = RATE  # at most a second at a time: a long hole never allocates more
        while self._written < target:
            a = self._written
            b = min(target, a + step)
            mix = np.zeros(b - a, dtype=np.int32)
            keep: list[tuple[int, np.ndarray]] = []
            for start, x in self._pieces:
                end = start + len(x)
                if end > a and start < b:
                    lo, hi = max(start, a), min(end, b)
                    mix[lo - a : hi - a] += x[lo - start : hi - start]
                if end > b:
                    keep.append((start, x))
            self._pieces = keep
            self._encode(np.clip(mix, -32768, 32767).astype(np.int16), a)
            self._written = b

    def _encode(self, pcm: np.ndarray, pts: int) -> None:
        assert self._container is not None and self._stream is not None
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = pts
        frame.time_base = Fraction(1, RATE)
        self._container.mux(self._stream.encode(frame))

    def _finish(self) -> None:
        if self._container is None:  # shorter than the wait for a camera that never sent a picture
            self._open(None)
        self._encode_until(self._end)
        assert self._container is not None and self._stream is not None
        if self._video is not None:
            self._video.fill(self.encoded_seconds)  # the picture lasts as long as the sound
            self._video.flush()
        self._container.mux(self._stream.encode(None))
        self._container.close()
        self._container = None
        log.info("recording finalized path=%s seconds=%.2f dropped=%d", self.path, self.encoded_seconds, self.dropped)
        if self._video is not None:
            v = self._video
            log.info(
                "video finalized frames=%d repeats=%d late=%d dropped_busy=%d above_fps=%d",
                v.frames,
                v.fills,
                v.late,
                self.video_dropped,
                self.video_skipped,
            )

    def _abort(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                log.warning("could not close the broken recording path=%s", self.path)
            self._container = None


def new_recording_path(folder: Path, session_id: str) -> Path:
    """``{id}.webm``, or ``{id}.2.webm``… when a part exists already (the session moved to this node
    after its first node died, or the node restarted): an earlier part is never overwritten."""
    path = folder / f"{session_id}.webm"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{session_id}.{n}.webm"
    return path
