"""An aiortc audio track of a source's 20 ms frames (the source paces them in real time)."""

from __future__ import annotations

import fractions

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from .sources import FRAME_SAMPLES, RATE, AudioSource, SourceError


class SourceTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, source: AudioSource) -> None:
        super().__init__()
        self.source = source
        self._frames = source.frames()
        self._pts = 0
        self.error: SourceError | None = None  # why the source stopped, for the command to print

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            pcm = await self._frames.__anext__()
        except SourceError as e:
            self.error = e
            self.stop()
            raise MediaStreamError from e
        except StopAsyncIteration:
            self.stop()
            raise MediaStreamError from None
        frame = av.AudioFrame.from_ndarray(np.frombuffer(pcm, np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME_SAMPLES
        return frame
