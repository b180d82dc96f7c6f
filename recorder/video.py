"""The camera in a recording: one VP8 stream, at most 640x360 and 15 fps, encoded with realtime settings.

Why these limits: a recorder thread per session shares the node's cores with aiortc, so the encode
has to stay a few percent of a core (libvpx ``deadline=realtime``, ``cpu-used=8``, one thread,
~500 kbit/s), whatever the browser sends. Frame times are session seconds, the audio's clock, so a
picture that arrived t seconds after the session started is shown at t.

Why ``fill``: the Matroska muxer holds every packet back until each stream has one queued and never
gives up waiting for a VP8 stream, so a camera that stalls or ends would keep all later audio in
memory (nothing on disk if the node then dies). While the camera is silent the last picture is
repeated twice a second, which keeps the file flowing and shows a frozen frame, as a live call does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction

import av

log = logging.getLogger("recorder.video")

MAX_WIDTH, MAX_HEIGHT, MAX_FPS = 640, 360, 15
BITRATE = 500_000
GOP_FRAMES = 2 * MAX_FPS  # a keyframe every ~2 s: playback can seek
FILL_AFTER = 0.5  # s without a camera frame before the last picture is repeated
VP8_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "auto-alt-ref": "0"}
TIME_BASE = Fraction(1, 1000)  # Matroska's own resolution


def fit_size(width: int, height: int, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT) -> tuple[int, int]:
    """Scaled down (never up) to fit, aspect kept, both even (yuv420p needs even sizes)."""
    scale = min(1.0, max_width / max(1, width), max_height / max(1, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class FrameRateLimit:
    """Keeps at most ``fps`` frames per second of session time; cheap enough for the event loop."""

    def __init__(self, fps: float = MAX_FPS) -> None:
        self._step = 1.0 / fps
        self._tolerance = 0.25 * self._step  # capture jitter: a 15 fps camera is not cut to 7.5
        self._next = float("-inf")

    def admit(self, t: float) -> bool:
        if t < self._next - self._tolerance:
            return False
        # on time: the next slot follows this one (no drift); after a gap: restart from this frame
        self._next = self._next + self._step if t < self._next + self._step else t + self._step
        return True


class VideoEncoder:
    """One VP8 stream of an open container; used by the recorder's thread only."""

    def __init__(
        self,
        container: av.container.OutputContainer,
        first: av.VideoFrame,
        mux: Callable[[list[av.Packet]], None],
        *,
        bitrate: int = BITRATE,
    ) -> None:
        self.width, self.height = fit_size(first.width, first.height)
        stream = container.add_stream("libvpx")
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        stream.bit_rate = bitrate
        ctx = stream.codec_context
        ctx.time_base = TIME_BASE
        ctx.framerate = Fraction(MAX_FPS)
        ctx.gop_size = GOP_FRAMES
        ctx.thread_count = 1
        stream.options = dict(VP8_OPTIONS)
        self._stream = stream
        self._mux = mux
        self._last: av.VideoFrame | None = None  # the latest picture, already scaled
        self._last_t = float("-inf")
        self._last_pts = -1
        self.frames = 0  # camera frames encoded
        self.fills = 0  # repeats of the last picture
        self.late = 0  # frames older than what is already in the file

    @property
    def last_t(self) -> float:
        return self._last_t

    def encode(self, t: float, frame: av.VideoFrame) -> None:
        if not self._put(t, frame):
            self.late += 1
            return
        self.frames += 1

    def fill(self, until: float) -> None:
        """Repeat the last picture at ``until`` when the camera has been silent for a while."""
        if self._last is not None and until - self._last_t >= FILL_AFTER and self._put(until, self._last):
            self.fills += 1

    def flush(self) -> None:
        self._mux(self._stream.encode(None))

    def _put(self, t: float, frame: av.VideoFrame) -> bool:
        pts = int(round(t * 1000))
        if pts <= self._last_pts:
            return False
        if frame.width != self.width or frame.height != self.height or frame.format.name != "yuv420p":
            frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        frame.pts, frame.time_base = pts, TIME_BASE
        self._mux(self._stream.encode(frame))
        self._last, self._last_t, self._last_pts = frame, t, pts
        return True
