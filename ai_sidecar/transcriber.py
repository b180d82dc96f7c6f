"""One utterance in, one caption text (or a reason to drop it) out. CPU only, no network.

The media node cuts utterances with webrtcvad, which also fires on keyboard clicks and mains hum.
Whisper, fed such noise, invents text ("Thank you.", "4x4x4x…") and can spend seconds doing it, so
every segment first passes Silero VAD (shipped inside faster-whisper) and every result passes the
hallucination guards below. Call ``transcribe`` from a worker thread, never from an event loop.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import unicodedata
from dataclasses import dataclass

import numpy as np

from interview_room.config import Config

from .models import Models

log = logging.getLogger("stt.transcriber")

SAMPLE_RATE = 16000
MIN_SPEECH_MS = 250.0  # Silero must find at least this much speech in a segment
NO_SPEECH_PROB = 0.6  # Whisper's own silence rule: no_speech_prob above this ...
LOGPROB_FLOOR = -1.0  # ... together with avg_logprob below this
GARBAGE_LOGPROB = -2.0  # so unsure that it is never a usable caption
MAX_COMPRESSION = 2.4  # "4x4x4x…" style loops compress far better than speech

# What Whisper says over silence and noise (it learnt them from subtitle credits). Rejected when
# the audio is short, quiet or judged silent; a credit line is rejected always.
SILENCE_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thank you very much",
        "thank you so much",
        "thank you bye",
        "bye",
        "bye bye",
        "so",
        "the end",
        "oh",
        "um",
        "hmm",
        "silence",
        "music",
    }
)
CREDIT_MARKERS = (
    "thanks for watching",
    "thank you for watching",
    "please subscribe",
    "like and subscribe",
    "subtitles by",
    "subtitled by",
    "captions by",
    "transcribed by",
    "transcription by",
    "amara org",
    "untertitel",
    "sous titres",
    "продолжение следует",
    "субтитры",
)
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪+|♫+")


@dataclass
class Transcript:
    """Whisper's result for one segment; ``rejected`` names the guard that dropped it (None = keep)."""

    text: str
    lang: str
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    duration: float  # seconds of audio
    speech_ms: float  # speech Silero found
    rms_dbfs: float
    stt_seconds: float  # Whisper time (0 when Silero rejected the segment)
    model: str
    rejected: str | None = None

    @property
    def ok(self) -> bool:
        return self.rejected is None


def pcm_to_float(pcm16k: bytes) -> np.ndarray:
    n = len(pcm16k) // 2
    return np.frombuffer(pcm16k[: n * 2], dtype="<i2").astype(np.float32) / 32768.0


def rms_dbfs(audio: np.ndarray) -> float:
    if audio.size == 0:
        return -120.0
    return float(20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))) + 1e-6))


def speech_ms(audio: np.ndarray) -> float:
    """Milliseconds of speech Silero VAD hears (a few ms of CPU for a 10 s segment)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if audio.size < 512:
        return 0.0
    spans = get_speech_timestamps(
        audio, VadOptions(threshold=0.5, min_speech_duration_ms=0, min_silence_duration_ms=100, speech_pad_ms=0)
    )
    return sum(s["end"] - s["start"] for s in spans) * 1000.0 / SAMPLE_RATE


def clean_text(text: str) -> str:
    """Drop Whisper's sound annotations ("[Music]", "(typing)", "♪") and squeeze spaces."""
    return re.sub(r"\s+", " ", _ANNOTATION.sub(" ", text)).strip()


def normalise(text: str) -> str:
    """Lower case, words only (apostrophes kept): for comparing phrases, not for display."""
    t = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.sub(r"[^\w']+", " ", t).split())


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def guard(t: Transcript) -> str | None:
    """The reason a result is not a caption, or None to keep it."""
    if not has_words(t.text):
        return "empty"
    if t.no_speech_prob > NO_SPEECH_PROB and t.avg_logprob < LOGPROB_FLOOR:
        return "no_speech"
    if t.avg_logprob < GARBAGE_LOGPROB:
        return "low_logprob"
    if t.compression_ratio > MAX_COMPRESSION:
        return "repetition"
    norm = normalise(t.text)
    if any(m in norm for m in CREDIT_MARKERS):
        return "hallucination"
    if norm in SILENCE_PHRASES:
        short = t.speech_ms < 1000.0
        if t.no_speech_prob > 0.3 or t.rms_dbfs < -45.0 or (short and t.no_speech_prob > 0.15) or t.speech_ms < 400.0:
            return "hallucination"
    return None


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, str(default)))
    except ValueError:
        return default


class Transcriber:
    """faster-whisper on CPU (int8) with the Silero pre-check and the hallucination guards.

    Not re-entrant per model: the stt worker runs one transcription at a time (it owns the cores).
    """

    def __init__(
        self,
        cfg: Config,
        *,
        models: Models | None = None,
        beam_size: int | None = None,
        min_speech_ms: float = MIN_SPEECH_MS,
    ) -> None:
        self.cfg = cfg
        self.models = models or Models(cfg)
        self.beam_size = beam_size or _env_int("STT_BEAM_SIZE", 1)
        self.min_speech_ms = min_speech_ms
        self._lock = threading.Lock()

    def preload(self, langs: list[str]) -> list[str]:
        """Load the models these session languages need (and Silero), so the first caption is not slow."""
        from faster_whisper.vad import get_vad_model

        get_vad_model()
        names = []
        for lang in langs:
            name, _ = self.models.for_language(lang)
            names.append(name)
        return names

    def transcribe(
        self, pcm16k: bytes, lang: str = "en", prompt: str | None = None, prefix: str | None = None
    ) -> Transcript:
        """``pcm16k``: 16 kHz mono s16le. ``lang``: the session's listen language or ``auto``.
        ``prompt``: text that biases spelling (session hints, ``ai_sidecar/hints.py``); ``prefix``: the
        words the transcript must start with (those partial captions already showed); None = none."""
        audio = pcm_to_float(pcm16k)
        duration = audio.size / SAMPLE_RATE
        level = rms_dbfs(audio)
        heard = speech_ms(audio)
        name = self.cfg.stt_model or ""
        if heard < self.min_speech_ms:
            return Transcript("", lang, 1.0, 0.0, 0.0, duration, heard, level, 0.0, name, rejected="vad_silero")
        with self._lock:
            name, model = self.models.for_language(lang)
            language: str | None = None if lang in ("", "auto") else lang
            if not model.model.is_multilingual:
                language = "en"
            t = time.perf_counter()
            segments, info = model.transcribe(
                audio,
                language=language,
                beam_size=self.beam_size,
                temperature=0.0,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
                no_speech_threshold=None,  # we apply the no-speech rule ourselves, to count it
                log_prob_threshold=None,
                compression_ratio_threshold=None,
                initial_prompt=prompt or None,
                prefix=prefix or None,
            )
            segs = list(segments)  # decoding happens while iterating
            elapsed = time.perf_counter() - t
        text = clean_text(" ".join(s.text.strip() for s in segs))
        tokens = sum(max(1, len(s.tokens)) for s in segs)
        avg_logprob = sum(s.avg_logprob * max(1, len(s.tokens)) for s in segs) / tokens if segs else 0.0
        result = Transcript(
            text=text,
            lang=info.language or language or "en",
            no_speech_prob=max((s.no_speech_prob for s in segs), default=1.0),
            avg_logprob=avg_logprob,
            compression_ratio=max((s.compression_ratio for s in segs), default=0.0),
            duration=duration,
            speech_ms=heard,
            rms_dbfs=level,
            stt_seconds=elapsed,
            model=name,
        )
        result.rejected = guard(result)
        return result
