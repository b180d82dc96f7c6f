"""Helpers for the real-browser tests: the fake-microphone WAV, Chromium's flags, page checks.

Kept apart from tests/test_browser.py so the checks (accessible names, horizontal overflow) read as
plain functions and can be reused by other browser tests.
"""

from __future__ import annotations

import json
import re
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"


def speech_wav(source: Path, out: Path, lead_s: float, trail_s: float) -> Path:
    """The source speech with silence around it, in the source's own format.

    Chromium's fake capture resamples any rate itself (checked: a 16 kHz file plays at the right
    speed and level), so the fixture's samples are kept untouched. Leading silence gives the room
    time to connect before the question starts; the file is played once (``%noloop``).
    """
    with wave.open(str(source)) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert width == 2, f"{source} is not 16-bit PCM"

    def silence(s: float) -> np.ndarray:
        return np.zeros(int(s * rate) * channels, dtype=np.int16)

    with wave.open(str(out), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.concatenate([silence(lead_s), pcm, silence(trail_s)]).tobytes())
    return out


def chromium_args(fake_audio: Path) -> list[str]:
    """Flags for a headless Chromium that talks to 127.0.0.1 only and has a fake microphone."""
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_audio}%noloop",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]


@contextmanager
def chromium(fake_audio: Path, *extra_args: str) -> Iterator[Browser]:
    """Headless Debian Chromium whose fake microphone plays ``fake_audio`` (loopback-only flags, then ``extra_args``)."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*chromium_args(fake_audio), *extra_args])
        try:
            yield b
        finally:
            b.close()


def confirm_registration(page: Page, code: str) -> None:
    """After "Create account": the sign-in page asks for the code e-mailed to confirm the address; enter it."""
    page.wait_for_selector("#code-verify-form:not([hidden])")
    page.fill("#code-code", code)
    page.click("#code-verify-form [type=submit]")


def register_in_page(
    page: Page, email_code: Callable[[str], str], name: str, email: str, password: str = "correct horse battery staple"
) -> None:
    """Create an account through the sign-in page, confirm the code e-mailed to ``email`` (``email_code``,
    e.g. ``stack.email_code``) and land on the sessions list."""
    page.goto("/index.html#register")
    page.fill("#reg-name", name)
    page.fill("#reg-email", email)
    page.fill("#reg-password", password)
    page.click("[data-testid=register-submit]")
    confirm_registration(page, email_code(email))
    page.wait_for_url("**/sessions.html*")


def new_session_in_page(
    page: Page, title: str, mode: str = "assistant", listen: str | None = "en", answer: str | None = "en"
) -> str:
    """From the sessions list: create a session ``title`` of ``mode`` (languages left as the form has them where
    ``None``), land in its room and return the session id from the room's address."""
    page.click("#new-link")
    page.fill("#s-title", title)
    page.select_option("#s-mode", mode)
    if listen is not None:
        page.select_option("#s-listen", listen)
    if answer is not None:
        page.select_option("#s-answer", answer)
    page.click("#create-btn")
    page.wait_for_url("**/room.html?id=*")
    m = re.search(r"[?&]id=([^&#]+)", page.url)
    assert m, page.url
    return m.group(1)


def silence_wav(out: Path, seconds: float = 1.0) -> Path:
    """A quiet microphone for pages that record nothing."""
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * int(16000 * seconds))
    return out


def failure_report(
    page: Page,
    what: str,
    *,
    state_js: str,
    shot: Path,
    errors: list[str],
    log_of: Callable[[str], str],
    parts: tuple[str, ...] = ("signaling", "media", "stt", "llm"),
) -> str:
    """A failure message: what the page shows (``state_js``), a screenshot, and each process' log tail."""
    shot.parent.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(shot), full_page=True)
        state: Any = page.evaluate(state_js)
    except Exception as e:  # noqa: BLE001 - diagnostics must not hide the real failure
        state = {"page": repr(e)}
    logs = "\n".join(f"--- {name}.log (tail) ---\n" + "\n".join(log_of(name).splitlines()[-25:]) for name in parts)
    return f"{what}\npage: {json.dumps(state, indent=1)}\nscreenshot: {shot}\nuncaught page errors: {errors}\n{logs}"


def poll(page: Page, probe: Callable[[], Any], timeout_s: float, every_ms: int, on_timeout: Callable[[], str]) -> Any:
    """``probe`` until it returns something truthy (bounded); the assertion message from ``on_timeout``."""
    for _ in range(int(timeout_s * 1000 / every_ms)):
        got = probe()
        if got:
            return got
        page.wait_for_timeout(every_ms)
    got = probe()
    assert got, on_timeout()
    return got


def norm_words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def word_recall(reference: str, heard: str) -> float:
    """Share of the reference's words that were heard (order ignored): a tolerant caption check."""
    ref = norm_words(reference)
    got = set(norm_words(heard))
    return sum(w in got for w in ref) / max(1, len(ref))


# Controls without an accessible name ({checked, bad}): label (for= or wrapping), aria-label(ledby), title, or for
# buttons their text/value. A placeholder is not a name. Controls inside hidden sections are checked
# too: they are shown at some point (mock fields, the code form) and need a name then; a control that
# is itself `hidden` (e.g. the username field a password-change form carries for password managers)
# is never shown.
UNNAMED_CONTROLS_JS = r"""
() => {
  const text = (n) => (n?.textContent || '').replace(/\s+/g, ' ').trim();
  const nameOf = (el) => {
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const t = by.split(/\s+/).map((id) => text(document.getElementById(id))).join(' ').trim();
      if (t) return t;
    }
    const aria = (el.getAttribute('aria-label') || '').trim();
    if (aria) return aria;
    const labels = [...(el.labels || [])].map(text).join(' ').trim();
    if (labels) return labels;
    if (el.tagName === 'BUTTON') {
      const t = text(el);
      if (t) return t;
    }
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type) && el.value.trim()) return el.value.trim();
    if (el.tagName === 'INPUT' && el.type === 'image' && el.alt.trim()) return el.alt.trim();
    return (el.getAttribute('title') || '').trim();
  };
  const bad = [];
  let checked = 0;
  for (const el of document.querySelectorAll('input, select, textarea, button')) {
    if (el.type === 'hidden' || el.hidden) continue; // hidden by itself: never shown, not in the accessibility tree
    checked += 1;
    if (!nameOf(el)) bad.push(el.outerHTML.slice(0, 160));
  }
  return { checked, bad };
}
"""

# Horizontal overflow of the page, with the elements that stick out past the viewport's right edge.
OVERFLOW_JS = r"""
() => {
  const doc = document.documentElement;
  const width = doc.clientWidth;
  const wide = [];
  if (doc.scrollWidth > width) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width && r.right > width + 1) wide.push(`${el.tagName.toLowerCase()}#${el.id}.${[...el.classList].join('.')} right=${Math.round(r.right)}`);
      if (wide.length >= 8) break;
    }
  }
  return { scrollWidth: doc.scrollWidth, clientWidth: width, wide };
}
"""

PHONE = {"width": 375, "height": 812}


def page_a11y_problems(page: Page, name: str) -> list[str]:
    """At the page's current (phone) width: controls without an accessible name, links without text, and
    sideways scrolling. Empty when the page passes; ``checked`` controls must be more than zero."""
    problems: list[str] = []
    names = page.evaluate(UNNAMED_CONTROLS_JS)
    if names["checked"] == 0:
        problems.append(f"{name}: no controls found (page not loaded?)")
    if names["bad"]:
        problems.append(f"{name}: controls without an accessible name: {names['bad']}")
    links = page.evaluate(UNNAMED_LINKS_JS)
    if links:
        problems.append(f"{name}: links without an accessible name: {links}")
    overflow = page.evaluate(OVERFLOW_JS)
    if overflow["scrollWidth"] > overflow["clientWidth"]:
        problems.append(f"{name} scrolls sideways at {overflow['clientWidth']} px: {overflow}")
    return problems


# Links (a[href]) with no accessible name: text, aria-label(ledby), title or an image's alt.
UNNAMED_LINKS_JS = r"""
() => [...document.querySelectorAll('a[href]')].filter((a) => !a.hidden).filter((a) => {
  const by = (a.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent || '').join('').trim();
  const imgs = [...a.querySelectorAll('img[alt]')].map((i) => i.alt).join('').trim();
  return !(by || (a.getAttribute('aria-label') || '').trim() || a.textContent.trim() || imgs || (a.getAttribute('title') || '').trim());
}).map((a) => a.outerHTML.slice(0, 160))
"""


# The level of the audio the page receives from the server (e.g. the mock interviewer's voice), measured
# with a WebAudio AnalyserNode on the MediaStream a media element plays. Installed once the element has
# its stream; every 50 ms it logs {t: performance.now(), rms} into window.__remoteLevels. Returns the
# AudioContext's state ("running" when it measures), or null while the element has no audio yet.
REMOTE_LEVEL_JS = r"""
(selector) => {
  if (window.__remoteLevels) return window.__remoteLevels.ctx.state;
  const stream = document.querySelector(selector)?.srcObject;
  if (!stream || !stream.getAudioTracks().length) return null;
  const ctx = new AudioContext();
  ctx.resume().catch(() => {});
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const log = [];
  window.__remoteLevels = { ctx, log };
  setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    log.push({ t: performance.now(), rms: Math.sqrt(sum / buf.length) });
  }, 50);
  return ctx.state;
}
"""

# {voiced, quiet_ms, now, samples} of the received audio between ``since`` and ``until`` (performance.now()
# ms; ``until`` null: now): how many 50 ms samples were above ``threshold`` RMS, and for how long it has
# been below it up to now.
REMOTE_VOICED_JS = r"""
([since, threshold, until]) => {
  const log = window.__remoteLevels?.log || [];
  const now = performance.now();
  let voiced = 0;
  let lastVoice = since;
  for (const e of log) {
    if (e.t < since || (until !== null && until !== undefined && e.t > until)) continue;
    if (e.rms > threshold) { voiced += 1; lastVoice = e.t; }
  }
  return { voiced, quiet_ms: now - lastVoice, now, samples: log.length };
}
"""


# Content-Security-Policy: every violation a page reports (inline script, style attribute, a frame the
# policy does not allow ...), through the DOM event and Chromium's console line ("Refused to ...").
_CSP_WATCH_JS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked=${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def watch_csp(page: Page, sink: list[str]) -> None:
    """Collect ``page``'s CSP violations: console lines into ``sink`` now, DOM events via ``csp_violations``."""
    page.add_init_script(_CSP_WATCH_JS)

    def on_console(msg: Any) -> None:
        if "Content Security Policy" in msg.text or msg.text.startswith("Refused to"):
            sink.append(f"{page.url}: {msg.text}")

    page.on("console", on_console)


def csp_violations(page: Page) -> list[str]:
    """The violations the current document reported so far."""
    return list(page.evaluate("() => window.__cspViolations || []"))
