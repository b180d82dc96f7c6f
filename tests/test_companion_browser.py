"""The room in headless Chromium with ``interview-room listen``: what a user does first.

The user starts a room with the microphone as themselves, clicks "Connect computer audio", types the
shown code into the companion (a real process sending a recorded question as "what the computer
plays"), and the question appears in the room's captions as the interviewer. Then Pause (the button
and Alt+P) stops listening and Resume starts it again; the room still passes the 375 px and
accessible-name checks with the new controls.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import (
    CHROMIUM,
    PHONE,
    chromium_args,
    new_session_in_page,
    page_a11y_problems,
    poll,
    register_in_page,
    silence_wav,
    word_recall,
)
from conftest import FIXTURES, ROOT, Stack
from playwright.sync_api import Page, sync_playwright

SPOKEN = "q_why_company.wav"
REFERENCE = json.loads((FIXTURES / "references.json").read_text())[SPOKEN]["text"]
ARTIFACTS = ROOT / "test-artifacts"

CAPTIONS_JS = """() => [...document.querySelectorAll('#captions .caption')].map((n) => ({
  role: n.dataset.role, final: n.dataset.final, text: n.querySelector('.text').textContent }))"""


@pytest.fixture(scope="module")
def page(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    quiet = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(quiet))
        ctx = b.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 900})
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        try:
            yield pg
            assert errors == [], errors
        finally:
            b.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _wait(page: Page, what: str, probe: Any, timeout_s: float, stack: Stack) -> Any:
    def report() -> str:
        _shot(page, f"failure-companion-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:40]}")
        tails = "\n".join(f"--- {n} ---\n" + "\n".join(stack.log_of(n).splitlines()[-15:]) for n in ("media", "stt"))
        return f"timed out waiting for {what}\n{page.evaluate(CAPTIONS_JS)}\n{tails}"

    return poll(page, probe, timeout_s, 500, report)


def test_connect_computer_audio_captions_the_interviewer_and_pause_stops_listening(page: Page, stack: Stack) -> None:
    email = f"zoom-{uuid.uuid4().hex[:10]}@example.com"
    register_in_page(page, stack.email_code, "Zoe Zoom", email)
    new_session_in_page(page, "Teams call")
    page.wait_for_function("() => document.querySelector('#room-title').textContent === 'Teams call'")
    page.click("#mic-btn")
    page.wait_for_selector("#mic-btn[aria-pressed=true]")
    page.click("#start-btn")
    _wait(page, "the room to be live", lambda: page.get_attribute("#conn-state", "data-state") == "live", 90, stack)

    # "Connect computer audio" shows a code and the command to run
    page.click("#companion-btn")
    page.wait_for_selector("#companion-code:not([hidden])")
    code = page.inner_text("#companion-code-text")
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}", code), code
    command = page.inner_text("#companion-command")
    assert command.startswith("interview-room listen --server ") and command.endswith(f"--code {code}"), command
    assert "Works once" in page.inner_text("#companion-expiry")
    _shot(page, "room-companion-code")
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)
        assert page_a11y_problems(page, "room with the pairing code") == []
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})

    out = open(ROOT / "test-artifacts" / "companion-browser.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "interview_room.cli", "listen", "--server", stack.base_url, "--code", code,
         "--input", str(FIXTURES / SPOKEN)],
        cwd=ROOT, env={**os.environ, "ICE_HOSTS": "127.0.0.1"}, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait(page, "the companion to connect", lambda: "connected" in page.inner_text("#companion-msg"), 60, stack)
        assert page.is_hidden("#companion-code")

        def interviewer_caption() -> dict[str, Any] | None:
            caps = [c for c in page.evaluate(CAPTIONS_JS) if c["role"] == "interviewer" and c["final"] == "true"]
            return next((c for c in caps if word_recall(REFERENCE, c["text"]) >= 0.6), None)

        _wait(page, f"an interviewer caption of {REFERENCE!r}", interviewer_caption, 180, stack)
        _shot(page, "room-companion-caption")

        # pause from the keyboard, resume with the button: the server's "listening" drives both
        assert page.get_attribute("#pause-btn", "aria-pressed") == "false" and page.is_hidden("#paused-badge")
        page.keyboard.press("Alt+P")
        _wait(page, "the paused state", lambda: page.get_attribute("#pause-btn", "aria-pressed") == "true", 20, stack)
        assert page.is_visible("#paused-badge") and page.inner_text("#pause-btn") == "Resume listening"
        _shot(page, "room-paused")
        page.click("#pause-btn")
        _wait(page, "listening again", lambda: page.get_attribute("#pause-btn", "aria-pressed") == "false", 20, stack)
        assert page.is_hidden("#paused-badge")
        # the floating window's hook
        assert page.evaluate("() => typeof window.roomControls.pause.toggle") == "function"
        sid = re.search(r"[?&]id=([^&#]+)", page.url).group(1)  # type: ignore[union-attr]
        detail = page.evaluate("async (id) => (await fetch(`/api/sessions/${id}`)).json()", sid)
        assert len(detail["pauses"]) == 1 and detail["pauses"][0]["t1"] > detail["pauses"][0]["t0"], detail["pauses"]
        # the session page marks the pause in the transcript
        page.goto(f"/session.html?id={sid}")
        mark = page.wait_for_selector("#transcript .pause-mark")
        assert re.fullmatch(r"Paused \d\d:\d\d–\d\d:\d\d: not captioned or recorded", mark.inner_text()), mark.inner_text()
    finally:
        proc.terminate()
        proc.wait(30)
        out.close()
