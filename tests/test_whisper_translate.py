"""Offline translation into English by Whisper's ``translate`` task (ai_sidecar/whisper_translate.py).

The stt worker runs on real Redis and Postgres with the shipped multilingual model; the llm worker
(offline provider) says which directions need an AI model.
"""

from __future__ import annotations

import json
import re
import wave
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from ai_sidecar.llm.offline import OfflineProvider
from ai_sidecar.llm.session import settings_key
from ai_sidecar.whisper_translate import ai_model_configured, wants_whisper_translation
from interview_room import bus
from interview_room.config import Config
from interview_room.messages import Event, LlmJob, Segment, parse_event
from interview_room.store import insights
from tests.test_llm_worker import done_count, has, new_session, running

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPANISH = "q_es_process_thread.wav"


@pytest_asyncio.fixture
async def r(infra: Any) -> AsyncIterator[aioredis.Redis]:
    client = bus.connect(infra.redis_url)
    yield client
    await client.aclose()


# ---- who gets a Whisper translation (no Whisper) ----


def test_only_other_languages_into_english_without_a_model_are_translated_by_whisper() -> None:
    on = {"listen_language": "es", "answer_language": "en", "translate": True}
    assert wants_whisper_translation(on, "es", False)
    assert wants_whisper_translation({**on, "listen_language": "auto"}, "de", False)  # detected language
    assert wants_whisper_translation(on, "", False)  # no detected language: the listen language
    assert not wants_whisper_translation(on, "en", False)  # English already
    assert not wants_whisper_translation({**on, "translate": False}, "es", False)  # not asked for
    assert not wants_whisper_translation(None, "es", False)  # never set: translation is off
    assert not wants_whisper_translation({**on, "answer_language": "de"}, "es", False)  # X -> Y needs a model
    assert not wants_whisper_translation(on, "es", True)  # a model is configured: the llm worker translates


def test_a_model_is_configured_by_the_llm_workers_rule() -> None:
    assert not ai_model_configured(Config(llm_provider="auto", openai_api_key="", openai_base_url=""))
    assert ai_model_configured(Config(llm_provider="auto", openai_api_key="sk-test", openai_base_url=""))
    assert not ai_model_configured(Config(llm_provider="offline", openai_api_key="sk-test"))
    assert ai_model_configured(Config(llm_provider="openai"))


# ---- the stt worker with the shipped multilingual model ----


@pytest.fixture(scope="module")
def transcriber() -> Any:
    from ai_sidecar.transcriber import Transcriber

    return Transcriber(Config())


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as ex:
        yield ex


def spanish_pcm() -> bytes:
    with wave.open(str(FIXTURES / SPANISH)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.readframes(w.getnframes())


def english_meaning() -> str:
    return str(json.loads((FIXTURES / "references.json").read_text(encoding="utf-8"))[SPANISH]["english"])


async def events(r: aioredis.Redis, sid: str) -> list[Event]:
    return [parse_event(f[b"data"]) for _, f in await r.xrange(bus.events_stream(sid))]


async def run_segment(
    r: aioredis.Redis, pool: asyncpg.Pool, transcriber: Any, executor: ThreadPoolExecutor, cfg: Config,
    settings: dict[str, Any] | None,
) -> tuple[str, Any, list[Event]]:  # fmt: skip
    from ai_sidecar.stt_worker import SttWorker

    sid = await new_session(pool, listen_language="es")
    if settings is not None:  # as the llm worker saves a settings message
        await r.set(settings_key(sid), json.dumps(settings), ex=600)
    worker = SttWorker(cfg, pool, r, transcriber, executor)
    pcm = spanish_pcm()
    seg = Segment(sid, "interviewer", 0, 0.0, len(pcm) / 32000, pcm, lang="es")
    try:
        await worker.final(seg)
    finally:
        await worker.batcher.close()
    return sid, worker, await events(r, sid)


def words(text: str) -> set[str]:
    return set(re.sub(r"[^\w']+", " ", text.lower()).split())


@pytest.mark.whisper
async def test_spanish_speech_gets_an_english_translation_offline(
    r: aioredis.Redis, pool: asyncpg.Pool, transcriber: Any, executor: ThreadPoolExecutor
) -> None:
    on = {"listen_language": "es", "answer_language": "en", "translate": True}
    sid, worker, evs = await run_segment(r, pool, transcriber, executor, Config(llm_provider="offline"), on)
    caption = next(e for e in evs if e.type == "caption")
    assert caption.lang == "es"  # type: ignore[attr-defined]
    assert {"proceso"} <= words(caption.text)  # type: ignore[attr-defined]  # the caption stays Spanish
    trs = [e for e in evs if e.type == "translation"]
    assert len(trs) == 1 and worker.translator.decodes == 1
    tr = trs[0]
    assert tr.ref == caption.id and tr.lang == "en"  # type: ignore[attr-defined]
    got = words(tr.text)  # type: ignore[attr-defined]
    assert {"process", "thread"} <= got & words(english_meaning()), tr.text  # type: ignore[attr-defined]
    assert not got & {"proceso", "hilo", "diferencia"}  # English, not the Spanish again
    assert evs.index(caption) < evs.index(tr)  # the caption is not held back by its translation
    stored = await insights.list_translations(pool, sid)  # the session page shows it later
    assert stored == [{"ref": caption.id, "lang": "en", "text": tr.text}]  # type: ignore[attr-defined]


@pytest.mark.whisper
async def test_no_translate_decode_unless_the_session_asked_and_no_model_is_configured(
    r: aioredis.Redis, pool: asyncpg.Pool, transcriber: Any, executor: ThreadPoolExecutor
) -> None:
    off = {"listen_language": "es", "answer_language": "en", "translate": False}
    on = {**off, "translate": True}
    cases = [
        (Config(llm_provider="offline"), off),  # switched off
        (Config(llm_provider="offline"), None),  # never switched on
        (Config(llm_provider="offline"), {**on, "answer_language": "de"}),  # Spanish -> German needs a model
        (Config(llm_provider="openai", openai_api_key="sk-test"), on),  # the llm worker's model translates
    ]
    for cfg, settings in cases:
        _sid, worker, evs = await run_segment(r, pool, transcriber, executor, cfg, settings)
        assert [e.type for e in evs] == ["caption"], settings
        assert worker.translator.decodes == 0, settings


# ---- the llm worker (offline): which directions need a model ----


async def test_offline_notice_only_for_directions_that_need_a_model(r: aioredis.Redis, pool: asyncpg.Pool) -> None:
    to_english = await new_session(pool, listen_language="es")
    to_german = await new_session(pool, listen_language="es")
    async with running(r, pool, OfflineProvider()) as h:
        for sid, answer in ((to_english, "en"), (to_german, "de")):
            await h.job(LlmJob("settings", sid, {"type": "settings", "answer_language": answer, "translate": True}))
            await h.caption(sid, "interviewer", "What is the difference between a process and a thread?", lang="es")
        de = await h.events(to_german, lambda e: has("notice", code="translation_unavailable")(e) and done_count()(e))
        en = await h.events(to_english, done_count())
    notices = [e for e in de if e.type == "notice" and e.code == "translation_unavailable"]  # type: ignore[attr-defined]
    assert len(notices) == 1  # once: at the setting, not again for the caption
    assert "into English" in notices[0].message and "needs an AI model" in notices[0].message  # type: ignore[attr-defined]
    assert not [e for e in en if e.type == "notice" and e.code == "translation_unavailable"]  # type: ignore[attr-defined]
    assert not [e for e in en + de if e.type == "translation"]  # the llm worker itself never translates offline
