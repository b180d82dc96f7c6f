"""What the candidate sees of the practice question and of their own takes (issue 17, item 12), in Chromium.

Debian's Chromium (headless, driven by Playwright) against the real stack: the recruiter writes an
interview with a practice question in recruit/interview.html; the candidate (no account, the link only)
consents, checks the devices, gets the practice question (marked "not scored", with a way to skip it),
records it over WebRTC with the fake camera and microphone, watches the take from the server, moves on
to the real question, records and watches that too, and finishes. The recruiter's review shows the real
answer only. Every step's screen is checked at 375 px (named controls, no sideways scrolling) and shot
into test-artifacts/.

Network: the browser resolves no name (host-resolver-rules) and the stack offers 127.0.0.1 only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import PHONE, chromium, confirm_registration, page_a11y_problems, silence_wav
from conftest import ROOT, Stack
from playwright.sync_api import Browser, Page

ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "correct horse battery staple"
PRACTICE = "Tell us what you had for breakfast."
QUESTION = "Tell us about a project you are proud of."
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
CONNECT_MS = 90_000
RECORD_MS = 5_000  # long enough for the recorder to open its file with the camera's first pictures

# the take in the player: loaded from the server, with a picture and a length
TAKE_JS = """() => new Promise((ok) => {
  const v = document.querySelector('#take-player');
  const done = () => ok({ duration: v.duration, width: v.videoWidth, height: v.videoHeight, src: v.src });
  if (v.readyState >= 1) done(); else v.addEventListener('loadedmetadata', done, { once: true });
  setTimeout(() => ok(null), 20000);
})"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav", seconds=30.0)
    with chromium(mic) as b:
        yield b


def _shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _at_phone_width(page: Page, name: str) -> None:
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)  # let the layout settle after the resize
        _shoot(page, f"{name}-375")
        problems = page_a11y_problems(page, name)
        assert not problems, "\n".join(problems)
    finally:
        page.set_viewport_size(DESKTOP)


def _api(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    res = page.request.fetch(path, method=method, data=body, headers=SAME_ORIGIN)
    return res.status, res.json()


def _record_and_watch(page: Page, index: str, name: str) -> dict[str, Any]:
    """Record a take of the shown question, save it and watch it; returns the player's facts."""
    page.wait_for_selector(f"#question[data-index='{index}'][data-phase=think]")
    page.click("#record-btn")
    page.wait_for_selector("#question[data-phase=recording]", timeout=CONNECT_MS)
    page.wait_for_timeout(RECORD_MS)
    page.click("#stop-btn")
    page.wait_for_selector("#question[data-phase=saved]", timeout=CONNECT_MS)
    assert page.is_visible("#watch-btn") and not page.is_visible("#take-player")
    page.click("#watch-btn")
    page.wait_for_selector("#take-player:not([hidden])")
    take = page.evaluate(TAKE_JS)
    assert take and take["src"].startswith("blob:"), take
    assert take["duration"] > 1 and take["width"] > 0 and take["height"] > 0, take
    _shoot(page, name)
    _at_phone_width(page, name)
    return dict(take)


def test_candidate_practises_and_watches_their_takes(stack: Stack, browser: Browser) -> None:
    errors: list[str] = []
    rec_ctx = browser.new_context(viewport=DESKTOP, base_url=stack.base_url)
    cand_ctx = browser.new_context(viewport=DESKTOP, base_url=stack.base_url)
    try:
        rec, page = rec_ctx.new_page(), cand_ctx.new_page()
        for p in (rec, page):
            p.set_default_timeout(30_000)
            p.on("pageerror", lambda e, p=p: errors.append(f"{p.url}: {e}"))

        # the recruiter sets the practice question in the interview editor
        rec.goto("/index.html#register")
        email = f"takes-{uuid.uuid4().hex[:10]}@example.com"
        rec.fill("#reg-name", "Tara Takes")
        rec.fill("#reg-email", email)
        rec.fill("#reg-password", PASSWORD)
        rec.click("[data-testid=register-submit]")
        confirm_registration(rec, stack.email_code(email))
        rec.wait_for_url("**/sessions.html*")
        st, _ = _api(rec, "POST", "/api/org", {"name": "Takes Co"})
        assert st == 201
        rec.goto("/recruit/interview.html")
        rec.wait_for_selector(".q-item")
        rec.fill("#iv-title", "Designer")
        rec.fill("#iv-practice", PRACTICE)
        item = rec.locator(".q-item").nth(0)
        item.locator(".q-text").fill(QUESTION)
        item.locator(".q-think").fill("30")
        item.locator(".q-answer").fill("300")
        rec.click("#iv-save")
        rec.wait_for_url("**/recruit/interview.html?id=*")
        rec.wait_for_function("() => document.querySelector('#save-msg').textContent === 'Saved.'")
        assert rec.input_value("#iv-practice") == PRACTICE
        interview_id = rec.url.split("id=", 1)[1]
        st, inv = _api(
            rec, "POST", f"/api/org/interviews/{interview_id}/candidates", {"name": "Pat", "send_email": False}
        )
        assert st == 201, inv

        # the candidate: intro, consent, device check, then the practice question
        page.goto(inv["link"])
        page.wait_for_selector("#intro:not([hidden])")
        facts = page.text_content("#intro-facts") or ""
        assert "practice question comes first" in facts and "watch each answer" in facts
        page.check("#consent-box")
        page.click("#consent-btn")
        page.wait_for_selector("#check-ok:not([disabled])")
        page.click("#check-ok")
        page.wait_for_selector("#question[data-index=practice]")
        assert page.text_content("#q-title") == "Practice question (not scored)"
        assert page.text_content("#q-text") == PRACTICE
        assert page.is_visible("#practice-note") and "not scored" in (page.text_content("#practice-note") or "")
        assert page.is_visible("#skip-practice-btn") and not page.is_visible("#watch-btn")
        assert page.get_attribute("#progress", "value") == "0"
        _shoot(page, "candidate-practice")
        _at_phone_width(page, "candidate-practice")

        _record_and_watch(page, "practice", "candidate-practice-take")
        assert page.text_content("#next-btn") == "Start the interview"
        assert page.text_content("#retake-btn") == "Try again (2 left)"
        assert not page.is_visible("#skip-practice-btn")
        assert page.get_attribute("#progress", "value") == "0"  # practice is not an answer

        # the real question: no practice note; its take plays too
        page.click("#next-btn")
        page.wait_for_selector("#question[data-index='0']")
        assert page.text_content("#q-title") == "Question 1 of 1"
        assert not page.is_visible("#practice-note") and not page.is_visible("#skip-practice-btn")
        assert not page.is_visible("#take-player")  # the practice take is gone from the screen
        _record_and_watch(page, "0", "candidate-answer-take")
        assert page.get_attribute("#progress", "value") == "1"
        assert page.is_visible("#retake-btn") and page.text_content("#next-btn") == "Finish interview"
        page.click("#next-btn")
        page.wait_for_selector("#thanks:not([hidden])")

        # the recruiter sees the real answer only
        cid = inv["candidate"]["id"]
        st, review = _api(rec, "GET", f"/api/org/candidates/{cid}")
        assert st == 200 and [(a["question"], a["answered"]) for a in review["answers"]] == [(QUESTION, True)]
        assert PRACTICE not in str(review)
        assert not errors, errors
    finally:
        rec_ctx.close()
        cand_ctx.close()
