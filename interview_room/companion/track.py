"""An aiortc audio track of a source's 20 ms frames, paced by the wall clock.

Why its own pacing: a PulseAudio monitor delivers nothing while nothing plays (a null sink, a
suspended output), and a device's clock drifts from ours. The track sends one frame every 20 ms
whatever happens: the newest captured frame, or silence when none came. So the RTP clock, and with it
the session clock the captions and the recording use, follows real time. A backlog (the loop stalled,
the device runs fast) is dropped, oldest first, never burst.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from .sources import FRAME_BYTES, FRAME_SAMPLES, RATE, AudioSource, SourceError

PTIME = 0.020
MAX_QUEUED = 10  # 200 ms of captured audio waiting at most
MAX_LAG = 0.060  # a loop stall longer than this is skipped, not burst


class SourceTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, source: AudioSource) -> None:
        super().__init__()
        self.source = source
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(MAX_QUEUED)
        self._reader: asyncio.Task[Any] | None = None
        self._start: float | None = None
        self._sent = 0
        self.silent_frames = 0  # frames sent as silence because the source had nothing
        self.error: SourceError | None = None  # why the source stopped, for the command to print

    async def _read(self) -> None:
        try:
            async for pcm in self.source.frames():
                if self._queue.full():
                    self._queue.get_nowait()
                self._queue.put_nowait(pcm)
        except SourceError as e:
            self.error = e
        self.stop()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read())
            self._start = time.monotonic()
        assert self._start is not None
        delay = self._start + self._sent * PTIME - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -MAX_LAG:
            self._start -= delay
        if self.readyState != "live":
            raise MediaStreamError
        try:
            pcm = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            pcm = bytes(FRAME_BYTES)
            self.silent_frames += 1
        frame = av.AudioFrame.from_ndarray(np.frombuffer(pcm, np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._sent * FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += 1
        return frame

    def stop(self) -> None:
        super().stop()
        if self._reader is not None and not self._reader.done() and self._reader is not asyncio.current_task():
            self._reader.cancel()
