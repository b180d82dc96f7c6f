""""Read my screen" in the live room (issue 19), in headless Chromium against the session stack.

The stack's llm worker has no model, so the room must say plainly that reading the screen needs
one. The shared screen is the page's own canvas (getDisplayMedia is replaced by an init script:
headless Chromium has no screen picker), drawn at 1920x1080 so the downscale to 1280 px shows.
The frame travels once, in the POST; "Keep the image" is the user's own copy.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import PHONE, chromium, page_a11y_problems, silence_wav
from conftest import Stack
from PIL import Image
from playwright.sync_api import Browser, Page

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

# getDisplayMedia({video}) answers with a 1920x1080 canvas showing a coding task
FAKE_SCREEN_JS = r"""
(() => {
  const md = navigator.mediaDevices;
  md.getDisplayMedia = async () => {
    const c = document.createElement('canvas');
    c.width = 1920; c.height = 1080;
    const g = c.getContext('2d');
    const draw = () => {
      g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height);
      g.fillStyle = '#000'; g.font = '48px monospace';
      g.fillText('def two_sum(nums, target):  # return the indices', 60, 120);
    };
    draw();
    setInterval(draw, 100);
    window.__screenStream = c.captureStream(10);
    return window.__screenStream;
  };
})();
"""


def _api(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    res = page.request.fetch(path, method=method, data=body, headers={"Sec-Fetch-Site": "same-origin"})
    assert res.ok, (path, res.status, res.text())
    return res.json()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav", seconds=5.0)
    with chromium(mic) as b:
        yield b


def test_read_my_screen_without_a_model_says_it_needs_one(stack: Stack, browser: Browser) -> None:
    ctx = browser.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 900})
    ctx.add_init_script(FAKE_SCREEN_JS)
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.set_default_timeout(90_000)
        page.on("pageerror", lambda e: errors.append(str(e)))
        addr = f"screen-{uuid.uuid4().hex[:10]}@example.com"
        _api(page, "POST", "/api/auth/register", {"email": addr, "password": "correct horse battery"})
        _api(page, "POST", "/api/auth/verify-code", {"email": addr, "code": stack.email_code(addr)})
        s = _api(page, "POST", "/api/sessions", {"title": "Screen", "listen_language": "en", "answer_language": "en"})
        page.goto(f"/room.html?id={s['id']}")
        page.click("#mic-btn")
        page.wait_for_selector("#mic-btn[aria-pressed=true]")
        page.click("#start-btn")
        page.wait_for_selector("#conn-state[data-state=live]")

        assert page.inner_text("#screen-btn") == "Read my screen"
        page.fill("#screen-q", "How do I solve this?")
        with page.expect_request(lambda r: r.url.endswith("/screen-question") and r.method == "POST") as req:
            page.click("#screen-btn")
        sent = req.value.post_data_json
        assert sent["question"] == "How do I solve this?" and sent["image"].startswith("data:image/jpeg;base64,")
        frame = Image.open(io.BytesIO(base64.b64decode(sent["image"].split(",", 1)[1])))
        assert frame.size == (1280, 720)  # one frame, downscaled from 1920x1080
        assert page.evaluate("() => window.__screenStream.getTracks().every((t) => t.readyState === 'ended')")
        notice = page.locator("#notices li", has_text="needs a vision-capable AI model")
        notice.wait_for()
        assert "none is configured" in (notice.text_content() or "")
        keep = page.locator("#screen-keep")
        assert keep.is_visible() and (keep.get_attribute("href") or "").startswith("data:image/jpeg")
        assert page.locator("#questions .question, #questions [data-question-id]").count() == 0  # nothing answered
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "room-read-my-screen.png"), full_page=True)
        page.set_viewport_size(PHONE)
        assert page_a11y_problems(page, "room with screen question") == []
        assert not errors, errors
    finally:
        ctx.close()
