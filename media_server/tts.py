"""The mock interviewer's voice: text -> 48 kHz mono int16 PCM, never on the event loop.

Why espeak-ng: it runs offline from a PyPI wheel (``espeakng-loader`` ships libespeak-ng and its
data), speaks ~100 languages and synthesizes far faster than real time on one core. The library
keeps global state, so every call goes through one dedicated thread. When the wheel is missing,
the Debian ``espeak-ng`` program is used the same way. With an OpenAI key the OpenAI speech API
gives a more natural voice; any failure there falls back to espeak-ng, so the interviewer is
never silent because a remote service is.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import logging
import re
import shutil
import subprocess
import threading
import wave
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import numpy as np

from interview_room.config import Config

log = logging.getLogger("media.tts")

SAMPLE_RATE = 48000
MAX_CHARS = 2000
ESPEAK_RATE_WPM = 160
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class SpeechError(Exception):
    """Synthesis failed (the caller may try another synthesizer)."""


def clean_text(text: str) -> str:
    """Plain speakable text: no control characters, bounded length."""
    return _CONTROL.sub(" ", text or "").strip()[:MAX_CHARS]


def resample(pcm: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Mono int16 at ``rate`` -> mono int16 at ``target`` (libswresample through PyAV)."""
    x = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
    if rate == target or not len(x):
        return x
    frame = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    r = av.AudioResampler(format="s16", layout="mono", rate=target)
    out = [f.to_ndarray().reshape(-1) for f in r.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in r.resample(None)]
    return np.concatenate(out).astype(np.int16) if out else np.zeros(0, np.int16)


def espeak_voice(lang: str, configured: str = "") -> str:
    if configured:
        return configured
    lang = (lang or "en").lower()
    return "en-us" if lang in ("en", "auto", "") else lang


class Synthesizer(ABC):
    name: str = ""

    @abstractmethod
    async def synthesize(self, text: str, lang: str = "en") -> np.ndarray:
        """48 kHz mono int16 samples of ``text`` spoken; raises SpeechError."""

    async def close(self) -> None:
        return None


# ---- espeak-ng ----

_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: samples come back through the callback
_DONT_EXIT = 0x8000  # espeakINITIALIZE_DONT_EXIT: report errors instead of exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1  # espeakRATE
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakLibrary:
    """libespeak-ng through ctypes. Not thread-safe: call it from one thread only."""

    def __init__(self, lib_path: str, data_path: str) -> None:
        lib = ctypes.CDLL(lib_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, data_path.encode(), _DONT_EXIT)
        if rate <= 0:
            raise SpeechError(f"espeak-ng did not start (data at {data_path})")
        self.rate = rate
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        self._voice = ""

        def on_samples(wav: Any, n: int, _events: Any) -> int:
            if wav and n > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0  # go on

        self._callback = _CALLBACK(on_samples)  # kept referenced: espeak calls it later
        lib.espeak_SetSynthCallback(self._callback)
        lib.espeak_SetParameter(_RATE, ESPEAK_RATE_WPM, 0)

    def _set_voice(self, voice: str) -> None:
        if voice == self._voice:
            return
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            log.warning("espeak-ng has no voice %r; using English", voice)
            if self._lib.espeak_SetVoiceByName(b"en-us") != 0:
                raise SpeechError("espeak-ng has no English voice")
        self._voice = voice

    def synth(self, text: str, voice: str) -> np.ndarray:
        self._set_voice(voice)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data, len(data))
        err = self._lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise SpeechError(f"espeak-ng could not speak (error {err})")
        self._lib.espeak_Synchronize()
        chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)


def _load_library() -> EspeakLibrary | None:
    try:
        import espeakng_loader  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        return EspeakLibrary(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())
    except (OSError, RuntimeError, SpeechError, AttributeError) as e:
        log.warning("the espeak-ng library from espeakng-loader did not load error=%r", e)
        return None


def _run_program(program: str, text: str, voice: str) -> tuple[np.ndarray, int]:
    res = subprocess.run(
        [program, "-v", voice, "-s", str(ESPEAK_RATE_WPM), "--stdout", "--", text],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if res.returncode != 0 or not res.stdout:
        raise SpeechError(f"espeak-ng exited with {res.returncode}: {res.stderr[:200]!r}")
    with wave.open(io.BytesIO(res.stdout)) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SpeechError("espeak-ng wrote an unexpected WAV format")
        frames = w.readframes(w.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.int16), w.getframerate()


class EspeakSynthesizer(Synthesizer):
    """espeak-ng from the PyPI wheel (ctypes), else the ``espeak-ng`` program; one thread for all sessions."""

    name = "espeak-ng"

    def __init__(self, voice: str = "") -> None:
        self.voice = voice
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts")
        self._lib: EspeakLibrary | None = None
        self._program: str | None = None
        self._ready = threading.Event()
        self.backend = ""

    def _init(self) -> None:
        """In the TTS thread: the library keeps thread-affine state."""
        if self._ready.is_set():
            return
        self._lib = _load_library()
        if self._lib is not None:
            self.backend = "libespeak-ng (espeakng-loader)"
        else:
            self._program = shutil.which("espeak-ng") or shutil.which("espeak")
            self.backend = self._program or ""
        self._ready.set()
        log.info("text to speech ready backend=%s", self.backend or "none")

    def _synth(self, text: str, lang: str) -> np.ndarray:
        self._init()
        voice = espeak_voice(lang, self.voice)
        if self._lib is not None:
            pcm, rate = self._lib.synth(text, voice), self._lib.rate
        elif self._program is not None:
            pcm, rate = _run_program(self._program, text, voice)
        else:
            raise SpeechError("no text-to-speech engine: install espeakng-loader (PyPI) or espeak-ng (Debian)")
        return resample(pcm, rate)

    async def synthesize(self, text: str, lang: str = "en") -> np.ndarray:
        text = clean_text(text)
        if not text:
            return np.zeros(0, np.int16)
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._synth, text, lang)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# ---- OpenAI speech ----


class OpenAISpeech(Synthesizer):
    """``client.audio.speech`` with raw 24 kHz PCM back (no decoder needed)."""

    name = "openai"
    PCM_RATE = 24000

    def __init__(self, *, api_key: str, base_url: str = "", model: str = "tts-1", voice: str = "", timeout: float = 20.0) -> None:
        import openai

        self._openai = openai
        self.client = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url or None, timeout=timeout, max_retries=1)
        self.model = model
        self.voice = voice or "alloy"

    async def synthesize(self, text: str, lang: str = "en") -> np.ndarray:
        text = clean_text(text)
        if not text:
            return np.zeros(0, np.int16)
        try:
            resp = await self.client.audio.speech.create(model=self.model, voice=self.voice, input=text, response_format="pcm")  # type: ignore[arg-type]
            raw = resp.content
        except self._openai.APIError as e:
            raise SpeechError(f"OpenAI speech failed: {type(e).__name__}") from e
        if len(raw) < 2:
            raise SpeechError("OpenAI speech returned no audio")
        pcm = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)
        return await asyncio.to_thread(resample, pcm, self.PCM_RATE)

    async def close(self) -> None:
        await self.client.close()


class FallbackSynthesizer(Synthesizer):
    """The first synthesizer, and the second when the first fails."""

    def __init__(self, first: Synthesizer, second: Synthesizer) -> None:
        self.first = first
        self.second = second
        self.name = f"{first.name}+{second.name}"

    async def synthesize(self, text: str, lang: str = "en") -> np.ndarray:
        try:
            return await self.first.synthesize(text, lang)
        except SpeechError as e:
            log.warning("%s failed, using %s error=%s", self.first.name, self.second.name, e)
            return await self.second.synthesize(text, lang)

    async def close(self) -> None:
        await self.first.close()
        await self.second.close()


def make_synthesizer(cfg: Config) -> Synthesizer | None:
    """``TTS_PROVIDER``: auto (OpenAI speech with an OPENAI_API_KEY, else espeak-ng), openai, espeak, off.

    Only a real key selects OpenAI under ``auto``: a compatible local server (OPENAI_BASE_URL alone,
    e.g. Ollama) usually has no speech endpoint.
    """
    choice = cfg.tts_provider.lower()
    if choice in ("off", "none"):
        return None
    espeak = EspeakSynthesizer(cfg.tts_voice if choice == "espeak" or not cfg.openai_api_key else "")
    if choice == "openai" or (choice == "auto" and cfg.openai_api_key):
        remote = OpenAISpeech(
            api_key=cfg.openai_api_key, base_url=cfg.openai_base_url, model=cfg.tts_model, voice=cfg.tts_voice
        )
        return FallbackSynthesizer(remote, espeak)
    return espeak


_shared: dict[str, Synthesizer | None] = {}


def shared(cfg: Config) -> Synthesizer | None:
    """The node's one synthesizer (one TTS thread for every session), made on first use."""
    if "s" not in _shared:
        _shared["s"] = make_synthesizer(cfg)
    return _shared["s"]

