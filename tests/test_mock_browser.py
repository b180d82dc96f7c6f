"""A mock interview in a real browser, as a candidate does it: what the page shows and plays.

Debian's Chromium (headless, driven by Playwright) registers, sets up a short mock interview in
sessions.html, turns the (fake) microphone on and starts. The interviewer's first question shows
in the room and its voice arrives on the server's audio track (measured with a WebAudio
AnalyserNode on the stream the page plays); Skip brings question 2, Repeat says it again; the
candidate answers out loud and the answer is captioned as theirs; "I'm done" moves on; "End
interview" leads to the report with its scores, and the PDF link downloads a PDF.

The microphone is a WAV file (Chromium plays it once from the moment a capture opens): the
candidate first tests it before Start (the level meter moves, nothing is sent yet), and answers
after switching to the other microphone in the room's device list, which opens a new capture and
so plays the file again at the moment the answer is due. The stack is the shared ``stack``
fixture: no AI provider, so the interviewer asks from the built-in question bank.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import (
    REMOTE_LEVEL_JS,
    REMOTE_VOICED_JS,
    UNNAMED_CONTROLS_JS,
    chromium,
    confirm_registration,
    failure_report,
    poll,
    speech_wav,
    word_recall,
)
from conftest import FIXTURES, ROOT, Stack
from playwright.sync_api import Browser, Page

ANSWER = "c_cache_latency.wav"
REFERENCE = json.loads((FIXTURES / "references.json").read_text())[ANSWER]["text"]
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}

# Bounded waits (seconds): Whisper and espeak share two slow cores with other work.
CONNECT_S = 90
TURN_S = 90
CAPTION_S = 180
REPORT_S = 120
VOICE_RMS = 0.01  # -40 dBFS: the interviewer's speech is far above, the silence between questions far below
VOICED_SAMPLES = 20  # 50 ms samples: a second of speech

# Every question (or goodbye) the panel shows, with the panel's state at that moment. mockQuestion()
# and mockDone() set #mock-question's text each time, a repeat included, so each one is an entry.
MOCK_LOG_JS = r"""
() => {
  if (window.__mockLog) return;
  window.__mockLog = [];
  const panel = document.querySelector('#mock-panel');
  const text = document.querySelector('#mock-question');
  new MutationObserver(() => {
    window.__mockLog.push({
      t: performance.now(), index: Number(panel.dataset.index || 0), total: Number(panel.dataset.total || 0),
      follow_up: panel.dataset.followUp === 'true', done: panel.dataset.done || '', text: text.textContent,
      progress: document.querySelector('#mock-progress').textContent,
      followup_badge: !document.querySelector('#mock-followup').hidden,
    });
  }).observe(text, { childList: true, characterData: true, subtree: true });
}
"""

MOCK_BUTTONS = {"repeat": "Repeat the question", "next": "I'm done", "skip": "Skip", "end": "End interview"}


MOCK_STATE_JS = """() => ({
  url: location.href,
  conn: document.querySelector('#conn-state')?.dataset.state,
  progress: document.querySelector('#mock-progress')?.textContent,
  question: document.querySelector('#mock-question')?.textContent,
  mockLog: window.__mockLog,
  notices: [...document.querySelectorAll('#notices li, .banner:not([hidden]), .input-msg, .form-error')].map((n) => n.textContent.trim()).filter(Boolean),
  captions: [...document.querySelectorAll('#captions .caption')].map((n) => `${n.dataset.role}/${n.dataset.final}: ${n.textContent.trim()}`),
})"""


@dataclass
class Mock:
    """The candidate's page and what the tests learned so far (the tests run in file order)."""

    stack: Stack
    page: Page
    errors: list[str] = field(default_factory=list)
    session_id: str = ""
    title: str = ""
    q1: dict[str, Any] = field(default_factory=dict)
    q2: dict[str, Any] = field(default_factory=dict)

    def diagnose(self, what: str) -> str:
        """State of the page and the tail of each process' log, for a failure message."""
        return failure_report(
            self.page,
            what,
            state_js=MOCK_STATE_JS,
            shot=ARTIFACTS / f"failure-mock-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:60]}.png",
            errors=self.errors,
            log_of=self.stack.log_of,
        )

    def wait(self, what: str, probe: Callable[[], Any], timeout_s: float, every_ms: int = 250) -> Any:
        """Poll ``probe`` until it returns something truthy; fail with diagnostics after timeout_s."""
        return poll(
            self.page,
            probe,
            timeout_s,
            every_ms,
            lambda: self.diagnose(f"timed out after {timeout_s:.0f} s waiting for {what}"),
        )

    def no_page_errors(self) -> None:
        assert not self.errors, f"uncaught JavaScript errors: {self.errors}"

    # ---- the room ----

    def now(self) -> float:
        return float(self.page.evaluate("() => performance.now()"))

    def turns(self, since: float = 0.0) -> list[dict[str, Any]]:
        return [e for e in self.page.evaluate("() => window.__mockLog") if e["t"] > since]

    def next_turn(
        self, what: str, since: float, pred: Callable[[dict[str, Any]], bool] = lambda e: True
    ) -> dict[str, Any]:
        """The first question the panel showed after ``since`` that matches ``pred``."""
        return self.wait(what, lambda: next((e for e in self.turns(since) if pred(e)), None), TURN_S)

    def voice(self, since: float, until: float | None = None) -> dict[str, Any]:
        return dict(self.page.evaluate(REMOTE_VOICED_JS, [since, VOICE_RMS, until]))

    def heard(self, what: str, since: float) -> int:
        """Wait until the interviewer's voice arrived after ``since`` and then went quiet (said to the end)."""
        self.wait(f"the interviewer's voice ({what})", lambda: self.voice(since)["voiced"] >= VOICED_SAMPLES, TURN_S)
        return int(
            self.wait(
                f"the interviewer to finish ({what})",
                lambda: (v := self.voice(since))["quiet_ms"] > 1200 and v["voiced"],
                TURN_S,
            )
        )

    def click_mock(self, action: str) -> float:
        """Click a mock control by its accessible name (so the name is checked too); returns the page time before."""
        t = self.now()
        self.page.get_by_role("button", name=MOCK_BUTTONS[action], exact=True).click()
        if action == "end":  # ending cannot be undone: the room asks first
            self.page.get_by_role("button", name="Yes, end the interview", exact=True).click()
        return t


def _shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


def _progress(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"Question (\d+) of (\d+)", text.strip())
    assert m, f"the progress badge says {text!r}"
    return int(m.group(1)), int(m.group(2))


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = speech_wav(FIXTURES / ANSWER, tmp_path_factory.mktemp("mock-mic") / "answer.wav", lead_s=1.0, trail_s=1.5)
    with chromium(mic) as b:
        yield b


@pytest.fixture(scope="module")
def mock(stack: Stack, browser: Browser) -> Iterator[Mock]:
    context = browser.new_context(viewport=DESKTOP, base_url=stack.base_url, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    m = Mock(stack, page)
    page.on("pageerror", lambda e: m.errors.append(f"{page.url}: {e}"))
    try:
        yield m
    finally:
        context.close()
        logs = ARTIFACTS / "mock-browser-stack-logs"  # the infra folder is removed at the end of the run
        logs.mkdir(parents=True, exist_ok=True)
        for name in ("signaling", "media", "stt", "llm"):
            (logs / f"{name}.log").write_text(stack.log_of(name))


@pytest.fixture(scope="module")
def room(mock: Mock) -> Mock:
    """Registered in the UI, a short mock interview set up in sessions.html, the microphone tested
    (its meter moves) and the interview started."""
    page = mock.page
    page.goto("/index.html#register")
    page.fill("#reg-name", "Mock Browser")
    email = f"mock-browser-{uuid.uuid4().hex[:10]}@example.com"
    page.fill("#reg-email", email)
    page.fill("#reg-password", "correct horse battery staple")
    page.click("[data-testid=register-submit]")
    confirm_registration(page, mock.stack.email_code(email))
    page.wait_for_url("**/sessions.html*")

    mock.title = f"Mock browser {uuid.uuid4().hex[:6]}"
    page.click("#new-link")
    page.fill("#s-title", mock.title)
    assert not page.is_visible("#mock-fields")
    page.select_option("#s-mode", "mock")
    page.wait_for_selector("#mock-fields", state="visible")
    page.get_by_label("Interview type").select_option("behavioral")
    page.get_by_label("Difficulty").select_option("easy")
    page.get_by_label("Duration (minutes)").fill("5")  # the shortest: five questions of a minute
    page.select_option("#s-listen", "en")
    page.select_option("#s-answer", "en")
    page.click("#create-btn")
    page.wait_for_url("**/room.html?id=*")
    found = re.search(r"[?&]id=([^&#]+)", page.url)
    assert found, page.url
    mock.session_id = found.group(1)
    page.wait_for_function("(title) => document.querySelector('#room-title').textContent === title", arg=mock.title)
    page.wait_for_selector("#mock-panel", state="visible")
    assert page.is_hidden("#ask-form") and page.is_hidden("#share-box")
    page.evaluate(MOCK_LOG_JS)

    # The candidate tries the microphone before starting: the meter follows the voice, then rests.
    page.click("#mic-btn")
    page.wait_for_selector("#mic-btn[aria-pressed=true]")
    assert page.input_value("#mic-role") == "candidate"
    mock.wait(
        "the microphone meter to move",
        lambda: page.evaluate("() => document.querySelector('#mic-meter').value") > 0.3,
        30,
    )
    quiet = {"n": 0}

    def rested() -> bool:  # the test recording is over: ~2 s without level
        level = page.evaluate("() => document.querySelector('#mic-meter').value")
        quiet["n"] = quiet["n"] + 1 if level < 0.05 else 0
        return quiet["n"] >= 8

    mock.wait("the microphone meter to rest", rested, 30)

    page.click("#start-btn")
    mock.wait("the room to be live", lambda: page.get_attribute("#conn-state", "data-state") == "live", CONNECT_S)
    state = mock.wait(
        "the interviewer's audio track", lambda: page.evaluate(REMOTE_LEVEL_JS, "#remote-audio"), CONNECT_S
    )
    mock.wait("the audio measurement to run", lambda: page.evaluate(REMOTE_LEVEL_JS, "#remote-audio") == "running", 10)
    assert state in ("running", "suspended"), state
    return mock


# ------------------------------------------------------------------------------------------ tests


def test_first_question_is_shown_and_heard(room: Mock) -> None:
    page = room.page
    q1 = room.next_turn("the first question", 0.0, lambda e: e["index"] >= 1)
    room.q1 = q1
    index, total = _progress(page.text_content("#mock-progress") or "")
    assert (index, q1["index"]) == (1, 1), q1
    assert 5 <= total <= 7 and q1["total"] == total, q1
    assert page.evaluate("() => document.querySelector('#mock-bar').max") == total
    assert len(q1["text"].split()) >= 3, q1
    assert not q1["follow_up"] and not q1["followup_badge"]
    assert page.is_visible("#mock-question") and page.text_content("#mock-question") == q1["text"]
    assert "min" in (page.text_content("#mock-time") or "")
    for action, name in MOCK_BUTTONS.items():
        assert page.get_by_role("button", name=name, exact=True).is_enabled(), f"{action} is still disabled"

    # The server's audio track says it: a second and more of voice around the time the question showed,
    # and silence before (the track is not just noise).
    room.heard("question 1", q1["t"] - 1000)
    before = room.voice(0.0, q1["t"] - 1000)
    assert before["voiced"] == 0, f"the interviewer's track was not silent before the first question: {before}"
    # What was said is also in the live captions, as the interviewer's.
    said = room.wait(
        "the first question in the live captions",
        lambda: page.evaluate(
            """(q) => [...document.querySelectorAll('#captions .caption')].map((n) => ({
                role: n.dataset.role, who: n.querySelector('.who').textContent, text: n.querySelector('.text').textContent,
            })).find((c) => c.text.includes(q))""",
            q1["text"],
        ),
        TURN_S,
    )
    assert (said["role"], said["who"]) == ("interviewer", "Interviewer"), said
    room.no_page_errors()


def test_skip_brings_question_two_and_repeat_says_it_again(room: Mock) -> None:
    page = room.page
    assert room.q1, "needs the first question"
    clicked = room.click_mock("skip")
    q2 = room.next_turn("question 2 after Skip", clicked)
    room.q2 = q2
    assert q2["index"] == 2 and not q2["follow_up"], q2
    assert q2["text"] != room.q1["text"] and q2["total"] == room.q1["total"], q2
    assert _progress(page.text_content("#mock-progress") or "") == (2, room.q1["total"])
    assert page.evaluate("() => document.querySelector('#mock-bar').value") == 1
    room.heard("question 2", clicked)

    clicked = room.click_mock("repeat")
    again = room.next_turn("the repeated question", clicked)
    assert (again["index"], again["text"], again["follow_up"]) == (2, q2["text"], False), again
    assert _progress(page.text_content("#mock-progress") or "") == (2, room.q1["total"])
    room.heard("question 2 again", clicked)
    room.no_page_errors()


def test_spoken_answer_is_captioned_as_the_candidate_and_im_done_moves_on(room: Mock) -> None:
    page = room.page
    assert room.q2, "needs question 2"
    # The candidate switches to the other microphone and answers: the new capture plays the recording.
    other = page.evaluate(
        "() => [...document.querySelector('#mic-device').options].find((o) => o.value && o.textContent.includes('Fake Audio Input 1'))?.value"
    )
    assert other, page.evaluate("() => [...document.querySelector('#mic-device').options].map((o) => o.textContent)")
    page.select_option("#mic-device", other)
    room.wait(
        "the new microphone to be on",
        lambda: (page.text_content("#mic-msg") or "").startswith("On: Fake Audio Input 1"),
        30,
    )
    assert page.get_attribute("#mic-btn", "aria-pressed") == "true"

    def answer_caption() -> dict[str, Any] | None:
        caps = page.evaluate(
            """() => [...document.querySelectorAll('#captions .caption')].map((n) => ({
                role: n.dataset.role, final: n.dataset.final, who: n.querySelector('.who').textContent,
                text: n.querySelector('.text').textContent,
            }))"""
        )
        return next((c for c in caps if c["final"] == "true" and word_recall(REFERENCE, c["text"]) >= 0.6), None)

    cap = room.wait(f"a final caption of the answer {REFERENCE!r}", answer_caption, CAPTION_S, every_ms=500)
    assert (cap["role"], cap["who"]) == ("candidate", "You"), cap

    # "I'm done": the interviewer takes the next turn (a follow-up on question 2, or question 3).
    shown = room.turns()[-1]
    clicked = room.click_mock("next")
    turn = room.next_turn(
        "the turn after I'm done", clicked, lambda e: e["text"] != shown["text"] or e["index"] != shown["index"]
    )
    assert (turn["index"], turn["follow_up"]) in ((2, True), (3, False)), turn
    assert turn["followup_badge"] == turn["follow_up"], turn
    assert _progress(page.text_content("#mock-progress") or "") == (turn["index"], room.q1["total"])
    room.heard("the turn after I'm done", clicked)
    room.no_page_errors()


def test_room_accessibility_and_screenshot(room: Mock) -> None:
    page = room.page
    names = page.evaluate(UNNAMED_CONTROLS_JS)
    assert names["checked"] > 0 and not names["bad"], f"controls without an accessible name: {names['bad']}"
    assert page.get_attribute("#mock-bar", "aria-label")
    assert page.get_attribute("#mock-progress", "role") == "status"
    assert page.get_attribute("#mock-question", "aria-live") == "polite"
    _shoot(page, "mock-room")
    room.no_page_errors()


def test_end_leads_to_the_report_and_its_pdf(room: Mock) -> None:
    page = room.page
    assert room.q2, "needs question 2"
    clicked = room.click_mock("end")
    goodbye = room.next_turn("the interviewer's goodbye", clicked, lambda e: bool(e["done"]))
    assert goodbye["done"] == "ended_early" and goodbye["text"].strip(), goodbye
    for name in MOCK_BUTTONS.values():
        assert page.get_by_role("button", name=name, exact=True).is_disabled()
    room.heard("the goodbye", clicked)

    # The server ends the session once the goodbye is said; the banner leads to the report.
    room.wait("the room to show ended", lambda: page.get_attribute("#conn-state", "data-state") == "ended", TURN_S)
    assert page.get_attribute("#ended-banner", "data-reason") == "mock_complete"
    link = page.get_by_role("link", name="See your report")
    link.click()
    page.wait_for_url(f"**/session.html?id={room.session_id}#report")
    page.wait_for_selector("#report", state="visible")
    assert page.text_content("#s-title") == room.title

    def report_shown() -> bool:  # "being prepared" for a few seconds: the user presses Try again
        if page.is_visible("#report-score"):
            return True
        retry = page.get_by_role("button", name="Try again")
        if retry.is_visible():
            retry.click()
        return False

    room.wait("the report's overall score", report_shown, REPORT_S, every_ms=1000)
    score = page.text_content("#report-score") or ""
    assert score.isdigit() and 0 <= int(score) <= 100, score
    bars = page.evaluate(
        "() => [...document.querySelectorAll('.report-bar')].map((b) => ({name: b.querySelector('meter').getAttribute('aria-label'), value: b.querySelector('meter').value}))"
    )
    assert [b["name"] for b in bars] == [  # a behavioural interview has no technical depth
        "Communication",
        "Problem solving",
        "Structure",
        "Time management",
    ], bars
    assert all(0 <= b["value"] <= 100 for b in bars), bars
    overall = page.text_content(".report-overall") or ""
    assert re.search(r"\d+ of \d+ questions answered", overall), overall

    questions = page.evaluate(
        """() => [...document.querySelectorAll('.report-question')].map((q) => ({
            index: Number(q.dataset.index), status: q.dataset.status, title: q.querySelector('h3').textContent,
            score: q.querySelector('.score-badge').textContent,
        }))"""
    )
    by_index = {q["index"]: q for q in questions}
    assert by_index[1]["status"] == "skipped" and room.q1["text"] in by_index[1]["title"], questions
    assert by_index[2]["status"] == "answered" and room.q2["text"] in by_index[2]["title"], questions
    # the question "End interview" cut short is reported as such and not scored; the others are scored
    assert all(q["score"].isdigit() for q in questions if q["status"] != "ended_early"), questions
    assert all(q["score"] == "—" for q in questions if q["status"] == "ended_early"), questions
    assert [q["status"] for q in questions][-1] == "ended_early", questions
    said = page.locator(".report-question[data-index='2'] details")
    said.locator("summary").click()  # "What you said"
    assert word_recall(REFERENCE, said.locator("p").inner_text()) >= 0.6, said.inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name="Report (PDF)").click()
    pdf = Path(download.value.path())
    assert pdf.read_bytes()[:5] == b"%PDF-", pdf.read_bytes()[:40]
    assert download.value.suggested_filename.endswith(".pdf"), download.value.suggested_filename

    # the questions box reads as a mock interview: no "suggested answer" line, delivery facts in words
    box = page.locator("#questions").inner_text()
    assert "No answer was suggested" not in box and "{" not in box, box

    names = page.evaluate(UNNAMED_CONTROLS_JS)
    assert not names["bad"], f"controls without an accessible name: {names['bad']}"
    _shoot(page, "mock-report")
    room.no_page_errors()
