""" "Pop out" (issue 19, item 2) in headless Chromium against the whole stack: the floating window shows the live
captions, the current question and the answer as it streams, from a real call (the page's microphone speaks a
recorded interviewer question; Whisper captions it, the offline llm worker answers it in chunks).

Chromium (headless too) offers Document Picture-in-Picture to secure contexts, 127.0.0.1 included, so this
drives the PiP window; where the browser has none, the same code fills a popup. The window must not depend on
the main tab's timers
(a background tab's are throttled): once it is open, the main page's setTimeout/setInterval/requestAnimationFrame
are replaced by no-ops, and the window still follows the call. Then its controls: text size, opacity, and the
keys A (ask), P (pause answers), arrows/PageDown (scroll).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import (
    chromium,
    csp_violations,
    new_session_in_page,
    poll,
    register_in_page,
    silence_wav,
    watch_csp,
    word_recall,
)
from conftest import ROOT, Stack
from playwright.sync_api import Browser, Page
from test_room_roles_browser import REFERENCE, speaking_page  # the same spoken question

ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1366, "height": 900}
CONNECT_S = 90
CAPTION_S = 300
AI_S = 180

# In the popout: every change of the answer, as {len, done}, from a MutationObserver (each data-channel
# message is its own task, so each delta is seen).
RECORD_ANSWER_JS = r"""
() => {
  window.__answerLog = [];
  const box = document.querySelector('#pop-answer');
  const note = () => {
    const a = box.querySelector('.answer');
    if (a) window.__answerLog.push({ len: a.textContent.length, done: a.dataset.done });
  };
  new MutationObserver(note).observe(box, { childList: true, subtree: true, characterData: true });
  return true;
}
"""

POPOUT_STATE_JS = r"""
() => ({
  captions: [...document.querySelectorAll('#pop-captions .caption')].map((n) => ({
    role: n.dataset.role, final: n.dataset.final, text: n.querySelector('.text')?.textContent || '' })),
  question: document.querySelector('#pop-question')?.textContent || '',
  answer: document.querySelector('#pop-answer .answer')?.textContent || '',
  done: document.querySelector('#pop-answer .answer')?.dataset.done || null,
  log: window.__answerLog || [],
  clock: document.querySelector('#pop-clock')?.textContent,
  conn: document.querySelector('#pop-conn')?.dataset.state,
})
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    quiet = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")
    with chromium(quiet, "--autoplay-policy=no-user-gesture-required") as b:
        yield b


class Call:
    def __init__(self, stack: Stack, page: Page) -> None:
        self.stack = stack
        self.page = page
        self.errors: list[str] = []
        self.console: list[str] = []

    def wait(self, what: str, probe: Any, timeout_s: float, every_ms: int = 500, page: Page | None = None) -> Any:
        on = page or self.page

        def why() -> str:
            logs = "\n".join(
                f"--- {n} ---\n" + "\n".join(self.stack.log_of(n).splitlines()[-15:]) for n in ("media", "stt", "llm")
            )
            return f"timed out waiting for {what}; errors={self.errors}\n{logs}"

        return poll(on, probe, timeout_s, every_ms, why)


@pytest.fixture(scope="module")
def call(stack: Stack, browser: Browser) -> Iterator[Call]:
    with speaking_page(stack, browser, DESKTOP) as page:
        c = Call(stack, page)
        page.on("pageerror", lambda e: c.errors.append(f"{page.url}: {e}"))
        watch_csp(page, c.console)
        yield c


def test_pop_out_shows_captions_and_the_answer_streaming(call: Call) -> None:
    page = call.page
    email = f"popout-{uuid.uuid4().hex[:10]}@example.com"
    register_in_page(page, call.stack.email_code, "Pat Popout", email)
    new_session_in_page(page, "Floating window")
    page.wait_for_function("() => document.querySelector('#room-title').textContent === 'Floating window'")
    page.select_option("#mic-role", "interviewer")
    page.click("#mic-btn")
    page.wait_for_selector("#mic-btn[aria-pressed=true]")
    page.click("#start-btn")
    call.wait("the room to be live", lambda: page.get_attribute("#conn-state", "data-state") == "live", CONNECT_S)

    # Pop out: Document Picture-in-Picture where the browser has it, else a popup
    with page.context.expect_page() as opened:
        page.click("#popout-btn")
    pop = opened.value
    pop.set_default_timeout(30_000)
    pop_console: list[str] = []
    pop.on(
        "console",
        lambda m: (
            pop_console.append(m.text) if "Content Security Policy" in m.text or m.text.startswith("Refused") else None
        ),
    )
    pop.wait_for_selector("#pop-answer")
    kind = page.evaluate("() => roomPopout.kind")
    assert kind in ("pip", "popup"), kind
    # which one opened: Chromium offers Document PiP to secure contexts (127.0.0.1 is one), headless too
    assert kind == ("pip" if page.evaluate("() => 'documentPictureInPicture' in window") else "popup")
    assert page.evaluate("() => roomPopout.isOpen()") is True
    assert page.get_attribute("#popout-btn", "aria-pressed") == "true"
    assert pop.text_content("#pop-question") == "Waiting for a question…"
    pop.wait_for_function("() => getComputedStyle(document.body).display === 'flex'")  # the site's stylesheet applies
    pop.evaluate(RECORD_ANSWER_JS)

    # from now on the main tab's timers do nothing: the window follows the data channel's messages alone
    page.evaluate(
        "() => { window.setTimeout = () => 0; window.setInterval = () => 0; window.requestAnimationFrame = () => 0; }"
    )
    page.evaluate("() => window.__speak('/__test/question.wav')")

    def popout_caption() -> dict[str, Any] | None:
        st = pop.evaluate(POPOUT_STATE_JS)
        # the final caption (partial words, on by default, may reach the same words first and are replaced by it)
        got = [
            c
            for c in st["captions"]
            if c["role"] == "interviewer" and c["final"] == "true" and word_recall(REFERENCE, c["text"]) >= 0.6
        ]
        return got[-1] if got else None

    call.wait(f"the final caption of {REFERENCE!r} in the window", popout_caption, CAPTION_S, 1000, page=pop)

    def answered() -> dict[str, Any] | None:
        st = pop.evaluate(POPOUT_STATE_JS)
        return st if st["done"] == "true" and len(st["answer"]) > 20 else None

    st = call.wait("the answer in the window", answered, AI_S, 500, page=pop)
    assert word_recall(REFERENCE, st["question"]) >= 0.6, st
    streaming = sorted({e["len"] for e in st["log"] if e["done"] == "false" and e["len"] > 0})
    assert len(streaming) >= 2, st["log"]  # it grew while streaming, before the final text
    assert st["answer"] == page.text_content("#questions .question:last-child .answer")
    assert st["conn"] == "live"
    clock_before = st["clock"]
    pop.wait_for_function(
        "(c) => document.querySelector('#pop-clock').textContent !== c", arg=clock_before
    )  # its own timer
    pop.screenshot(path=str(ARTIFACTS / "popout-answer.png"))

    # text size and opacity
    size = pop.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#pop-answer')).fontSize)")
    pop.click("#pop-font-up")
    pop.click("#pop-font-up")
    bigger = pop.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#pop-answer')).fontSize)")
    assert bigger > size, (size, bigger)
    pop.fill("#pop-opacity", "60")
    pop.dispatch_event("#pop-opacity", "input")
    assert pop.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgba(255, 255, 255, 0.6)"

    # keys: P pauses the answer (new text waits), P again shows it; A asks; arrows scroll
    pop.click("#pop-question")  # focus in the window, not in a control
    pop.keyboard.press("p")
    assert pop.get_attribute("#pop-pause", "aria-pressed") == "true"
    frozen = pop.text_content("#pop-answer")
    page.evaluate(
        "() => { roomEvents.apply({type: 'question', id: 'typed-1', text: 'What is your biggest weakness?'});"
        " roomEvents.apply({type: 'answer.delta', question_id: 'typed-1', delta: 'Line of a long answer. '.repeat(120)}); }"
    )
    assert pop.text_content("#pop-answer") == frozen
    assert pop.is_visible("#pop-paused") and "waiting" in pop.text_content("#pop-paused")
    pop.keyboard.press("p")
    assert pop.get_attribute("#pop-pause", "aria-pressed") == "false" and pop.is_hidden("#pop-paused")
    assert pop.text_content("#pop-question") == "What is your biggest weakness?"
    assert pop.text_content("#pop-answer").startswith("Line of a long answer.")
    top = pop.evaluate("() => document.querySelector('#pop-answer').scrollTop")
    pop.keyboard.press("Home")
    assert pop.evaluate("() => document.querySelector('#pop-answer').scrollTop") < top or top == 0
    pop.keyboard.press("PageDown")
    assert pop.evaluate("() => document.querySelector('#pop-answer').scrollTop") > 0
    pop.keyboard.press("a")
    assert pop.text_content("#pop-status") == "Asked the AI to answer the latest question…"
    pop.screenshot(path=str(ARTIFACTS / "popout-controls.png"))

    # closing the window is noticed; Pop out opens it again
    pop.close()
    call.wait("the room to notice the closed window", lambda: page.evaluate("() => !roomPopout.isOpen()"), 10)
    assert page.get_attribute("#popout-btn", "aria-pressed") == "false"
    assert pop_console == [], pop_console
    assert csp_violations(page) == [] and call.console == [], (csp_violations(page), call.console)
    assert call.errors == []
