"""The web room in headless Chromium survives the death of the media node that holds it.

A cluster of its own (own Redis database ``/8``; signaling, two media nodes, one stt worker, one llm worker as
processes, sharing the test database): the page starts a room whose fake microphone repeats an interviewer's
question, a caption arrives, the media node holding the session is killed (SIGKILL, no goodbye); the page
notices, re-offers, lands on the surviving node and the captions go on. What a user sees: "Reconnecting…", then
"Live" again, and new captions of the same question; no reload, no error notice.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest
from browser_helpers import (
    CHROMIUM,
    chromium_args,
    failure_report,
    new_session_in_page,
    poll,
    register_in_page,
    word_recall,
)
from conftest import FIXTURES, Infra, Part, Stack, stack_env, start_stack
from playwright.sync_api import Browser, Page, sync_playwright

from interview_room.embedded import free_port

pytestmark = [pytest.mark.whisper, pytest.mark.timeout(900)]

SPOKEN = "q_why_company.wav"
REFERENCE = json.loads((FIXTURES / "references.json").read_text())[SPOKEN]["text"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ROOM_STATE_JS = """() => ({
  conn: document.querySelector('#conn-state')?.dataset.state,
  notices: [...document.querySelectorAll('#notices li')].map((n) => n.textContent.trim()),
  captions: [...document.querySelectorAll('#captions .caption')].map((n) => `${n.dataset.final}: ${n.textContent.trim()}`),
})"""
FINALS_JS = """() => [...document.querySelectorAll('#captions .caption')]
  .filter((n) => n.dataset.final === 'true').map((n) => n.textContent.trim())"""


def looping_question(out: Path) -> Path:
    """The question between 2 s and 4 s of silence: Chromium plays the file in a loop (no ``%noloop``), as a voice that
    keeps asking, so there is speech before and after the node dies."""
    with wave.open(str(FIXTURES / SPOKEN)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        gap = np.zeros(int(2.0 * rate) * channels, np.int16)
        w.writeframes(np.concatenate([gap, pcm, gap, gap]).tobytes())
    return out


@pytest.fixture(scope="module")
def cluster(infra: Infra) -> Iterator[tuple[Stack, dict[str, str]]]:
    redis_url = infra.redis_url.rsplit("/", 1)[0] + "/8"
    env = stack_env(infra, ports=("HTTP_PORT", "STT_METRICS_PORT", "LLM_METRICS_PORT"), REDIS_URL=redis_url)
    media = [Part("media", n, {"MEDIA_PORT": str(free_port()), "MEDIA_URL": ""}) for n in ("r-media-a", "r-media-b")]
    parts = (Part("signaling", "r-signaling"), *media, Part("stt", "r-stt"), Part("llm", "r-llm", wait=False))
    with start_stack(infra, env, *parts) as s:
        yield s, {p.name: s.url_of(p.name) for p in media}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = looping_question(tmp_path_factory.mktemp("mic") / "question.wav")
    args = [a.replace("%noloop", "") for a in chromium_args(mic)]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield b
        finally:
            b.close()


def _finals(page: Page) -> list[str]:
    return list(page.evaluate(FINALS_JS))


def _heard(page: Page, since: int) -> list[str]:
    """Final captions after the first ``since`` that carry the question (most of its words)."""
    return [t for t in _finals(page)[since:] if word_recall(REFERENCE, t) >= 0.6]


def test_the_room_reconnects_to_another_node_when_its_node_dies(
    cluster: tuple[Stack, dict[str, str]], browser: Browser, infra: Infra
) -> None:
    stack, media = cluster
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    parts = ("r-signaling", "r-media-a", "r-media-b", "r-stt")

    def wait(what: str, probe: Any, timeout_s: float) -> Any:
        shot = ARTIFACTS / f"failure-reconnect-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:50]}.png"
        return poll(page, probe, timeout_s, 500, lambda: failure_report(
            page, what, state_js=ROOM_STATE_JS, shot=shot, errors=errors, log_of=stack.log_of, parts=parts))  # fmt: skip

    try:
        email = f"reconnect-{uuid.uuid4().hex[:10]}@example.com"
        register_in_page(page, stack.email_code, "Reconnect Test", email)
        session_id = new_session_in_page(page, "Node dies")
        page.click("#mic-btn")
        page.wait_for_selector("#mic-btn[aria-pressed=true]")
        page.select_option("#mic-role", "interviewer")
        page.click("#start-btn")
        wait("the room to be live", lambda: page.get_attribute("#conn-state", "data-state") == "live", 90)
        # (the loop may start mid-question as the microphone opens: wait for a whole one)
        wait("a final caption of the question", lambda: _heard(page, 0), 180)

        # the node holding the session dies without a word
        node_url = _node_of(infra, session_id)
        name = next(n for n, url in media.items() if url == node_url)
        survivor = next(url for n, url in media.items() if n != name)
        stack.stop_part(name, kill=True)
        before = len(_finals(page))

        wait("the page to notice", lambda: page.get_attribute("#conn-state", "data-state") != "live", 60)
        wait("the room to be live again", lambda: page.get_attribute("#conn-state", "data-state") == "live", 120)
        assert _node_of(infra, session_id) == survivor  # re-offered onto the surviving node
        # the captions go on: the looping question is heard again through the new node
        wait("a final caption of the question after the reconnect", lambda: _heard(page, before), 180)
        notices = page.evaluate("() => [...document.querySelectorAll('#notices li')].map((n) => n.dataset.code)")
        assert "connection_lost" not in notices, notices
        assert not errors, errors
    finally:
        context.close()
        logs = ARTIFACTS / "browser-reconnect-logs"
        logs.mkdir(parents=True, exist_ok=True)
        for part in parts:
            (logs / f"{part}.log").write_text(stack.log_of(part))


def _node_of(infra: Infra, session_id: str) -> str:
    """The session's media node, read with a short-lived connection (this test is synchronous)."""

    async def read() -> str:
        conn = await asyncpg.connect(infra.database_url)
        try:
            return str(await conn.fetchval("SELECT media_node FROM sessions WHERE id = $1", uuid.UUID(session_id)))
        finally:
            await conn.close()

    # Playwright's sync API runs an event loop in this thread: read from another one
    with ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, read()).result()
