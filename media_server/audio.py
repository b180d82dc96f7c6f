"""Decoded WebRTC audio frames -> 16 kHz mono (for VAD/Whisper) and 48 kHz mono (for the recording).

Why one converter per track: libswresample keeps filter state between calls, so a resampler shared
by two tracks would smear one speaker into the other. Timing comes from the frames' pts (the RTP
clock), not from arrival time, so jitter-buffer bursts do not move audio on the session clock and a
hole left by lost packets stays a hole (the segmenter and the recorder fill it with silence).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

VAD_RATE = 16000
RECORD_RATE = 48000


async def frames(track: MediaStreamTrack) -> AsyncIterator[av.AudioFrame | av.VideoFrame]:
    """Every frame a received track gives, until it ends."""
    while True:
        try:
            yield await track.recv()  # type: ignore[misc]
        except MediaStreamError:
            return


@dataclass
class Chunk:
    """One input frame, converted. ``t`` is seconds since the track's first frame."""

    t: float
    pcm16k: bytes  # mono s16le at 16 kHz
    pcm48k: np.ndarray  # mono int16 at 48 kHz
    seconds: float  # duration of the input frame


class AudioConverter:
    def __init__(self) -> None:
        self._to16k = av.AudioResampler(format="s16", layout="mono", rate=VAD_RATE)
        self._to48k: av.AudioResampler | None = None
        self._first: float | None = None  # pts (seconds) of the first frame
        self._next: float | None = None  # expected start of the next frame (seconds since first)
        self.received_seconds = 0.0  # audio actually received (not counting holes)

    def _frame_time(self, frame: av.AudioFrame) -> float:
        if frame.pts is not None and frame.time_base is not None:
            pts = float(frame.pts * Fraction(frame.time_base))
            if self._first is None:
                self._first = pts
            return pts - self._first
        # no timestamps: frames are taken as back to back
        return self._next if self._next is not None else 0.0

    def convert(self, frame: av.AudioFrame) -> Chunk:
        t = self._frame_time(frame)
        seconds = frame.samples / frame.sample_rate
        self._next = t + seconds
        self.received_seconds += seconds
        frame.pts = None  # the resampler must not try to "fix" our holes by itself
        pcm16k = b"".join(bytes(f.planes[0])[: f.samples * 2] for f in self._to16k.resample(frame))
        return Chunk(t=t, pcm16k=pcm16k, pcm48k=self._mono48k(frame), seconds=seconds)

    def _mono48k(self, frame: av.AudioFrame) -> np.ndarray:
        fmt, channels = frame.format.name, len(frame.layout.channels)
        if frame.sample_rate == RECORD_RATE and fmt == "s16" and channels <= 2:
            # the common case (aiortc's Opus decoder): packed s16, downmix in numpy, no filter needed
            x = frame.to_ndarray().reshape(-1)
            if channels == 2:
                x = ((x[0::2].astype(np.int32) + x[1::2]) >> 1).astype(np.int16)
            return x
        if self._to48k is None:
            self._to48k = av.AudioResampler(format="s16", layout="mono", rate=RECORD_RATE)
        out = [f.to_ndarray().reshape(-1) for f in self._to48k.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
