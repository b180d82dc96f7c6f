"""Words on screen while they are spoken, in headless Chromium against the whole stack (partial
captions are on by default): a long utterance shows greyed partial words in its caption while it
runs, they only grow, and the final text replaces them in the same element without moving it.

The microphone is the page's own WebAudio graph (as in test_room_roles_browser.py); a
MutationObserver records every state of the caption while it changes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import (
    chromium,
    new_session_in_page,
    poll,
    register_in_page,
    silence_wav,
    word_recall,
)
from conftest import FIXTURES, ROOT, Stack
from playwright.sync_api import Page
from test_room_roles_browser import SYNTH_MIC_JS

SPOKEN = "c_rare_names.wav"
REFERENCE = json.loads((FIXTURES / "references.json").read_text())[SPOKEN]["text"]
ARTIFACTS = ROOT / "test-artifacts"
CONNECT_S = 90
CAPTION_S = 300

# every state a caption goes through: the element (a number stamped on it), final flag, text, colour, position
RECORD_JS = r"""
(() => {
  window.__capLog = [];
  let next = 1;
  const box = document.querySelector('#captions');
  const snap = () => {
    for (const n of box.querySelectorAll('.caption')) {
      if (!n.__k) n.__k = next++;
      const t = n.querySelector('.text');
      const r = t.getClientRects()[0] || t.getBoundingClientRect();  // the first line: where the text starts
      const b = box.getBoundingClientRect();  // position in the scrolled content, not on screen
      const last = window.__capLog.filter((e) => e.k === n.__k).at(-1);
      const e = { k: n.__k, id: n.dataset.id, final: n.dataset.final, text: t.textContent,
        color: getComputedStyle(t).color, font: getComputedStyle(t).fontStyle, at: performance.now(), x: Math.round(r.left - b.left), y: Math.round(r.top - b.top + box.scrollTop) };
      if (!last || last.final !== e.final || last.text !== e.text) window.__capLog.push(e);
    }
  };
  new MutationObserver(snap).observe(box, { subtree: true, childList: true, characterData: true, attributes: true });
})();
"""


@pytest.fixture(scope="module")
def page(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    quiet = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")
    with chromium(quiet, "--autoplay-policy=no-user-gesture-required") as b:
        ctx = b.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 900})
        ctx.add_init_script(SYNTH_MIC_JS)
        wav = (FIXTURES / SPOKEN).read_bytes()
        ctx.route("**/__test/speech.wav", lambda route: route.fulfill(status=200, body=wav, content_type="audio/wav"))
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        try:
            yield pg
        finally:
            ctx.close()


def test_partial_words_show_greyed_and_the_final_replaces_them_in_place(stack: Stack, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    email = f"partials-{uuid.uuid4().hex[:10]}@example.com"
    register_in_page(page, stack.email_code, "Pat Partial", email)
    new_session_in_page(page, "Words while spoken")
    page.click("#mic-btn")
    page.wait_for_selector("#mic-btn[aria-pressed=true]")
    page.click("#start-btn")
    poll(page, lambda: page.get_attribute("#conn-state", "data-state") == "live", CONNECT_S, 500, lambda: "not live")
    page.evaluate(RECORD_JS)
    started = page.evaluate("() => performance.now()")
    seconds = page.evaluate("() => window.__speak('/__test/speech.wav')")

    def final_caption() -> dict[str, Any] | None:
        log = page.evaluate("() => window.__capLog")
        done = [e for e in log if e["final"] == "true" and word_recall(REFERENCE, e["text"]) >= 0.4]
        return done[-1] if done else None

    poll(
        page,
        lambda: page.evaluate("() => window.__capLog.filter((e) => e.final === 'false' && e.text).length >= 2"),
        CAPTION_S,
        200,
        lambda: json.dumps(page.evaluate("() => window.__capLog"))[-3000:],
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "room-partials-while-speaking.png"))
    final = poll(
        page, final_caption, CAPTION_S, 1000, lambda: json.dumps(page.evaluate("() => window.__capLog"))[-3000:]
    )
    log: list[dict[str, Any]] = page.evaluate("() => window.__capLog")
    page.screenshot(path=str(ARTIFACTS / "room-partials-final.png"))
    mine = [e for e in log if e["id"] == final["id"]]
    partials = [e for e in mine if e["final"] == "false" and e["text"].strip()]
    # words were on screen while the utterance was still being spoken, and more of them as it went on
    assert len(partials) >= 2, mine
    assert partials[0]["at"] < started + seconds * 1000, (partials[0], started, seconds)
    assert {e["k"] for e in mine} == {final["k"]}  # one element, replaced in place
    assert page.locator(f"#captions .caption[data-id='{final['id']}']").count() == 1
    texts = [e["text"] for e in partials]
    for a, b in zip(texts, texts[1:], strict=False):
        assert b.startswith(a), (a, b)  # partial words only grow
    grey, black = partials[-1]["color"], final["color"]
    assert grey != black, (grey, black)  # partial words are greyed, the final is not
    assert {e["font"] for e in mine} == {"normal"}  # same glyphs (no italics): the final does not reflow them
    assert grey == page.evaluate(
        "() => { const p = document.createElement('p'); p.className = 'muted'; document.body.append(p);"
        " const c = getComputedStyle(p).color; p.remove(); return c; }"
    )
    assert (partials[-1]["x"], partials[-1]["y"]) == (final["x"], final["y"])  # the text did not move
    assert errors == []
