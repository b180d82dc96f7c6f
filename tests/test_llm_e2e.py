"""AI help end to end over real WebRTC: a spoken fixture question comes back on the data channel
as ``question`` -> ``answer.delta``... -> ``answer.done``; ``ask`` and ``settings`` work.

Runs the real stack (signaling, media, stt, llm as processes). The first test uses the stack as
started (no AI configured: the offline provider); the second restarts the llm part against a
local fake Chat Completions server (127.0.0.1) and puts the original part back afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from conftest import confirm_client

from ai_sidecar.llm.offline import OFFLINE_HEADER
from loadtests.client import FIXTURES, RoomClient, WavTrack
from tests.fake_openai import FakeOpenAI, model_responder, task_of

pytestmark = pytest.mark.whisper  # transcribes speech with the Whisper model (not in make test-fast)

AI_TIMEOUT = 90.0


async def _user(base_url: str) -> RoomClient:
    c = RoomClient(base_url)
    await c.register(f"llm-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "LLM E2E")
    await confirm_client(c)
    return c


async def _wait_health(port: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("llm worker not healthy")


async def _answer(c: RoomClient, qid: str) -> tuple[list[str], dict[str, Any]]:
    """The deltas and the done event of one question's answer, in arrival order."""
    deltas: list[str] = []
    while True:
        e = await c.wait_for(
            lambda e: e["type"] in ("answer.delta", "answer.done") and e.get("question_id") == qid, AI_TIMEOUT
        )
        if e["type"] == "answer.done":
            return deltas, e
        deltas.append(e["delta"])


def _index(c: RoomClient, pred: Any) -> int:
    return next(i for i, e in enumerate(c.received) if pred(e))


async def test_spoken_question_streams_an_answer_and_ask_works(stack: Any) -> None:
    c = await _user(stack.base_url)
    try:
        s = await c.create_session(title="llm e2e", mode="assistant", listen_language="en", answer_language="en")
        await c.connect(s["id"], [("interviewer", WavTrack([FIXTURES / "q_process_thread.wav"]))])
        q = await c.wait_for(lambda e: e["type"] == "question", AI_TIMEOUT)
        assert "process" in q["text"].lower() and "thread" in q["text"].lower()
        assert q["caption_ids"] and q["v"] == 1
        deltas, done = await _answer(c, q["id"])
        assert len(deltas) >= 3 and "".join(deltas) == done["text"]
        assert done["text"].startswith(OFFLINE_HEADER) and "address space" in done["text"]
        # on the channel in order: the caption, then the question, then the answer
        cap_i = _index(c, lambda e: e["type"] == "caption" and e.get("final") and e["id"] in q["caption_ids"])
        q_i = _index(c, lambda e: e["type"] == "question" and e["id"] == q["id"])
        d_i = _index(c, lambda e: e["type"] == "answer.delta" and e["question_id"] == q["id"])
        done_i = _index(c, lambda e: e["type"] == "answer.done" and e["question_id"] == q["id"])
        assert cap_i < q_i < d_i < done_i
        assert any(e["type"] == "notice" and e["code"] == "ai_offline" for e in c.received)

        await c.send({"type": "ask", "text": "How does a hash map handle collisions?"})
        typed = await c.wait_for(
            lambda e: e["type"] == "question" and e["text"] == "How does a hash map handle collisions?", AI_TIMEOUT
        )
        assert typed["caption_ids"] == []
        _, done2 = await _answer(c, typed["id"])
        assert "chaining" in done2["text"].lower()

        detail = await c.get_session()
        by_id = {row["id"]: row for row in detail["questions"]}
        assert by_id[q["id"]]["answer"]["text"] == done["text"]
        assert by_id[typed["id"]]["source"] == "typed"
    finally:
        await c.close()


@pytest_asyncio.fixture
async def llm_on_fake_model(stack: Any) -> AsyncIterator[FakeOpenAI]:
    """The stack's llm part, restarted against a local fake model; the original comes back after."""
    fake = FakeOpenAI(model_responder())
    await fake.start()
    port = stack.env["LLM_METRICS_PORT"]
    await asyncio.to_thread(stack.stop_part, "llm")
    try:
        stack.start_part("llm", OPENAI_API_KEY="test-key", OPENAI_BASE_URL=fake.base_url, LLM_MODEL="fake-answer")
        await _wait_health(port)
        yield fake
    finally:
        await asyncio.to_thread(stack.stop_part, "llm")
        stack.start_part("llm")
        await _wait_health(port)
        await fake.close()


async def test_settings_switch_the_answer_language_mid_session(stack: Any, llm_on_fake_model: FakeOpenAI) -> None:
    fake = llm_on_fake_model
    c = await _user(stack.base_url)
    try:
        s = await c.create_session(title="llm lang", mode="assistant", listen_language="en", answer_language="en")
        track = WavTrack([FIXTURES / "q_why_company.wav"])
        await c.connect(s["id"], [("interviewer", track)])
        q1 = await c.wait_for(lambda e: e["type"] == "question", AI_TIMEOUT)
        deltas, done1 = await _answer(c, q1["id"])
        assert done1["lang"] == "en" and done1["text"] == "".join(deltas) == f"My answer to: {q1['text']}"

        await c.send({"type": "settings", "answer_language": "de", "translate": True})
        await asyncio.sleep(1.0)  # the settings job is queued before the next caption's job
        track.enqueue(FIXTURES / "q_hash_map.wav", gap=0.3)
        q2 = await c.wait_for(lambda e: e["type"] == "question" and "hash" in e["text"].lower(), AI_TIMEOUT)
        _, done2 = await _answer(c, q2["id"])
        assert done2["lang"] == "de"
        tr = await c.wait_for(lambda e: e["type"] == "translation" and e["ref"] == q2["id"], AI_TIMEOUT)
        assert tr["lang"] == "de" and tr["text"] == f"[German] {q2['text']}"
        systems = [r["messages"][0]["content"] for r in fake.requests if task_of(r) == "answer"]
        assert "English" in systems[0] and "German" in systems[-1]
    finally:
        await c.close()
