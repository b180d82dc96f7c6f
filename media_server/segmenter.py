"""Utterance segmentation of 16 kHz mono s16 PCM with webrtcvad: pure, no network, no clock.

Why a state machine and not plain per-frame VAD: Whisper wants whole utterances. A single voiced
frame (a click, a cough) must not open one, a short pause inside a sentence must not close it,
the first consonant before the VAD fires must not be cut (pre-roll), and a monologue must be cut
into pieces the stt worker can handle without splitting a word (quietest point, not a fixed cut).
All times are on the session clock in seconds, derived from ``t_start`` of each push and sample
counts, never from the wall clock, so the same audio always gives the same segments.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

from interview_room.config import HANGOVER_MS, Config

SAMPLE_RATE = 16000


@dataclass
class Utterance:
    """A cut of speech: ``pcm`` covers exactly [t0, t1) of the session clock.

    ``speech_end`` is where the last voiced frame ends (t1 adds the tail after it): the moment
    the speaker stopped, which end-of-speech latency is measured from.
    """

    t0: float
    t1: float
    pcm: bytes
    speech_end: float
    final: bool = True

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / SAMPLE_RATE


@dataclass(frozen=True)
class SegmenterSettings:
    frame_ms: int = 20
    aggressiveness: int = 2
    preroll_ms: int = 300
    hangover_ms: int = 450
    min_ms: int = 300
    max_ms: int = 15000
    partial_interval_ms: int = 0
    # speculative transcription: once early_ms of silence follow the last voiced frame, the utterance
    # is what the final will be (plus more trailing silence) unless speech resumes, so a partial of
    # it lets the stt worker transcribe during the rest of the hangover (the final reuses the text)
    early_partial: bool = True
    early_ms: int = 100
    # onset: at least onset_ratio of the frames in the last onset_window_ms are voiced (webrtcvad
    # itself stretches a 10 ms click to up to ~7 voiced 20 ms frames)
    onset_window_ms: int = 300
    onset_ratio: float = 0.5
    # an utterance closes when this share of the last hangover_ms is unvoiced
    offset_ratio: float = 0.9
    # audio kept after the last voiced frame, so a soft final consonant is not clipped
    tail_ms: int = 200
    # an over-long utterance is split at the quietest window_ms inside its last split_search_ms
    split_search_ms: int = 3000
    split_window_ms: int = 100
    # a gap in the input up to this long is filled with silence; a longer one closes the utterance
    max_gap_fill_ms: int = 1000

    @classmethod
    def from_config(cls, cfg: Config, hangover: str | int | None = None) -> SegmenterSettings:
        return cls(
            frame_ms=cfg.vad_frame_ms,
            aggressiveness=cfg.vad_aggressiveness,
            preroll_ms=cfg.segment_preroll_ms,
            hangover_ms=hangover_ms(hangover if hangover is not None else cfg.segment_hangover),
            min_ms=cfg.segment_min_ms,
            max_ms=cfg.segment_max_ms,
            partial_interval_ms=cfg.partial_interval_ms,
            early_partial=cfg.segment_early_partial,
        )


def hangover_ms(value: str | int | None) -> int:
    """A session's hangover setting (``short``/``balanced``/``long`` or milliseconds) in ms."""
    if isinstance(value, int):
        return max(10, value)
    if value and value.isdigit():
        return max(10, int(value))
    return HANGOVER_MS.get(value or "balanced", HANGOVER_MS["balanced"])


class Segmenter:
    """Feed PCM with ``push``; get finished utterances back; ``flush`` at the end of the stream."""

    def __init__(self, settings: SegmenterSettings | None = None) -> None:
        s = settings or SegmenterSettings()
        if s.frame_ms not in (10, 20, 30):
            raise ValueError("webrtcvad frames are 10, 20 or 30 ms")
        self.s = s
        self._vad = webrtcvad.Vad(s.aggressiveness)
        self._fs = SAMPLE_RATE * s.frame_ms // 1000  # samples per frame
        self._fbytes = self._fs * 2
        self._ftime = s.frame_ms / 1000
        self._preroll = s.preroll_ms // s.frame_ms
        self._onset_w = max(3, math.ceil(s.onset_window_ms / s.frame_ms))
        self._onset_need = max(2, math.ceil(s.onset_ratio * self._onset_w))
        self._tail = s.tail_ms // s.frame_ms
        self._early = max(1, min(s.early_ms, s.tail_ms) // s.frame_ms)
        self._min = max(1, math.ceil(s.min_ms / s.frame_ms))
        self._max = max(4, s.max_ms // s.frame_ms)
        self._partial_every = s.partial_interval_ms // s.frame_ms if s.partial_interval_ms > 0 else 0
        self._set_hangover(s.hangover_ms)
        # input clock: frame i of the current run starts at anchor + i * frame time
        self._anchor: float | None = None
        self._idx = 0  # index of the next frame
        self._residual = bytearray()
        # idle: recent frames (index, pcm, voiced) for pre-roll and onset detection
        self._recent: deque[tuple[int, bytes, bool]] = deque(maxlen=self._preroll + self._onset_w)
        self._onset_win: deque[bool] = deque(maxlen=self._onset_w)
        # active utterance
        self._active = False
        self._start = 0  # index of its first frame
        self._onset = 0  # index of its first voiced frame (min length is measured from here)
        self._frames: list[bytes] = []
        self._last_voiced = 0
        self._since_partial = 0

    # ---- public ----

    @property
    def active(self) -> bool:
        """True while an utterance is open (speech started, its end not yet seen)."""
        return self._active

    @property
    def now(self) -> float | None:
        """Session time of the end of the audio pushed so far (None before the first push)."""
        if self._anchor is None:
            return None
        return self._anchor + (self._idx * self._fs + len(self._residual) // 2) / SAMPLE_RATE

    def set_hangover(self, value: str | int) -> None:
        """Change the pause that closes an utterance; takes effect from the next frame."""
        self._set_hangover(hangover_ms(value))

    def push(self, pcm: bytes, t_start: float) -> list[Utterance]:
        """Add audio whose first sample is at session time ``t_start``; return utterances it closed."""
        out: list[Utterance] = []
        if self._anchor is None:
            self._anchor = t_start
        else:
            now = self.now
            assert now is not None
            delta = t_start - now
            if delta > self._ftime / 2:
                if delta * 1000 <= self.s.max_gap_fill_ms:
                    pcm = bytes(round(delta * SAMPLE_RATE) * 2) + pcm
                else:  # a long hole (muted/lost track): what was open ends where the audio stopped
                    out.extend(self._close(final_idx=self._idx))
                    self._reset(t_start)
            elif delta < -self._ftime / 2:  # overlap: keep the clock monotonic, drop what we already have
                drop = round(-delta * SAMPLE_RATE) * 2
                if drop >= len(pcm):
                    return out
                pcm = pcm[drop:]
        self._residual += pcm
        fb = self._fbytes
        n = len(self._residual) // fb
        if n == 0:
            return out
        buf = bytes(self._residual[: n * fb])
        del self._residual[: n * fb]
        for i in range(n):
            frame = buf[i * fb : (i + 1) * fb]
            out.extend(self._frame(frame, self._vad.is_speech(frame, SAMPLE_RATE)))
        return out

    def flush(self) -> list[Utterance]:
        """End of stream: close what is open (if long enough). The segmenter can be reused after."""
        out = self._close(final_idx=self._idx)
        self._recent.clear()
        self._onset_win.clear()
        self._residual.clear()
        return out

    # ---- internals ----

    def _set_hangover(self, ms: int) -> None:
        self._hang = max(2, ms // self.s.frame_ms)
        self._hang_need = math.ceil(self.s.offset_ratio * self._hang)
        old = list(getattr(self, "_off_win", []))[-self._hang :]
        self._off_win: deque[bool] = deque(old, maxlen=self._hang)
        self._off_unvoiced = sum(1 for v in self._off_win if not v)

    def _reset(self, anchor: float) -> None:
        self._anchor = anchor
        self._idx = 0
        self._residual.clear()
        self._recent.clear()
        self._onset_win.clear()

    def _t(self, idx: int) -> float:
        assert self._anchor is not None
        return self._anchor + idx * self._ftime

    def _frame(self, frame: bytes, voiced: bool) -> list[Utterance]:
        idx = self._idx
        self._idx += 1
        if not self._active:
            self._recent.append((idx, frame, voiced))
            self._onset_win.append(voiced)
            if voiced and sum(self._onset_win) >= self._onset_need:
                self._open(idx)
            return []
        self._frames.append(frame)
        if voiced:
            self._last_voiced = idx
        if len(self._off_win) == self._off_win.maxlen and not self._off_win[0]:
            self._off_unvoiced -= 1
        self._off_win.append(voiced)
        if not voiced:
            self._off_unvoiced += 1
        if len(self._off_win) == self._hang and self._off_unvoiced >= self._hang_need:
            return self._close(final_idx=self._idx)
        if len(self._frames) >= self._max:
            return [self._split()]
        if (
            self.s.early_partial
            and not voiced
            and idx - self._last_voiced == self._early
            and self._last_voiced + 1 - self._onset >= self._min
        ):
            t1 = self._t(self._idx)
            return [Utterance(self._t(self._start), t1, b"".join(self._frames), self._t(self._last_voiced + 1), final=False)]
        if self._partial_every:
            # a periodic partial is cut on a voiced frame only: one cut as a pause begins would
            # decode while the early partial and the final of that pause queue behind it
            self._since_partial += 1
            if self._since_partial >= self._partial_every and voiced:
                self._since_partial = 0
                t1 = self._t(self._idx)
                return [Utterance(self._t(self._start), t1, b"".join(self._frames), speech_end=t1, final=False)]
        return []

    def _open(self, idx: int) -> None:
        window = list(self._recent)[-self._onset_w :]
        onset = next(i for i, _, v in window if v)
        start = max(onset - self._preroll, self._recent[0][0])
        self._frames = [f for i, f, _ in self._recent if i >= start]
        self._start = start
        self._onset = onset
        self._last_voiced = idx
        self._active = True
        self._off_win.clear()
        self._off_unvoiced = 0
        self._since_partial = 0
        self._recent.clear()
        self._onset_win.clear()

    def _close(self, final_idx: int) -> list[Utterance]:
        """Close the open utterance at its last voiced frame plus the tail (frames up to final_idx seen)."""
        if not self._active:
            return []
        self._active = False
        end = min(self._last_voiced + 1 + self._tail, final_idx)
        n = max(0, end - self._start)
        frames = self._frames
        self._frames = []
        # frames after the cut stay available as pre-roll of the next utterance, never overlapping this one
        self._recent.clear()
        self._onset_win.clear()
        for k in range(max(n, len(frames) - (self._recent.maxlen or 0)), len(frames)):
            self._recent.append((self._start + k, frames[k], False))
        if self._last_voiced + 1 - self._onset < self._min:
            return []
        speech_end = min(self._t(self._last_voiced + 1), self._t(end))
        return [Utterance(self._t(self._start), self._t(end), b"".join(frames[:n]), speech_end)]

    def _split(self) -> Utterance:
        """Cut at the quietest window in the last seconds; the rest stays open as the next utterance."""
        frames = self._frames
        n = len(frames)
        search = min(self.s.split_search_ms // self.s.frame_ms, n // 2)
        win = max(1, min(self.s.split_window_ms // self.s.frame_ms, search))
        lo = n - search
        x = np.frombuffer(b"".join(frames[lo:]), dtype=np.int16).astype(np.float32)
        energy = (x.reshape(search, self._fs) ** 2).mean(axis=1)
        sums = np.convolve(energy, np.ones(win, dtype=np.float32), mode="valid")
        best = int(np.argmin(sums))  # first frame of the quietest window; ties go to the earliest
        cut = lo + best + win // 2
        cut = max(1, min(cut, n - 1))
        t_cut = self._t(self._start + cut)
        piece = Utterance(self._t(self._start), t_cut, b"".join(frames[:cut]), speech_end=t_cut)
        self._frames = frames[cut:]
        self._start += cut
        self._onset = max(self._onset, self._start)
        self._since_partial = 0
        return piece
