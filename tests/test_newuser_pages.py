"""What a new user meets, in headless Chromium against a signaling process of its own (no media node:
nothing here needs a call): the landing page, billing and links, the recruiter candidates table, the
room's confirmations and its "who is speaking" choice. Each test reads what the page shows (the DOM),
takes screenshots into test-artifacts/, and checks the page at 375 px (accessible names, no sideways
scrolling) under its Content-Security-Policy.

The browser resolves no name and reaches 127.0.0.1 only.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from browser_helpers import (
    OVERFLOW_JS,
    PHONE,
    UNNAMED_LINKS_JS,
    confirm_registration,
    csp_violations,
    page_a11y_problems,
    watch_csp,
)
from conftest import ROOT, Infra, Stack
from page_fixtures import browser_fixture, site_fixture, visit_fixture
from playwright.sync_api import Browser, BrowserContext, Page
from test_hostile_http import signaling_alone

PASSWORD = "correct horse battery staple"
WAIT_MS = 30_000
DESKTOP = {"width": 1280, "height": 900}
ARTIFACTS = ROOT / "test-artifacts"
ROOM_IMAGE = ROOT / "web_client" / "img" / "room.webp"


site = site_fixture("signaling-newuser")


browser = browser_fixture()


class Visit:
    """One browser context and page, with its CSP violations and uncaught errors collected."""

    def __init__(self, browser: Browser, site: Stack) -> None:
        self.site = site
        self.ctx: BrowserContext = browser.new_context(base_url=site.base_url, viewport=DESKTOP)
        self.page: Page = self.ctx.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"{self.page.url}: {e}"))
        watch_csp(self.page, self.console)

    def sign_up(self, name: str = "New User") -> str:
        """Create an account in the page and confirm its address with the e-mailed code."""
        page = self.page
        email = f"new-{uuid.uuid4().hex[:10]}@example.com"
        page.goto("/index.html#register")
        page.fill("#reg-name", name)
        page.fill("#reg-email", email)
        page.fill("#reg-password", PASSWORD)
        page.click("[data-testid=register-submit]")
        confirm_registration(page, self.site.email_code(email))
        page.wait_for_url("**/sessions.html*")
        return email

    def shoot(self, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.wait_for_timeout(200)
        self.page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 5_000, f"{path} looks empty"
        return path

    def phone_check(self, name: str) -> None:
        """Screenshot at 375 px; controls named, links named, no sideways scrolling."""
        self.page.set_viewport_size(PHONE)
        try:
            self.page.wait_for_timeout(300)
            self.shoot(f"{name}-375")
            assert page_a11y_problems(self.page, name) == []
        finally:
            self.page.set_viewport_size(DESKTOP)

    def clean(self) -> None:
        assert csp_violations(self.page) == [], csp_violations(self.page)
        assert self.console == [], self.console
        assert self.errors == [], self.errors

    def close(self) -> None:
        self.ctx.close()


visit = visit_fixture()


def fetch_json(page: Page, method: str, path: str, body: object = None) -> tuple[int, object]:
    result: list[object] = page.evaluate(
        """async ([method, path, body]) => {
          const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
          if (body !== null) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
          const r = await fetch(path, init);
          const text = await r.text();
          return [r.status, text ? JSON.parse(text) : null];
        }""",
        [method, path, body],
    )
    return result[0], result[1]  # type: ignore[return-value]


# ------------------------------------------------------------------------------ 9. the landing page

# What the room shows during an interview, fed to the page's own dispatcher (window.roomEvents).
ROOM_DEMO = [
    {
        "type": "caption",
        "id": "c1",
        "role": "interviewer",
        "text": "Thanks for joining. Let's start with something technical.",
    },
    {
        "type": "caption",
        "id": "c2",
        "role": "interviewer",
        "text": "What is the difference between a process and a thread?",
    },
    {
        "type": "question",
        "id": "q1",
        "caption_ids": ["c2"],
        "text": "What is the difference between a process and a thread?",
    },
    {
        "type": "answer.done",
        "question_id": "q1",
        "text": "A process is a running program with its own memory space; a thread runs inside a process and "
        "shares its memory with the other threads. Threads are cheaper to start and switch, but need locks "
        "around shared data; processes are isolated, so one crashing does not take the others down.",
    },
    {
        "type": "caption",
        "id": "c3",
        "role": "candidate",
        "text": "Sure. A process has its own address space, while threads share one…",
    },
]


def room_screenshot_webp(visit: Visit) -> bytes:
    """The room with a question, its answer and captions, as a small WebP (what the landing page shows)."""
    from PIL import Image

    page = visit.page
    st, sess = fetch_json(page, "POST", "/api/sessions", {"title": "Backend engineer interview"})
    assert st == 201, sess
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/room.html?id={sess['id']}")  # type: ignore[index]
    page.wait_for_function("() => document.querySelector('#room-title').textContent === 'Backend engineer interview'")
    for m in ROOM_DEMO:
        assert page.evaluate("(m) => roomEvents.apply(m)", m) is True, m
    page.evaluate("() => document.querySelector('#room-grid').scrollIntoView()")
    png = page.locator("#room-grid").screenshot()
    page.set_viewport_size(DESKTOP)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.thumbnail((800, 800))
    out = io.BytesIO()
    img.save(out, "WEBP", quality=70)
    return out.getvalue()


def test_landing_page_says_what_it_does_before_login(visit: Visit) -> None:
    page = visit.page
    page.goto("/")
    page.wait_for_selector("#tab-login")
    page.wait_for_load_state("networkidle")

    # what the product does, the free hours, a screenshot of the room
    features = page.locator("[data-testid=features] .feature h2").all_inner_texts()
    assert features == ["Live interview copilot", "Mock interviews", "Recruiter interviews"], features
    assert "2 hours free" in page.inner_text("[data-testid=free-offer]")
    shot = page.locator(".screenshot img")
    assert shot.get_attribute("alt")
    page.wait_for_function("() => document.querySelector('.screenshot img').complete")
    assert page.evaluate("() => document.querySelector('.screenshot img').naturalWidth") >= 600
    assert ROOM_IMAGE.stat().st_size < 150_000

    # no app menu before login: no nav, no menu button, no links into the signed-in pages
    assert page.locator("#site-nav, .site-nav, .nav-toggle, [data-action=logout]").count() == 0
    header_links = page.locator(".site-header a").evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
    assert not [h for h in header_links if any(p in h for p in ("sessions", "billing", "profile", "recruit"))], (
        header_links
    )

    # the three sign-in tabs on one row, each label on one line, at 375 px too
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)
        boxes = page.locator("[role=tab]").evaluate_all(
            """(ts) => ts.map((t) => { const r = t.getBoundingClientRect(); const range = document.createRange();
                 range.selectNodeContents(t);
                 const lines = new Set([...range.getClientRects()].map((q) => Math.round(q.top))).size;
                 return { text: t.textContent, top: Math.round(r.top), right: Math.round(r.right), lines }; })"""
        )
        assert [b["text"] for b in boxes] == ["Log in", "Create account", "E-mail me a code"]
        assert len({b["top"] for b in boxes}) == 1, (size, boxes)
        assert [b["lines"] for b in boxes] == [1, 1, 1], (size, boxes)
        inside = page.evaluate(
            "() => { const c = document.querySelector('[role=tablist]').closest('.card');"
            " return c.getBoundingClientRect().right - parseFloat(getComputedStyle(c).paddingRight) + 1; }"
        )
        assert max(b["right"] for b in boxes) <= inside, (size, boxes, inside)
    page.set_viewport_size(DESKTOP)
    page.click("#tab-code")
    assert page.is_visible("#code-email")

    visit.shoot("landing-desktop")
    visit.phone_check("landing")
    visit.clean()


def test_landing_page_for_a_signed_in_user_and_the_room_screenshot(visit: Visit) -> None:
    visit.sign_up("Landing Looker")
    page = visit.page
    webp = room_screenshot_webp(visit)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "landing-room.webp").write_bytes(webp)  # web_client/img/room.webp is a copy of one run's
    assert len(webp) < 150_000

    # signed in: the landing page offers to continue (and to log out), still without the app menu
    page.goto("/index.html")
    page.wait_for_selector("#signed-in:not([hidden])")
    assert "Landing Looker" in page.inner_text("#signed-in")
    assert page.get_attribute("#signed-in a", "href") == "sessions.html"
    assert page.locator("#site-nav, .nav-toggle").count() == 0
    with page.expect_navigation():
        page.click("#signed-in [data-action=logout]")
    page.wait_for_load_state("networkidle")
    assert page.is_hidden("#signed-in")
    assert fetch_json(page, "GET", "/api/me")[0] == 401
    visit.clean()


# ------------------------------------------------------------------------------ 10. billing and links


def test_billing_sells_only_what_is_for_sale_and_describes_each_package(visit: Visit) -> None:
    visit.sign_up("Billing Looker")
    page = visit.page
    page.goto("/billing.html")
    page.wait_for_selector("#packages li.package")
    cards = page.locator("#packages li.package").evaluate_all(
        """(ls) => ls.map((li) => ({ id: li.dataset.id, text: li.innerText,
             buttons: [...li.querySelectorAll('button')].map((b) => b.textContent),
             desc: li.querySelector('.package-desc')?.textContent || '' }))"""
    )
    by_id = {c["id"]: c for c in cards}
    assert "free" in by_id and "starter" in by_id, cards
    free = by_id["free"]
    assert free["buttons"] == [], free  # granted on sign-up, not sold: nothing to buy
    assert free["desc"] == "2 hours on sign-up" and "Not for sale" in free["text"] and "$0.00" not in free["text"]
    for c in cards:
        if c["id"] != "free":
            assert len(c["buttons"]) == 1 and c["buttons"][0].startswith("Buy "), c
            assert c["desc"], f"no description: {c}"
    assert by_id["starter"]["desc"] == "5 hours of interviews"
    assert page.is_hidden("#packages-status")
    visit.shoot("billing-packages-desktop")
    visit.phone_check("billing")
    visit.clean()


def test_site_links_only_well_formed_configured_ones() -> None:
    import dataclasses

    from interview_room.config import Config
    from web.accounts.account_routes import site_links

    cfg = Config()
    assert site_links(dataclasses.replace(cfg, source_url="", support_email="")) == {}
    assert site_links(dataclasses.replace(cfg, source_url="javascript:alert(1)", support_email="nobody")) == {}
    assert site_links(
        dataclasses.replace(cfg, source_url="https://git.example.org/ir", support_email="help@example.org")
    ) == {
        "source_url": "https://git.example.org/ir",
        "support_email": "help@example.org",
    }


def test_links_page_serves_the_docs_and_shows_only_configured_links(visit: Visit, infra: Infra) -> None:
    visit.sign_up("Links Looker")
    page = visit.page
    page.goto("/links.html")
    page.wait_for_selector("body[data-links-loaded=true]")
    # nothing configured: no placeholder addresses, the two links hidden
    text = page.inner_text("main")
    assert "placeholder" not in text and "example.com" not in text and "your-org" not in text, text
    assert page.is_hidden("#source-item") and page.is_hidden("#support-item")
    hrefs = page.locator("main a:visible").evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
    assert not [h for h in hrefs if "example.com" in h or "your-org" in h], hrefs
    visit.phone_check("links")
    visit.clean()

    # the documentation link opens an index of the documents, and each opens
    page.click("a[href='/docs/']")
    page.wait_for_url("**/docs/")
    docs = page.locator(".docs-list a").evaluate_all("(as) => as.map((a) => [a.getAttribute('href'), a.textContent])")
    names = [d[0] for d in docs]
    assert {"protocol.md", "internals.md"} <= set(names), docs
    assert all(title and title != href for href, title in docs), docs
    visit.shoot("docs-index-desktop", full_page=True)
    page.set_viewport_size(PHONE)  # no controls on this page: its links named, no sideways scrolling
    page.wait_for_timeout(300)
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow["scrollWidth"] <= overflow["clientWidth"], overflow
    assert page.evaluate(UNNAMED_LINKS_JS) == []
    page.set_viewport_size(DESKTOP)
    assert csp_violations(page) == []
    resp = page.request.get(f"{visit.site.base_url}/docs/protocol.md")
    assert resp.status == 200 and "text/markdown" in resp.headers["content-type"]
    resp = page.request.get(f"{visit.site.base_url}/docs")
    assert resp.status == 200 and resp.url.endswith("/docs/")

    # a server with the links configured shows them (same database: this browser's sign-in works there)
    with signaling_alone(
        infra,
        "signaling-newuser-links",
        SOURCE_URL="https://github.com/acme/interview-room",
        SUPPORT_EMAIL="help@acme.test",
    ) as other:
        page.goto(f"{other.base_url}/links.html")
        page.wait_for_selector("body[data-links-loaded=true]")
        assert page.is_visible("#source-item") and page.is_visible("#support-item")
        assert page.get_attribute("#source-link", "href") == "https://github.com/acme/interview-room"
        assert page.inner_text("#source-link") == "Source code on GitHub"
        assert page.get_attribute("#support-link", "href") == "mailto:help@acme.test"
        assert page.inner_text("#support-link") == "help@acme.test"
        visit.shoot("links-configured-desktop")
        visit.phone_check("links-configured")
    visit.clean()


# ------------------------------------------------------------------------------ 11. recruiter candidates

HEADER_LINES_JS = r"""
() => [...document.querySelectorAll('#candidate-table thead th')].map((th) => {
  const range = document.createRange();
  range.selectNodeContents(th);
  return { text: th.textContent, lines: new Set([...range.getClientRects()].map((q) => Math.round(q.top))).size };
})
"""


def test_candidates_table_headers_whole_words_and_the_link_note_is_true(visit: Visit) -> None:
    visit.sign_up("Rita Recruiter")
    page = visit.page
    st, org = fetch_json(page, "POST", "/api/org", {"name": "Newuser Co"})
    assert st == 201, org
    st, iv = fetch_json(
        page, "POST", "/api/org/interviews", {"title": "Support engineer", "questions": ["Why us?", "A hard bug?"]}
    )
    assert st == 201, iv
    page.goto(f"/recruit/candidates.html?id={iv['id']}")  # type: ignore[index]
    page.wait_for_selector("#view:not([hidden])")

    # invite one with an e-mail address: every action of the row shows (copy, new link, remind, revoke, delete)
    page.fill("#c-name", "Alexandra Longname-Candidate")
    page.fill("#c-email", "alexandra.longname@example.com")
    page.click("#invite-btn")
    page.wait_for_selector("#invite-result:not([hidden])")
    link = page.input_value("#invite-link")
    assert "/c.html#" in link or "/c/" in link, link
    note = page.inner_text("#invite-result").lower()
    assert "not stored" not in note and "shown once" not in note, note
    assert "copy it again" in note, note
    row = page.locator(".candidate-row").first
    row.wait_for()
    shown = row.locator("button:visible").evaluate_all("(bs) => bs.map((b) => b.textContent)")
    assert shown == ["Copy link", "New link", "Send reminder", "Revoke", "Delete"], shown

    # the note is true: the row's "Copy link" gives the same link again later
    page.reload()
    page.wait_for_selector(".candidate-row")
    page.click(".candidate-row .copy-btn")
    page.wait_for_selector("#row-link:not([hidden])")
    assert page.input_value("#row-link-input") == link

    # headers on one line each, whole words, at desktop and tablet widths
    for width in (1280, 1024, 800):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        heads = page.evaluate(HEADER_LINES_JS)
        assert [h["text"] for h in heads] == ["Name", "E-mail", "Status", "Answered", "Decision", "Expires", "Actions"]
        assert [h["lines"] for h in heads] == [1] * 7, (width, heads)
        if width == 1280:
            visit.shoot("candidates-desktop")
    page.set_viewport_size(DESKTOP)
    visit.phone_check("candidates")
    visit.clean()


# ------------------------------------------------------------------------------ 5. confirm what cannot be undone

# The smallest gap (px) between ``selector``'s box and any other visible control or link on the page.
NEAREST_CONTROL_JS = r"""
(selector) => {
  const target = document.querySelector(selector);
  const t = target.getBoundingClientRect();
  let best = Infinity, who = '';
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')) {
    if (el === target || target.contains(el) || el.contains(target)) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.closest('[hidden], dialog:not([open])')) continue;
    const dx = Math.max(0, r.left - t.right, t.left - r.right);
    const dy = Math.max(0, r.top - t.bottom, t.top - r.bottom);
    const d = Math.hypot(dx, dy);
    if (d < best) { best = d; who = el.outerHTML.slice(0, 80); }
  }
  return { gap: best, nearest: who };
}
"""
MIN_GAP_PX = 24


def test_delete_session_asks_first_and_stands_apart(visit: Visit) -> None:
    visit.sign_up("Della Deleter")
    page = visit.page
    st, sess = fetch_json(page, "POST", "/api/sessions", {"title": "To be deleted"})
    assert st == 201, sess
    sid = sess["id"]  # type: ignore[index]
    page.goto(f"/session.html?id={sid}")
    page.wait_for_selector("#session-view:not([hidden])")

    # asking first: the dialog names what is lost, the safe choice has the focus, cancelling keeps it
    page.click("#delete-btn")
    page.wait_for_selector("#delete-dialog[open]")
    assert "cannot be undone" in page.inner_text("#delete-dialog")
    assert page.evaluate("() => document.activeElement.id") == "delete-cancel"
    visit.shoot("delete-confirm-desktop", full_page=False)
    page.click("#delete-cancel")
    page.wait_for_selector("#delete-dialog", state="detached")
    assert fetch_json(page, "GET", f"/api/sessions/{sid}")[0] == 200
    page.click("#delete-btn")
    page.keyboard.press("Escape")
    page.wait_for_selector("#delete-dialog", state="detached")
    assert fetch_json(page, "GET", f"/api/sessions/{sid}")[0] == 200

    # on a phone-sized touch screen the button stands apart from every other control
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    near = page.evaluate(NEAREST_CONTROL_JS, "#delete-btn")
    assert near["gap"] >= MIN_GAP_PX, near
    page.set_viewport_size(DESKTOP)
    near = page.evaluate(NEAREST_CONTROL_JS, "#delete-btn")
    assert near["gap"] >= MIN_GAP_PX, near
    visit.phone_check("session-delete")

    # confirming deletes it
    page.click("#delete-btn")
    with page.expect_navigation():
        page.click("#delete-confirm")
    page.wait_for_url("**/sessions.html")
    assert fetch_json(page, "GET", f"/api/sessions/{sid}")[0] == 404
    visit.clean()
