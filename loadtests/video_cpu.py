"""CPU cost of recording a candidate's camera on a media node. Prints figures; asserts nothing.

    .venv/bin/python -m loadtests.video_cpu pipeline            # VP8 decode + recorder encode, no network
    .venv/bin/python -m loadtests.video_cpu node --streams 4    # a real node, RECORD_VIDEO=off then =all

``pipeline`` times what a recorded camera adds per stream: aiortc's VP8 decode (its decoder thread) and
the recorder's scale + VP8 encode + mux (the recorder thread), on 640x360 at 15 fps of a synthetic
moving picture (what the candidate page sends). ``node`` runs ``loadtests.media_cpu``'s real node
measurement twice with N peers each sending a microphone and that camera: once with video recording
off (the node declines the camera, today's cost) and once on (received, decoded, recorded).

``CameraTrack`` is also the test suite's camera (tests/test_video_recording.py).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

VIDEO_CLOCK = 90000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


def solid_picture(rgb: tuple[int, int, int], width: int = 640, height: int = 360) -> av.VideoFrame:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = rgb
    return av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")


def moving_pictures(n: int = 60, width: int = 640, height: int = 360, seed: int = 0) -> list[av.VideoFrame]:
    """A looped "talking head": a textured background and a blob that moves, with sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack([xx * 200 // width, yy * 200 // height, 120 + 0 * xx], axis=-1).astype(np.int16)
    background += rng.integers(-20, 20, background.shape, dtype=np.int16)
    out = []
    for i in range(n):
        cx = width / 2 + width / 8 * np.sin(2 * np.pi * i / n)
        cy = height / 2 + height / 12 * np.cos(4 * np.pi * i / n)
        blob = ((xx - cx) / (width / 7)) ** 2 + ((yy - cy) / (height / 3)) ** 2 < 1
        img = background.copy()
        img[blob] = (210, 170, 140)
        img += rng.integers(-6, 6, img.shape, dtype=np.int16)
        out.append(av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24").reformat(format="yuv420p"))
    return out


class CameraTrack(MediaStreamTrack):
    """A camera sending ``pictures`` (cycled) at ``fps`` in real time, like the candidate page's 640x360@15.

    ``picture``, when given, chooses each frame instead (called with the seconds since this track's
    first frame): e.g. change colour when the speech starts. ``start_delay`` holds the first frame
    back, as a camera that takes a moment to start does. Pacing as WavTrack: a stalled loop skips.
    """

    kind = "video"

    def __init__(
        self,
        pictures: Sequence[av.VideoFrame] | None = None,
        *,
        fps: float = 15.0,
        picture: Callable[[float], av.VideoFrame] | None = None,
        start_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.pictures = list(pictures) if pictures else [solid_picture((40, 40, 40))]
        self.picture = picture
        self.fps = fps
        self.start_delay = start_delay
        self.sent = 0
        self._t0: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._t0 is None:
            await asyncio.sleep(self.start_delay)
            self._t0 = time.monotonic()
        t = self.sent / self.fps
        delay = self._t0 + t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.2:  # the loop stalled: skip ahead instead of bursting
            skip = int(-delay * self.fps)
            self.sent += skip
            t = self.sent / self.fps
        if self.readyState != "live":
            raise MediaStreamError
        frame = self.picture(t) if self.picture is not None else self.pictures[self.sent % len(self.pictures)]
        frame.pts = int(t * VIDEO_CLOCK)
        frame.time_base = VIDEO_TIME_BASE
        self.sent += 1
        return frame


def pipeline(seconds: float) -> None:
    from loadtests.media_cpu import FIXTURE
    from recorder import SessionRecorder

    pictures = moving_pictures()
    n = int(seconds * 15)
    enc = av.CodecContext.create("libvpx", "w")  # what aiortc's sender puts on the wire
    enc.width, enc.height, enc.pix_fmt, enc.bit_rate = 640, 360, "yuv420p", 500_000
    enc.time_base = fractions.Fraction(1, VIDEO_CLOCK)
    enc.options = {"deadline": "realtime", "cpu-used": "4"}
    packets: list[av.Packet] = []
    for i in range(n):
        f = pictures[i % len(pictures)]
        f.pts, f.time_base = i * VIDEO_CLOCK // 15, enc.time_base
        packets.extend(enc.encode(f))
    dec = av.CodecContext.create("libvpx", "r")
    t = time.process_time()
    decoded = [f for p in packets for f in dec.decode(p)]
    t_decode = time.process_time() - t

    from loadtests.client import decode_wav

    mono = decode_wav(FIXTURE, 48000)
    audio = np.tile(mono, int(np.ceil(seconds * 48000 / len(mono))))[: int(seconds * 48000)]
    figures = {}
    for video in (False, True):
        with tempfile.TemporaryDirectory() as d:
            rec = SessionRecorder(Path(d) / "r.webm", video=video, max_video_queue=n + 1)
            t = time.process_time()
            vi = 0
            for i in range(0, len(audio), 960):
                rec.write(i / 48000, audio[i : i + 960])
                while video and vi < len(decoded) and vi / 15 <= i / 48000:
                    rec.write_video(vi / 15, decoded[vi])
                    vi += 1
            rec.close()
            figures[video] = time.process_time() - t
            size = (Path(d) / "r.webm").stat().st_size
        print(f"recorder, video {'on ' if video else 'off'}: {size * 8 / seconds / 1000:.0f} kbit/s in the file")
    print(f"camera: {seconds:.0f} s of 640x360 at 15 fps ({len(decoded)} pictures), synthetic moving picture")
    extra = figures[True] - figures[False]
    for name, v in (
        ("aiortc decoder thread: VP8 decode", t_decode),
        ("recorder thread: scale + VP8 encode + mux", extra),
    ):
        print(f"  {name:42s} {100 * v / seconds:5.2f} % of a core per stream")
    print(f"  {'video recording adds':42s} {100 * (t_decode + extra) / seconds:5.2f} % of a core per stream")
    print(f"  (audio-only recorder thread for comparison: {100 * figures[False] / seconds:5.2f} %)")


async def node(streams: int, seconds: float) -> None:
    from loadtests.media_cpu import _node

    pictures = moving_pictures()
    results = {}
    for setting in ("off", "all"):
        print(f"RECORD_VIDEO={setting}")
        results[setting] = await _node(
            streams, seconds, env={"RECORD_VIDEO": setting}, camera=lambda: CameraTrack(pictures)
        )
    off, on = results["off"], results["all"]
    print(f"per stream with a camera: recording off {100 * off:.2f} %, on {100 * on:.2f} % of a core")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("pipeline", "node"))
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    if a.mode == "pipeline":
        pipeline(max(a.seconds, 30.0))
    else:
        asyncio.run(node(a.streams, a.seconds))


if __name__ == "__main__":
    main()
