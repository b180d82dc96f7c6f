"""After the interview (issue 19): the session page shows a summary and a thank-you e-mail draft.

Against the session stack (signaling and an llm worker without a model): a session is created by
the API, the interviewer's and the candidate's final captions are stored and handed to the llm
worker as the stt worker does (captions rows + ``caption`` jobs), the session ends (the media
node's ``session_end`` job, then POST /end). The worker's offline provider writes the summary
from the records; GET /api/sessions/{id}/summary serves it and the session page shows it, at
desktop width and at 375 px.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from browser_helpers import PHONE, chromium, page_a11y_problems, silence_wav
from conftest import Stack
from playwright.sync_api import Browser, Page

from interview_room import bus
from interview_room.messages import Caption, LlmJob
from interview_room.store import captions as captions_store

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
WAIT_MS = 30_000
SPOKEN = [
    ("interviewer", "Thanks for joining. What is the difference between a process and a thread?"),
    ("candidate", "A process has its own address space, while threads share the memory of their process."),
    ("interviewer", "How would you design a rate limiter for an API?"),
]


def _run(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)


async def _speak(stack: Stack, sid: str) -> None:
    """The captions as the stt worker delivers them, then the media node's session_end."""
    pool = await asyncpg.connect(stack.infra.database_url)
    r = bus.connect(stack.infra.redis_url)
    try:
        t = 0.5
        for seq, (role, text) in enumerate(SPOKEN):
            c = Caption(id=f"{sid}:{role}:{seq}", role=role, t0=t, t1=t + 4.0, text=text, lang="en")
            t += 6.0
            await captions_store.insert_caption(pool, c, sid, seq)
            await r.xadd(bus.LLM_JOBS, LlmJob("caption", sid, c.to_wire()).to_fields())  # type: ignore[arg-type]
            await asyncio.sleep(2.0)  # the question pause (LLM_QUESTION_PAUSE_MS) between speakers
        await r.xadd(bus.LLM_JOBS, LlmJob("session_end", sid, {}).to_fields())  # type: ignore[arg-type]
    finally:
        await r.aclose()
        await pool.close()


def _api(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    res = page.request.fetch(path, method=method, data=body, headers={"Sec-Fetch-Site": "same-origin"})
    assert res.ok, (path, res.status, res.text())
    return res.json()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")
    with chromium(mic) as b:
        yield b


def test_session_page_shows_the_summary_and_a_thank_you_draft(stack: Stack, browser: Browser) -> None:
    ctx = browser.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda e: errors.append(str(e)))
        addr = f"summary-{uuid.uuid4().hex[:10]}@example.com"
        _api(page, "POST", "/api/auth/register", {"email": addr, "password": "correct horse battery"})
        _api(page, "POST", "/api/auth/verify-code", {"email": addr, "code": stack.email_code(addr)})
        s = _api(page, "POST", "/api/sessions", {"title": "Acme backend"})
        assert _api(page, "GET", f"/api/sessions/{s['id']}/summary") == {"status": "live"}
        _run(_speak(stack, s["id"]))
        _api(page, "POST", f"/api/sessions/{s['id']}/end")

        summary: dict[str, Any] = {}
        for _ in range(300):  # the worker writes it after the last answer and score
            summary = _api(page, "GET", f"/api/sessions/{s['id']}/summary")
            if summary["status"] == "ready":
                break
            assert summary["status"] == "writing", summary
            page.wait_for_timeout(200)
        assert summary["status"] == "ready" and summary["provider"] == "offline", summary
        assert [q["question"] for q in summary["questions"]] == [SPOKEN[0][1], SPOKEN[2][1]]
        assert "threads share the memory" in summary["questions"][0]["answer_gist"]
        assert summary["thank_you_subject"] == "Thank you — Acme backend"
        assert "rate limiter" in summary["thank_you_body"]

        page.goto(f"/session.html?id={s['id']}")
        page.wait_for_selector("#summary .summary-questions li")
        assert page.locator("#summary-h").text_content() == "After the interview"
        items = page.locator("#summary .summary-questions li")
        assert items.count() == 2 and "process and a thread" in (items.nth(0).text_content() or "")
        assert "No spoken answer was captured." in (items.nth(1).text_content() or "")
        assert page.locator("#summary .summary-follow-ups li").count() >= 2
        assert page.input_value("#ty-subject") == "Thank you — Acme backend"
        body = page.input_value("#ty-body")
        assert body.startswith("Dear [interviewer's name]") and "rate limiter" in body
        assert "without an AI model" in (page.text_content("#summary") or "")
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#summary").screenshot(path=str(ARTIFACTS / "session-summary.png"))
        page.set_viewport_size(PHONE)
        assert page_a11y_problems(page, "session summary") == []
        page.screenshot(path=str(ARTIFACTS / "session-summary-375.png"), full_page=True)
        assert not errors, errors
    finally:
        ctx.close()
