"""The server->client audio track of a mock session: the interviewer's speech, silence otherwise.

Why a paced track of its own: aiortc's sender pulls frames as fast as ``recv`` returns them, so
the track keeps real time itself (20 ms frames against the loop clock, a stalled loop skips
ahead instead of bursting). Speech is queued as whole utterances; a new question may cut the
current one short (``interrupt``), as a person would stop talking to say something else.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

SAMPLE_RATE = 48000
PTIME = 0.020
FRAME_SAMPLES = int(SAMPLE_RATE * PTIME)
MAX_LAG = 0.100


@dataclass
class Spoken:
    """One utterance, with when it went out (loop time of its first/last frame)."""

    key: str
    samples: np.ndarray
    started: float | None = None
    ended: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


# called for every frame of speech: (loop time the frame went out, its samples)
FrameHook = Callable[[float, np.ndarray], None]


class InterviewerTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, on_frame: FrameHook | None = None) -> None:
        super().__init__()
        self.on_frame = on_frame
        self._queue: deque[Spoken] = deque()
        self._offset = 0  # samples of the head utterance already sent
        self._t0: float | None = None
        self._sent = 0  # frames sent
        self.speech_frames = 0

    @property
    def speaking(self) -> bool:
        return bool(self._queue)

    def say(self, key: str, samples: np.ndarray, *, interrupt: bool = False) -> Spoken:
        """Queue an utterance (after what is queued, or instead of it with ``interrupt``)."""
        if interrupt:
            self.interrupt()
        item = Spoken(key, np.ascontiguousarray(samples, dtype=np.int16).reshape(-1))
        if len(item.samples):
            self._queue.append(item)
        else:
            item.done.set()
        return item

    def interrupt(self) -> None:
        """Stop speaking now; what was queued is dropped (its waiters are released)."""
        while self._queue:
            self._queue.popleft().done.set()
        self._offset = 0

    def _take(self, now: float) -> tuple[np.ndarray, bool]:
        out = np.zeros(FRAME_SAMPLES, np.int16)
        filled = 0
        voiced = False
        while filled < FRAME_SAMPLES and self._queue:
            head = self._queue[0]
            if head.started is None:
                head.started = now
            k = min(FRAME_SAMPLES - filled, len(head.samples) - self._offset)
            out[filled : filled + k] = head.samples[self._offset : self._offset + k]
            filled += k
            self._offset += k
            voiced = True
            if self._offset >= len(head.samples):
                self._queue.popleft()
                self._offset = 0
                head.ended = now + filled / SAMPLE_RATE
                head.done.set()
        return out, voiced

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        target = self._t0 + self._sent * PTIME
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -MAX_LAG:
            self._t0 -= delay  # rebase: skip the backlog rather than burst
        if self.readyState != "live":
            raise MediaStreamError
        now = loop.time()
        samples, voiced = self._take(now)
        if voiced:
            self.speech_frames += 1
            if self.on_frame is not None:
                self.on_frame(now, samples)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._sent * FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._sent += 1
        return frame

    def stop(self) -> None:
        super().stop()
        self.interrupt()
