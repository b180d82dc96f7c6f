"""The live room puts the answer first (issue 17, items 2 and 6), in headless Chromium against the whole stack:

- at 1366×900, after Start, the inputs and settings are a slim bar and the answer pane is the largest thing
  above the fold, with the current question pinned on top of it;
- at 375 px, "Captions | Answer" tabs, and the header (site header and the room's status row) is at most a
  tenth of the screen, with "End session" still apart from every other control;
- a reload keeps the elapsed time (it goes on from the session's start, not from 00:00), who speaks on each
  input, and the offline-AI badge (the llm worker says "offline" once per session).

The call is real (fake microphone, loopback WebRTC, the stack's own offline llm worker); the question and
its streaming answer are fed to the page's own dispatcher (window.roomEvents), as the data channel would.
The tests run in file order on one page.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import (
    PHONE,
    chromium,
    csp_violations,
    new_session_in_page,
    page_a11y_problems,
    poll,
    register_in_page,
    silence_wav,
    watch_csp,
)
from conftest import ROOT, Stack
from playwright.sync_api import Browser, Page

ARTIFACTS = ROOT / "test-artifacts"
LAPTOP = {"width": 1366, "height": 900}
CONNECT_S = 90
MAX_HEADER_SHARE = 0.10
MIN_GAP_PX = 24
QUESTION = "How would you design a rate limiter for a public API?"
ANSWER_PARTS = [
    "Start with the goal: protect the service and share capacity fairly. ",
    "I would use a token bucket per API key, kept in Redis so every replica agrees, ",
    "refilled at the plan's rate with a burst allowance. ",
]

# Of everything on screen that is neither the answer pane nor inside it nor around it, the largest visible area
# (clipped to the viewport), next to the answer pane's.
LARGEST_JS = r"""
() => {
  const vw = innerWidth, vh = innerHeight;
  const seen = (r) => Math.max(0, Math.min(r.right, vw) - Math.max(r.left, 0)) * Math.max(0, Math.min(r.bottom, vh) - Math.max(r.top, 0));
  const answer = document.querySelector('#answer-pane');
  const own = seen(answer.getBoundingClientRect());
  let other = { area: 0, what: '' };
  for (const el of document.body.querySelectorAll('*')) {
    if (el === answer || el.contains(answer) || answer.contains(el)) continue;
    const area = seen(el.getBoundingClientRect());
    if (area > other.area) other = { area, what: `${el.tagName.toLowerCase()}#${el.id}.${[...el.classList].join('.')}` };
  }
  const r = answer.getBoundingClientRect();
  return { answer: own, share: own / (vw * vh), other, top: r.top, bottom: r.bottom };
}
"""

PINNED_JS = r"""
() => {
  const pin = document.querySelector('#current-question');
  const pane = document.querySelector('#answer-pane').getBoundingClientRect();
  const box = document.querySelector('#ai-pane').getBoundingClientRect();
  const r = pin.getBoundingClientRect();
  return { hidden: pin.hidden, text: document.querySelector('#current-question-text').textContent,
           inPane: r.top >= pane.top && r.bottom <= pane.bottom, aboveAnswers: r.bottom <= box.top + 1, top: r.top };
}
"""

# The header a phone user sees at the top: the site header and the room's sticky status row.
HEADER_JS = r"""
() => {
  const site = document.querySelector('.site-header').getBoundingClientRect();
  const room = document.querySelector('.room-head').getBoundingClientRect();
  return { bottom: Math.max(site.bottom, room.bottom), site: site.height, room: room.height, vh: innerHeight };
}
"""


def seconds(clock: str) -> int:
    parts = [int(p) for p in clock.strip().split(":")]
    total = 0
    for p in parts:
        total = total * 60 + p
    return total


class Room:
    def __init__(self, stack: Stack, page: Page) -> None:
        self.stack = stack
        self.page = page
        self.errors: list[str] = []
        self.console: list[str] = []
        self.session_id = ""

    def shoot(self, name: str, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 5_000
        return path

    def wait(self, what: str, probe: object, timeout_s: float) -> object:
        def why() -> str:
            logs = "\n".join(
                f"--- {n} ---\n" + "\n".join(self.stack.log_of(n).splitlines()[-15:]) for n in ("media", "llm")
            )
            return f"timed out waiting for {what}; errors={self.errors}\n{logs}"

        return poll(self.page, probe, timeout_s, 250, why)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    quiet = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav", seconds=2.0)
    with chromium(quiet) as b:
        yield b


@pytest.fixture(scope="module")
def room(stack: Stack, browser: Browser) -> Iterator[Room]:
    ctx = browser.new_context(base_url=stack.base_url, viewport=LAPTOP)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    r = Room(stack, page)
    page.on("pageerror", lambda e: r.errors.append(f"{page.url}: {e}"))
    page.on("dialog", lambda d: d.accept())  # "Leave site?" on reload while live
    watch_csp(page, r.console)
    try:
        yield r
    finally:
        ctx.close()


def test_after_start_the_answer_is_the_largest_thing_above_the_fold(room: Room) -> None:
    page = room.page
    email = f"layout-{uuid.uuid4().hex[:10]}@example.com"
    register_in_page(page, room.stack.email_code, "Lee Layout", email)
    room.session_id = new_session_in_page(page, "Answer first", listen=None, answer=None)
    page.wait_for_function("() => document.querySelector('#room-title').textContent === 'Answer first'")

    assert page.is_hidden("#settings-toggle")  # before Start: the full set-up, nothing to collapse yet
    page.select_option("#mic-role", "interviewer")
    page.click("#mic-btn")
    page.wait_for_selector("#mic-btn[aria-pressed=true]")
    page.click("#start-btn")
    room.wait("the room to be live", lambda: page.get_attribute("#conn-state", "data-state") == "live", CONNECT_S)
    room.wait("the offline-AI badge", lambda: page.is_visible("#ai-offline"), 60)

    page.evaluate(
        """([q, parts]) => {
          roomEvents.apply({type: 'caption', id: 'c1', role: 'interviewer', text: q, t0: 2.0, final: true});
          roomEvents.apply({type: 'question', id: 'q1', caption_ids: ['c1'], text: q});
          for (const delta of parts) roomEvents.apply({type: 'answer.delta', question_id: 'q1', delta});
        }""",
        [QUESTION, ANSWER_PARTS],
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)

    # the slim bar: inputs and settings collapsed, who speaks still there to change
    bar = page.locator("#room-controls").bounding_box()
    assert bar and bar["height"] <= 80, bar
    assert page.is_hidden("#room-settings") and page.is_visible("#settings-toggle")
    assert page.is_visible("#mic-role") and page.is_enabled("#mic-role") and page.is_visible("#mic-btn")
    assert page.is_visible("#mic-device")  # a headset plugged in mid-call: switch without opening the settings

    largest = page.evaluate(LARGEST_JS)
    assert largest["answer"] > largest["other"]["area"], largest
    assert largest["share"] >= 0.35 and largest["top"] < LAPTOP["height"] * 0.3, largest
    pinned = page.evaluate(PINNED_JS)
    assert not pinned["hidden"] and pinned["text"] == QUESTION and pinned["inPane"] and pinned["aboveAnswers"], pinned
    assert page.get_attribute(".answer[data-question-id=q1]", "data-done") == "false"  # still streaming
    room.shoot("room-live-1366")

    # the pinned question stays while the answers scroll
    page.evaluate(
        "() => { for (let i = 2; i < 8; i++) { roomEvents.apply({type: 'question', id: `q${i}`, text: `Question ${i}?`});"
        " roomEvents.apply({type: 'answer.done', question_id: `q${i}`, text: 'A long answer. '.repeat(40)}); } }"
    )
    page.evaluate("() => { document.querySelector('#ai-pane').scrollTop = 0; }")
    pinned = page.evaluate(PINNED_JS)
    assert pinned["text"] == "Question 7?" and pinned["aboveAnswers"], pinned

    # the settings come back with one click, and go again
    page.click("#settings-toggle")
    assert page.get_attribute("#settings-toggle", "aria-expanded") == "true"
    assert page.is_visible("#room-settings") and page.is_visible("#mic-device") and page.is_visible("#answer-lang")
    room.shoot("room-live-1366-settings")
    page.click("#settings-toggle")
    assert page.is_hidden("#room-settings")
    assert room.errors == []


def test_phone_has_tabs_and_a_short_header(room: Room) -> None:
    from test_newuser_pages import NEAREST_CONTROL_JS

    page = room.page
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)
        page.evaluate("() => window.scrollTo(0, 0)")
        header = page.evaluate(HEADER_JS)
        room.shoot("room-live-375-answer")
        assert header["bottom"] <= PHONE["height"] * MAX_HEADER_SHARE, header
        tabs = page.locator(".room-tabs [role=tab]")
        assert tabs.all_inner_texts() == ["Captions", "Answer"]
        assert page.get_attribute("#tab-answer", "aria-selected") == "true"
        assert page.is_visible("#answer-pane") and page.is_hidden("#captions-pane")
        assert page.get_attribute("#answer-pane", "role") == "tabpanel"
        # the answer is on the first screen
        pane = page.locator("#answer-pane").bounding_box()
        assert pane and pane["y"] < PHONE["height"] * 0.5, pane
        near = page.evaluate(NEAREST_CONTROL_JS, "#end-btn")
        assert near["gap"] >= MIN_GAP_PX, near

        page.click("#tab-captions")
        assert page.get_attribute("#tab-captions", "aria-selected") == "true"
        assert page.is_visible("#captions-pane") and page.is_hidden("#answer-pane")
        assert QUESTION in page.text_content("#captions .caption[data-id=c1]")
        room.shoot("room-live-375-captions")
        page.keyboard.press("ArrowRight")
        assert page.get_attribute("#tab-answer", "aria-selected") == "true"
        assert page.evaluate("() => document.activeElement.id") == "tab-answer"
        assert page_a11y_problems(page, "room-live") == []
    finally:
        page.set_viewport_size(LAPTOP)
    # wide again: both panes, no tab roles
    page.wait_for_timeout(200)
    assert page.is_visible("#captions-pane") and page.is_visible("#answer-pane") and page.is_hidden(".room-tabs")
    assert page.get_attribute("#answer-pane", "role") is None


def test_reload_keeps_elapsed_time_roles_and_the_offline_badge(room: Room) -> None:
    page = room.page
    room.wait("a few seconds on the clock", lambda: seconds(page.text_content("#elapsed") or "0") >= 4, 30)
    before = seconds(page.text_content("#elapsed") or "0")
    assert page.input_value("#mic-role") == "interviewer"
    page.reload()
    page.wait_for_function("() => document.querySelector('#room-title').textContent === 'Answer first'")
    room.wait("the clock to go on", lambda: seconds(page.text_content("#elapsed") or "0") >= before, 10)
    first = seconds(page.text_content("#elapsed") or "0")
    assert first >= before, (first, before)
    room.wait("the clock to tick", lambda: seconds(page.text_content("#elapsed") or "0") > first, 10)
    assert page.input_value("#mic-role") == "interviewer"
    assert page.is_visible("#ai-offline")
    assert page.text_content("#start-btn") == "Rejoin"
    room.shoot("room-after-reload")

    # rejoining goes on with the same clock and roles
    page.click("#mic-btn")
    page.wait_for_selector("#mic-btn[aria-pressed=true]")
    page.click("#start-btn")
    room.wait("the room to be live again", lambda: page.get_attribute("#conn-state", "data-state") == "live", CONNECT_S)
    assert seconds(page.text_content("#elapsed") or "0") >= first
    assert page.is_visible("#ai-offline")

    page.click("#end-btn")
    page.click("#end-confirm")
    room.wait("the room to show ended", lambda: page.get_attribute("#conn-state", "data-state") == "ended", 60)
    assert csp_violations(page) == [] and room.console == [], (csp_violations(page), room.console)
    assert room.errors == []
