"""The mock interviewer's voice: offline espeak-ng (wheel and program), the OpenAI speech API with
fallback, and the paced server->client track that plays it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from aiohttp import web

from interview_room.config import Config
from media_server import tts, tts_track
from media_server.tts import EspeakSynthesizer, FallbackSynthesizer, OpenAISpeech, SpeechError, make_synthesizer
from media_server.tts_track import FRAME_SAMPLES, PTIME, InterviewerTrack

QUESTION = "Tell me about a time you had a conflict with a coworker and how you resolved it."


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def speech_seconds(pcm: np.ndarray, rate: int = 48000) -> float:
    """Seconds of 20 ms frames that are clearly not silence."""
    n = len(pcm) // 960
    return sum(1 for i in range(n) if rms(pcm[i * 960 : (i + 1) * 960]) > 300) * 0.02


async def test_espeak_wheel_speaks_at_48k() -> None:
    synth = EspeakSynthesizer()
    try:
        pcm = await synth.synthesize(QUESTION, "en")
        assert "espeakng-loader" in synth.backend
        assert pcm.dtype == np.int16
        # ~16 words at 160 wpm: several seconds of sound, not silence, not a click
        assert 3.0 < len(pcm) / 48000 < 12.0
        assert speech_seconds(pcm) > 2.0
        spanish = await synth.synthesize("¿Por qué quieres trabajar en nuestra empresa?", "es")
        assert speech_seconds(spanish) > 1.0
        assert len(await synth.synthesize("  \x00\x07 ", "en")) == 0  # nothing speakable: no sound
    finally:
        await synth.close()


async def test_espeak_program_when_the_wheel_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts, "_load_library", lambda: None)
    synth = EspeakSynthesizer()
    try:
        pcm = await synth.synthesize("How would you design a URL shortener?", "en")
        assert synth.backend.endswith("espeak-ng")
        assert speech_seconds(pcm) > 1.0
    finally:
        await synth.close()


@pytest_asyncio.fixture
async def speech_server() -> AsyncIterator[dict[str, Any]]:
    """A local stand-in for POST /v1/audio/speech: 1 s of a 24 kHz tone as raw PCM, or a 500."""
    state: dict[str, Any] = {"status": 200, "requests": []}

    async def speech(request: web.Request) -> web.Response:
        state["requests"].append(await request.json())
        if state["status"] != 200:
            return web.json_response({"error": {"message": "down", "type": "server_error"}}, status=state["status"])
        t = np.arange(24000) / 24000
        tone = (8000 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
        return web.Response(body=tone.tobytes(), content_type="application/octet-stream")

    app = web.Application()
    app.router.add_post("/v1/audio/speech", speech)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state["base_url"] = f"http://127.0.0.1:{port}/v1"
    yield state
    await runner.cleanup()


async def test_openai_speech_and_its_fallback(speech_server: dict[str, Any]) -> None:
    remote = OpenAISpeech(api_key="k", base_url=speech_server["base_url"], model="tts-1", voice="nova")
    espeak = EspeakSynthesizer()
    synth = FallbackSynthesizer(remote, espeak)
    try:
        pcm = await synth.synthesize("Hello there", "en")
        req = speech_server["requests"][-1]
        assert req["response_format"] == "pcm" and req["voice"] == "nova" and req["input"] == "Hello there"
        assert len(pcm) == pytest.approx(48000, abs=200)  # 1 s at 24 kHz -> 1 s at 48 kHz
        assert rms(pcm) > 3000
        speech_server["status"] = 500
        with pytest.raises(SpeechError):
            await remote.synthesize("Hello there", "en")
        fallback = await synth.synthesize("Hello there", "en")  # the interviewer is never silent
        assert speech_seconds(fallback) > 0.4 and len(fallback) != len(pcm)
    finally:
        await synth.close()


def test_synthesizer_choice() -> None:
    base = Config()
    assert make_synthesizer(replace(base, tts_provider="off")) is None
    assert isinstance(make_synthesizer(replace(base, tts_provider="auto", openai_api_key="")), EspeakSynthesizer)
    # a base URL alone (a local model server) has no speech endpoint: espeak-ng
    assert isinstance(make_synthesizer(replace(base, openai_api_key="", openai_base_url="http://127.0.0.1:1/v1")), EspeakSynthesizer)
    chosen = make_synthesizer(replace(base, tts_provider="auto", openai_api_key="sk-test"))
    assert isinstance(chosen, FallbackSynthesizer) and isinstance(chosen.first, OpenAISpeech)


class VirtualClock:
    """The event loop's clock as the track sees it: time moves only when the track sleeps (no wall clock)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


async def test_interviewer_track_plays_speech_then_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = VirtualClock()
    monkeypatch.setattr(tts_track, "asyncio", SimpleNamespace(get_running_loop=lambda: clock, sleep=clock.sleep))
    heard: list[np.ndarray] = []
    stamps: list[float] = []
    track = InterviewerTrack(on_frame=lambda t, s: (heard.append(s), stamps.append(t)))

    async def frames(n: int) -> list[np.ndarray]:
        return [(await track.recv()).to_ndarray().reshape(-1) for _ in range(n)]

    assert all(rms(f) == 0 for f in await frames(3))  # nothing to say: silence, not nothing
    speech = np.full(FRAME_SAMPLES * 5 + 100, 5000, np.int16)
    spoken = track.say("q1", speech)
    assert track.speaking
    start = clock.now
    out = await frames(10)
    voiced = [f for f in out if rms(f) > 0]
    assert len(voiced) == 6 and spoken.done.is_set() and not track.speaking
    assert sum(int(np.count_nonzero(f)) for f in out) == len(speech)  # every sample sent once, in order
    assert len(heard) == 6  # the recording hook saw the speech frames only
    # paced like a live microphone, not burst: each frame waits for its 20 ms slot on the track's clock
    assert clock.now - start == pytest.approx(10 * PTIME)
    assert [round(b - a, 6) for a, b in zip(stamps, stamps[1:], strict=False)] == [PTIME] * 5
    # the first frame goes at once, every later one sleeps until its slot
    assert len(clock.sleeps) == 3 + 10 - 1 and all(d == pytest.approx(PTIME) for d in clock.sleeps)

    # a newer utterance cuts the current one short
    first = track.say("q2", np.full(FRAME_SAMPLES * 50, 4000, np.int16))
    await frames(2)
    second = track.say("q3", np.full(FRAME_SAMPLES * 2, 3000, np.int16), interrupt=True)
    assert first.done.is_set()
    out = await frames(3)
    assert [int(f.max()) for f in out] == [3000, 3000, 0] and second.done.is_set()
    track.stop()
