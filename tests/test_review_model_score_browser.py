"""The review page with an AI model scoring answers (issue 8), in a real browser.

The stack's llm worker (where every model call runs: the review page's scores are its
``answer_score`` jobs) is restarted with ``LLM_PROVIDER=openai`` against a local server speaking
the OpenAI wire format (tests/fake_openai.py as its own process, scripted to score every answer
relevance 81 / completeness 72 / structure 64 / clarity 90, after 4 s). The page first shows the
offline score marked as being scored, then swaps in the model's score without reloading, so a
recording that is playing keeps playing. Captions are written straight into the stack's database
(the media path is covered by tests/test_recruiting_browser.py); nothing is spoken here.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest
from browser_helpers import chromium, silence_wav
from conftest import ROOT, Stack
from playwright.sync_api import Browser, Page

from interview_room.embedded import free_port

WAIT_MS = 30_000
ANSWER = [
    "We moved billing events onto Kafka streams and tuned the PostgreSQL indexes behind the reports.",
    "The nightly job went from three hours to twenty minutes.",
]


def _wait_up(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Until the process accepts connections on 127.0.0.1:port (bounded)."""
    for _ in range(int(timeout_s * 5)):
        if proc.poll() is not None:
            raise RuntimeError(f"port {port}: the process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _sql(stack: Stack, query: str, *args: Any) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(stack.infra.database_url)
        try:
            await conn.execute(query, *args)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=60)


@pytest.fixture(scope="module")
def ai_signaling(stack: Stack) -> Iterator[str]:
    """Base URL of the stack, its llm worker scoring with the (fake) model (the usual worker afterwards)."""
    fake_port = free_port()
    log = open(stack.infra.data_dir / "fake-openai.log", "ab")  # noqa: SIM115 - kept for the process' life
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--port", str(fake_port), "--score-delay", "4"],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    name = "llm-ai"
    try:
        _wait_up(fake_port, fake)
        if "llm" in stack.procs:
            stack.stop_part("llm")
        stack.start_part(
            "llm",
            name=name,
            LLM_PROVIDER="openai",
            OPENAI_BASE_URL=f"http://127.0.0.1:{fake_port}/v1",
            OPENAI_API_KEY="",
        )
        stack.wait_healthy(name)
        yield stack.base_url
    finally:
        if name in stack.procs:
            stack.stop_part(name)
        stack.start_part("llm")
        fake.terminate()
        fake.wait(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")
    with chromium(mic) as b:
        yield b


def _api(page: Page, method: str, path: str, body: dict[str, Any] | None = None, link: str | None = None) -> Any:
    """``link``: a candidate link's token, sent in its header."""
    # the page's cookie, and the same-origin marker its own fetch() would carry
    headers = {"Sec-Fetch-Site": "same-origin", **({"X-Candidate-Token": link} if link is not None else {})}
    res = page.request.fetch(path, method=method, data=body, headers=headers)
    assert res.ok, (path, res.status, res.text())
    return res.json()


def test_review_swaps_in_the_models_score(stack: Stack, ai_signaling: str, browser: Browser) -> None:
    ctx = browser.new_context(base_url=ai_signaling, viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda e: errors.append(str(e)))
        # a recruiter signed in by the API (the cookie rides along), an organisation, an interview
        addr = f"model-{uuid.uuid4().hex[:10]}@example.com"
        _api(page, "POST", "/api/auth/register", {"email": addr, "password": "correct horse battery"})
        _api(page, "POST", "/api/auth/verify-code", {"email": addr, "code": stack.email_code(addr)})  # its cookie: kept
        _api(page, "POST", "/api/org", {"name": "Model Co"})
        iv = _api(
            page,
            "POST",
            "/api/org/interviews",
            {
                "title": "Data engineer",
                "job_description": "- Streaming pipelines with Kafka\n- Tuning PostgreSQL",
                "questions": ["Tell us about a pipeline you built."],
            },
        )
        inv = _api(page, "POST", f"/api/org/interviews/{iv['id']}/candidates", {"name": "Kai", "send_email": False})
        token = inv["link"].split("#", 1)[1]
        _api(page, "POST", "/api/c/consent", link=token)
        started = _api(page, "POST", "/api/c/answers/0/start", link=token)
        sid = uuid.UUID(started["session_id"])
        for i, text in enumerate(ANSWER):
            _sql(
                stack,
                "INSERT INTO captions (id, session_id, role, seq, t0, t1, text, lang) "
                "VALUES ($1, $2, 'candidate', $3, $4, $5, $6, 'en')",
                f"{sid}-m{i}",
                sid,
                i,
                4.0 * i,
                4.0 * i + 3.5,
                text,
            )
        _api(page, "POST", "/api/c/answers/0/finish", link=token)

        page.goto(f"/recruit/review.html?id={inv['candidate']['id']}")
        page.wait_for_selector(".score-box .score-provider")
        first = page.text_content(".score-provider") or ""
        assert "scoring this answer" in first, first  # the offline score stands in meanwhile
        page.evaluate("() => { window.__sameCard = document.querySelector('.answer-card'); }")
        page.wait_for_selector(".score-provider[data-provider=openai]", timeout=60_000)
        assert "AI model" in (page.text_content(".score-provider") or "")
        meters = {
            (m.get_attribute("aria-label") or "").split(" ")[0]: m.get_attribute("value")
            for m in page.query_selector_all(".score-box meter")
        }
        assert meters["Relevance"] == "81" and meters["Clarity"] == "90", meters
        # swapped in place: the card (and its player) is the one first rendered
        assert page.evaluate("() => window.__sameCard === document.querySelector('.answer-card')")
        assert page.is_visible(".answer-card .player")
        assert not errors, errors
    finally:
        ctx.close()
