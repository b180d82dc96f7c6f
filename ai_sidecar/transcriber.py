"""One utterance in, one caption text (or a reason to drop it) out. CPU only, no network.

The media node cuts utterances with webrtcvad, which also fires on keyboard clicks and mains hum.
Whisper, fed such noise, invents text ("Thank you.", "4x4x4x…") and can spend seconds doing it, so
every segment first passes Silero VAD (shipped inside faster-whisper) and every result passes the
hallucination guards below. Call ``transcribe`` from a worker thread, never from an event loop.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from interview_room.config import Config

from .context_window import HOP as HOP_SAMPLES
from .context_window import DecodeItem, join_context, window_samples
from .models import BASE, Models, ModelUnavailable

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger("stt.transcriber")

SAMPLE_RATE = 16000
MIN_SPEECH_MS = 250.0  # Silero must find at least this much speech in a segment
NO_SPEECH_PROB = 0.6  # Whisper's own silence rule: no_speech_prob above this ...
LOGPROB_FLOOR = -1.0  # ... together with avg_logprob below this
GARBAGE_LOGPROB = -2.0  # so unsure that it is never a usable caption
FULL_SAMPLES = 30 * SAMPLE_RATE  # Whisper's longest window
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
        self.beam_size = beam_size or cfg.stt_beam_size
        self.min_speech_ms = min_speech_ms
        self.window_min_s = cfg.stt_window_min_s
        self.window_step_s = cfg.stt_window_step_s
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

    def translate_to_english(self, pcm16k: bytes, lang: str) -> str:
        """Whisper's ``translate`` task on the multilingual model (``whisper_translate``): English text, or
        "" when Silero hears no speech or the result trips the repetition guard. Blocking, like ``transcribe``."""
        audio = pcm_to_float(pcm16k)
        if speech_ms(audio) < self.min_speech_ms:
            return ""
        with self._lock:
            name = self.cfg.stt_model or BASE
            model = self.models.get(name)
            if not model.model.is_multilingual:
                raise ModelUnavailable(f"STT model {name!r} is English-only: it cannot translate")
            segments, _info = model.transcribe(
                audio,
                language=None if lang in ("", "auto") else lang,
                task="translate",
                beam_size=self.beam_size,
                temperature=0.0,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            segs = list(segments)
        if any(s.compression_ratio > MAX_COMPRESSION for s in segs):
            return ""
        text = clean_text(" ".join(s.text.strip() for s in segs))
        return text if has_words(text) else ""

    def transcribe_batch(self, items: list[DecodeItem]) -> list[Transcript]:
        """Several utterances (of any sessions) in one batched Whisper call per model; results in order.

        Each window holds the item's context speech, a short gap and the utterance, cut to
        ``window_samples`` (not padded to 30 s); the decoder is forced through the context text
        (a prefix) and so emits only the utterance's words. Silero and the guards apply per item.
        """
        results: list[Transcript | None] = [None] * len(items)
        groups: dict[tuple[str, int], list[tuple[int, np.ndarray, float, float, int]]] = {}
        name = self.cfg.stt_model or ""
        for i, it in enumerate(items):
            audio = pcm_to_float(it.pcm)
            duration = audio.size / SAMPLE_RATE
            level = rms_dbfs(audio)
            heard = speech_ms(audio)
            if heard < self.min_speech_ms:
                results[i] = Transcript("", it.lang, 1.0, 0.0, 0.0, duration, heard, level, 0.0, name, "vad_silero")
                continue
            # one call per language and window size: padding a short window to a long one costs encoder time
            joined = len(
                join_context(it.context_pcm if it.context_text else b"", it.pcm, FULL_SAMPLES - HOP_SAMPLES)[0]
            )
            key = (it.lang, window_samples(joined // 2, self.window_min_s, self.window_step_s))
            groups.setdefault(key, []).append((i, audio, duration, level, int(heard)))
        for (lang, _window), group in groups.items():
            with self._lock:
                name, model = self.models.for_language(lang)
                t = time.perf_counter()
                decoded = self._decode_group(model, lang, [items[g[0]] for g in group])
                elapsed = time.perf_counter() - t
            share = elapsed / len(group)
            for (i, _audio, duration, level, heard), (text, out_lang, nsp, logprob, ratio) in zip(
                group, decoded, strict=True
            ):
                r = Transcript(text, out_lang, nsp, logprob, ratio, duration, float(heard), level, share, name)
                r.rejected = guard(r)
                results[i] = r
        return [r for r in results if r is not None]

    def _decode_group(
        self, model: WhisperModel, lang: str, items: list[DecodeItem]
    ) -> list[tuple[str, str, float, float, float]]:
        """(text, lang, no_speech_prob, avg_logprob, compression_ratio) per item, one ``generate`` call."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        language: str | None = None if lang in ("", "auto") else lang
        if not model.model.is_multilingual:
            language = "en"
        fe = model.feature_extractor
        cap = FULL_SAMPLES
        audios: list[np.ndarray] = []
        ctx_used: list[bool] = []
        for it in items:
            pcm, n_ctx = join_context(it.context_pcm if it.context_text else b"", it.pcm, cap - HOP_SAMPLES)
            audios.append(pcm_to_float(pcm)[:cap])
            ctx_used.append(n_ctx > 0)
        n = window_samples(max(a.size for a in audios), self.window_min_s, self.window_step_s)
        frames = n // fe.hop_length
        feats = np.stack([fe(a, padding=max(0, n - a.size) + 160)[:, :frames] for a in audios])
        sv = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats.astype(np.float32)))
        encoded = model.model.encode(sv, to_cpu=False)
        if language is None:
            langs = [x[0][0][2:-2] for x in model.model.detect_language(encoded)]
        else:
            langs = [language] * len(items)
        prompts: list[list[int]] = []
        tokenizers: list[Tokenizer] = []
        prefixes: list[int] = []  # forced context tokens: CTranslate2 returns them with the new ones
        for it, lg, use_ctx in zip(items, langs, ctx_used, strict=True):
            tk = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=lg)
            prompt: list[int] = []
            if it.hints.strip():
                prompt += [tk.sot_prev] + tk.encode(" " + it.hints.strip())[:100]
            prompt += list(tk.sot_sequence) + [tk.no_timestamps]
            prefix = tk.encode(" " + it.context_text.strip())[-120:] if use_ctx else []
            # the utterance's own shown words (a partial) continue the decode and stay in its text
            own = tk.encode(" " + it.prefix.strip())[:120] if it.prefix.strip() else []
            prompts.append(prompt + prefix + own)
            prefixes.append(len(prefix))
            tokenizers.append(tk)
        out = model.model.generate(
            encoded,
            prompts,
            beam_size=self.beam_size,
            max_length=448,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizers[0], (-1,))),
        )
        decoded = []
        for res, tk, lg, skip in zip(out, tokenizers, langs, prefixes, strict=True):
            seq = res.sequences_ids[0]
            tokens = [t for t in seq[skip:] if t < tk.eot]
            seq_len = len(seq)
            avg_logprob = res.scores[0] * seq_len / (seq_len + 1) if seq_len else 0.0
            raw = tk.decode(tokens).strip()
            decoded.append(
                (clean_text(raw), lg, res.no_speech_prob, avg_logprob, get_compression_ratio(raw) if raw else 0.0)
            )
        return decoded
