"""The live room for someone trying it alone, in headless Chromium against the whole stack: the choice of
who speaks into the microphone (explained before Start, changeable while live), the "Is this the
interviewer?" offer when a question is captioned as "You", and "End session" asking first and standing
apart on a phone.

The microphone is the page's own WebAudio graph (getUserMedia is replaced by an init script) so the test
decides when the recorded question is spoken: once with the default role, once after switching. The WAV
is handed to the page by Playwright's router (no network). The tests run in file order on one page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    word_recall,
)
from conftest import FIXTURES, ROOT, Stack
from playwright.sync_api import Browser, Page

SPOKEN = "q_process_thread.wav"
REFERENCE = json.loads((FIXTURES / "references.json").read_text())[SPOKEN]["text"]
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
CONNECT_S = 90
CAPTION_S = 300
AI_S = 180
MIN_GAP_PX = 24

# getUserMedia({audio}) answers with a track of one AudioContext's graph; window.__speak(url) plays a WAV
# into it once (the page's microphone meter and the call hear it like a real voice).
SYNTH_MIC_JS = r"""
(() => {
  const md = navigator.mediaDevices;
  const real = md.getUserMedia.bind(md);
  let ctx = null, dest = null;
  md.getUserMedia = async (c) => {
    if (!c || !c.audio || c.video) return real(c);
    ctx = ctx || new AudioContext();
    await ctx.resume();
    if (!dest) {
      dest = ctx.createMediaStreamDestination();
      // a destination with nothing playing sends no samples at all: keep silence flowing, like a real mic
      const hush = ctx.createConstantSource();
      hush.offset.value = 0;
      hush.connect(dest);
      hush.start();
    }
    return dest.stream;
  };
  window.__micState = () => ({ ctx: ctx?.state, time: ctx?.currentTime });
  window.__speak = async (url) => {
    const data = await (await fetch(url)).arrayBuffer();
    const buf = await ctx.decodeAudioData(data);
    const src = ctx.createBufferSource();
    src.buffer = buf;
    src.connect(dest);
    src.start();
    return buf.duration;
  };
})();
"""

CAPTIONS_JS = """() => [...document.querySelectorAll('#captions .caption')].map((n) => ({
  id: n.dataset.id, role: n.dataset.role, final: n.dataset.final,
  who: n.querySelector('.role, .who, .speaker')?.textContent || '',
  text: n.querySelector('.text').textContent,
  question: n.classList.contains('is-question') ? n.dataset.questionId : null,
}))"""

STATE_JS = """() => ({
  conn: document.querySelector('#conn-state')?.dataset.state,
  micRole: document.querySelector('#mic-role')?.value,
  hint: !document.querySelector('#role-hint').hidden,
  msg: document.querySelector('#mic-msg')?.textContent,
  meter: document.querySelector('#mic-meter')?.value,
  mic: window.__micState?.(),
  captions: [...document.querySelectorAll('#captions .caption')].map((n) => `${n.dataset.role}: ${n.textContent.trim()}`),
})"""


class Room:
    def __init__(self, stack: Stack, page: Page) -> None:
        self.stack = stack
        self.page = page
        self.errors: list[str] = []
        self.console: list[str] = []
        self.session_id = ""

    def diagnose(self, what: str) -> str:
        logs = "\n".join(
            f"--- {n}.log ---\n" + "\n".join(self.stack.log_of(n).splitlines()[-20:]) for n in ("media", "stt", "llm")
        )
        return f"{what}\npage: {json.dumps(self.page.evaluate(STATE_JS), indent=1)}\nerrors: {self.errors}\n{logs}"

    def wait(self, what: str, probe: Any, timeout_s: float, every_ms: int = 500) -> Any:
        return poll(self.page, probe, timeout_s, every_ms, lambda: self.diagnose(f"timed out waiting for {what}"))

    def shoot(self, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 5_000
        return path

    def speak(self) -> None:
        self.page.evaluate("() => window.__speak('/__test/question.wav')")

    def spoken_caption(self, role: str) -> dict[str, Any] | None:
        caps = self.page.evaluate(CAPTIONS_JS)
        got = [
            c for c in caps if c["role"] == role and c["final"] == "true" and word_recall(REFERENCE, c["text"]) >= 0.6
        ]
        return got[-1] if got else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    quiet = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")
    with chromium(quiet, "--autoplay-policy=no-user-gesture-required") as b:
        yield b


@contextmanager
def speaking_page(stack: Stack, browser: Browser, viewport: dict[str, int]) -> Iterator[Page]:
    """A page on ``stack`` whose synthetic microphone can play the spoken question (``/__test/question.wav``,
    handed over by Playwright's router), closed with its context."""
    ctx = browser.new_context(base_url=stack.base_url, viewport=viewport)
    ctx.add_init_script(SYNTH_MIC_JS)
    wav = (FIXTURES / SPOKEN).read_bytes()
    ctx.route("**/__test/question.wav", lambda route: route.fulfill(status=200, body=wav, content_type="audio/wav"))
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def room(stack: Stack, browser: Browser) -> Iterator[Room]:
    with speaking_page(stack, browser, DESKTOP) as page:
        r = Room(stack, page)
        page.on("pageerror", lambda e: r.errors.append(f"{page.url}: {e}"))
        watch_csp(page, r.console)
        yield r


def test_who_speaks_is_explained_before_start(room: Room) -> None:
    page = room.page
    email = f"alone-{uuid.uuid4().hex[:10]}@example.com"
    register_in_page(page, room.stack.email_code, "Alex Alone", email)
    room.session_id = new_session_in_page(page, "Trying it alone")
    page.wait_for_function("() => document.querySelector('#room-title').textContent === 'Trying it alone'")

    # the choice, in words, with a one-line explanation tied to it
    label = page.inner_text("label[for=mic-role]")
    assert label == "Who speaks into this microphone?"
    options = page.locator("#mic-role option").all_inner_texts()
    assert options == ["Me, the candidate", "The interviewer (trying the room alone)"], options
    assert page.get_attribute("#mic-role", "aria-describedby") == "mic-role-hint"
    hint = page.inner_text("#mic-role-hint")
    assert "Trying the room alone" in hint and "while live" in hint, hint
    assert page.is_visible("#mic-role-hint")
    room.shoot("room-roles-before-start")

    # the user leaves the default and starts
    page.click("#mic-btn")
    page.wait_for_selector("#mic-btn[aria-pressed=true]")
    assert page.input_value("#mic-role") == "candidate"
    page.click("#start-btn")
    room.wait("the room to be live", lambda: page.get_attribute("#conn-state", "data-state") == "live", CONNECT_S)
    # live: the choice is still there and can be changed
    assert page.is_visible("#mic-role") and page.is_enabled("#mic-role")
    assert room.errors == []


def test_end_session_asks_first_and_stands_apart(room: Room) -> None:
    page = room.page
    page.click("#end-btn")
    page.wait_for_selector("#end-dialog[open]")
    text = page.inner_text("#end-dialog")
    assert "cannot be resumed" in text, text
    assert page.evaluate("() => document.activeElement.id") == "end-cancel"
    room.shoot("room-end-confirm", full_page=False)
    page.click("#end-cancel")
    page.wait_for_selector("#end-dialog", state="detached")
    page.click("#end-btn")
    page.keyboard.press("Escape")
    page.wait_for_selector("#end-dialog", state="detached")
    page.wait_for_timeout(1000)
    assert page.get_attribute("#conn-state", "data-state") == "live"
    assert page.is_visible("#end-btn")

    from test_newuser_pages import NEAREST_CONTROL_JS

    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(300)
        page.evaluate("() => window.scrollTo(0, 0)")
        near = page.evaluate(NEAREST_CONTROL_JS, "#end-btn")
        assert near["gap"] >= MIN_GAP_PX, near
        room.shoot("room-live-375", full_page=False)
        assert page_a11y_problems(page, "room") == []
    finally:
        page.set_viewport_size(DESKTOP)


def test_a_question_captioned_as_you_offers_the_switch(room: Room) -> None:
    page = room.page
    assert page.is_hidden("#role-hint")
    room.speak()
    cap = room.wait(f"a 'You' caption of {REFERENCE!r}", lambda: room.spoken_caption("candidate"), CAPTION_S, 1000)
    assert cap["text"].rstrip().endswith("?"), cap
    room.wait("the 'Is this the interviewer?' offer", lambda: page.is_visible("#role-hint"), 10)
    assert "Is this the interviewer?" in page.inner_text("#role-hint")
    assert page.locator("#questions .question").count() == 0  # nothing was asked: no answer either
    room.shoot("room-role-hint")


def test_switching_live_makes_the_next_question_the_interviewers(room: Room) -> None:
    page = room.page
    offers_before = room.stack.log_of("media").count("re-offer replaces")
    page.click("#role-hint-switch")
    assert page.is_hidden("#role-hint")
    assert page.input_value("#mic-role") == "interviewer"
    room.wait(
        "the switch to be confirmed",
        lambda: (page.text_content("#mic-msg") or "").startswith("Now captioned as the interviewer"),
        CONNECT_S,
    )
    room.wait("the room to be live again", lambda: page.get_attribute("#conn-state", "data-state") == "live", CONNECT_S)
    room.wait(
        "the media node to take the new offer",
        lambda: room.stack.log_of("media").count("re-offer replaces") > offers_before,
        30,
    )

    room.speak()
    cap = room.wait(
        f"an interviewer caption of {REFERENCE!r}", lambda: room.spoken_caption("interviewer"), CAPTION_S, 1000
    )
    qid = room.wait(
        "the caption to be marked as a question",
        lambda: (c := room.spoken_caption("interviewer")) and c["question"],
        AI_S,
    )
    assert cap["id"]
    room.wait(
        "the answer to the question",
        lambda: page.evaluate(
            "(q) => { const a = [...document.querySelectorAll('#questions .answer')].find((n) => n.dataset.questionId === q);"
            " return a && a.dataset.done === 'true' && a.textContent.trim().length > 20; }",
            qid,
        ),
        AI_S,
    )
    assert page.is_hidden("#role-hint")
    room.shoot("room-after-switch")
    assert room.errors == []


def test_end_session_after_confirming(room: Room) -> None:
    page = room.page
    page.click("#end-btn")
    page.click("#end-confirm")
    room.wait("the room to show ended", lambda: page.get_attribute("#conn-state", "data-state") == "ended", 60)
    st = page.evaluate(
        "async (id) => (await fetch(`/api/sessions/${id}`, {credentials: 'same-origin'})).json()", room.session_id
    )
    assert st["status"] == "ended" or st.get("ended_at"), st
    assert csp_violations(page) == [] and room.console == [], (csp_violations(page), room.console)
    assert room.errors == []
