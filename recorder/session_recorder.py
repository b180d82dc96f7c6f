"""A session's audio, mixed from all its tracks onto the session clock, written to WebM/Opus as it arrives.

Why a thread: Opus encoding and disk writes must never run on the event loop that holds the peer
connections. The loop only puts (t, samples) on a queue; the thread places each piece at its
session time in a mix (a late track starts late, holes are silence), encodes what every track has
had time to deliver (``mix_delay`` behind the newest audio), and muxes it. Short Matroska clusters
plus packet flushing keep the file playable up to the last second or so if the process dies.
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

log = logging.getLogger("recorder")

RATE = 48000
# cluster_time_limit: close a cluster every second so a crash loses at most that much;
# flush_packets: hand every packet to the file right away instead of a 32 KB buffer
MUXER_OPTIONS = {"cluster_time_limit": "1000", "flush_packets": "1"}
_CLOSE = object()


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
    ) -> None:
        self.path = Path(path)
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
            self._q.put_nowait((t, samples))
        except queue.Full:  # the encoder cannot keep up: lose audio in the file, never stall the call
            self.dropped += 1

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
            self._open()
            while True:
                item = self._q.get()
                if item is _CLOSE:
                    break
                t, samples = item  # type: ignore[misc]
                self._add(t, samples)
                while True:  # take whatever else is queued before encoding
                    try:
                        item = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if item is _CLOSE:
                        self._finish()
                        return
                    t, samples = item  # type: ignore[misc]
                    self._add(t, samples)
                if self._end - self._delay - self._written >= RATE // 10:
                    self._encode_until(self._end - self._delay)
            self._finish()
        except BaseException as e:  # a broken recording must not take the session down
            self.error = e
            log.exception("recording failed path=%s", self.path)
            self._abort()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), "w", format="webm", options=dict(MUXER_OPTIONS))
        stream = self._container.add_stream("libopus", rate=RATE)
        stream.layout = "mono"
        stream.bit_rate = self.bitrate
        stream.options = {"application": "voip"}
        self._stream = stream

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
        self._encode_until(self._end)
        assert self._container is not None and self._stream is not None
        self._container.mux(self._stream.encode(None))
        self._container.close()
        self._container = None
        log.info("recording finalized path=%s seconds=%.2f dropped=%d", self.path, self.encoded_seconds, self.dropped)

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
