"""Every page of the web client under its Content-Security-Policy, in headless Chromium: no violation
(no inline script, event handler or style attribute is left), the pages work on the HttpOnly cookie
alone (no token in storage), changes from the page pass the same-origin check, the live room's web
page panel may frame a job posting, and logging out clears the cookie.

A signaling process of its own (no media node or workers: no page here starts a call). The browser
resolves no name and reaches 127.0.0.1 only.
"""

from __future__ import annotations

import uuid
from typing import Any

from browser_helpers import confirm_registration, csp_violations, watch_csp
from conftest import Stack
from page_fixtures import browser_fixture, site_fixture
from playwright.sync_api import Browser, Page

from interview_room.embedded import free_port

PASSWORD = "correct horse battery staple"
WAIT_MS = 30_000
LEGACY_TOKEN_KEY = "interview-room.token"


site = site_fixture("signaling-csp")


browser = browser_fixture()


def fetch_json(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """The page's own fetch(): the cookie and the Origin header exactly as the browser sends them."""
    result: list[Any] = page.evaluate(
        """async ([method, path, body]) => {
          const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
          if (body !== null) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
          const r = await fetch(path, init);
          const text = await r.text();
          return [r.status, text ? JSON.parse(text) : null];
        }""",
        [method, path, body],
    )
    return result[0], result[1]


def test_every_page_runs_under_its_csp(site: Stack, browser: Browser) -> None:
    ctx = browser.new_context(base_url=site.base_url, viewport={"width": 1280, "height": 900})
    console: list[str] = []
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        watch_csp(page, console)

        # the watcher sees what the policy blocks: an inline script does not run and is reported
        page.goto("/index.html")
        ran = page.evaluate(
            """() => { const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true';
                       document.head.append(s); return window.__inlineRan === true; }"""
        )
        page.wait_for_timeout(200)
        assert ran is False and any("script-src" in v for v in csp_violations(page)), csp_violations(page)
        console.clear()

        # a token an earlier version left in storage is removed; signing up keeps none
        page.evaluate("([k]) => localStorage.setItem(k, 'old.token')", [LEGACY_TOKEN_KEY])
        page.goto("/index.html#register")
        page.click("#tab-register")
        page.fill("#reg-name", "Cora Csp")
        email = f"csp-{uuid.uuid4().hex[:10]}@example.com"
        page.fill("#reg-email", email)
        page.fill("#reg-password", PASSWORD)
        page.click("[data-testid=register-submit]")
        confirm_registration(page, site.email_code(email))  # a new account confirms its address first
        page.wait_for_url("**/sessions.html*")
        storage = page.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage})")
        assert LEGACY_TOKEN_KEY not in storage and "token" not in storage.lower(), storage
        assert "ir_token" not in page.evaluate("() => document.cookie")  # HttpOnly
        assert [c["name"] for c in ctx.cookies() if c["httpOnly"]] == ["ir_token"]

        # changes from the page: created with the cookie and the browser's own Origin header
        st, org = fetch_json(page, "POST", "/api/org", {"name": "Csp Co"})
        assert st == 201, org
        st, iv = fetch_json(page, "POST", "/api/org/interviews", {"title": "Csp role", "questions": ["Why CSP?"]})
        assert st == 201, iv
        st, cand = fetch_json(
            page, "POST", f"/api/org/interviews/{iv['id']}/candidates", {"name": "Cand", "email": "cand@example.com", "send_email": False}
        )
        assert st == 201, cand
        st, sess = fetch_json(page, "POST", "/api/sessions", {"title": "Csp session"})
        assert st == 201, sess

        pages = {
            "/sessions.html": "#site-nav a",
            "/session.html?id=" + sess["id"]: "#site-nav a",
            "/room.html?id=" + sess["id"]: "#start-btn",
            "/profile.html": "#p-name",
            "/billing.html": "#site-nav a",
            "/troubleshoot.html": "#site-nav a",
            "/links.html": "#site-nav a",
            "/recruit/index.html": "#dashboard:not([hidden])",
            "/recruit/interview.html": ".q-item",
            f"/recruit/interview.html?id={iv['id']}": ".q-item",
            f"/recruit/candidates.html?id={iv['id']}": ".candidate-row",
            f"/recruit/review.html?id={cand['candidate']['id']}": ".answer-card, #site-nav a",
            "/recruit/settings.html": "#view:not([hidden])",
            "/c.html#no-such-token": "#gone:not([hidden])",
            cand["link"]: "#intro:not([hidden])",
            "/docs/protocol.md": "body",
            "/docs/": ".docs-list a",
        }
        for path, ready in pages.items():
            page.goto("about:blank")
            page.goto(path)
            page.wait_for_selector(ready, state="attached")
            page.wait_for_load_state("networkidle")
            assert csp_violations(page) == [], (path, csp_violations(page))

        # the template picker's layout now comes from the stylesheet, not a style attribute
        page.goto("/recruit/interview.html")
        page.wait_for_selector(".q-item")
        grow = page.evaluate("() => getComputedStyle(document.querySelector('.clone-field')).flexGrow")
        assert grow == "1"

        # the old join.html redirect (its script is a module file now)
        page.goto("/join.html?next=recruit/settings.html")
        page.wait_for_url("**/recruit/settings.html")

        # the profile saves with the cookie alone
        page.goto("/profile.html")
        page.wait_for_function("() => document.querySelector('#p-name').value === 'Cora Csp'")
        page.fill("#p-name", "Cora Renamed")
        page.click("#me-form [type=submit]")
        for _ in range(50):
            if fetch_json(page, "GET", "/api/me")[1]["user"]["name"] == "Cora Renamed":
                break
            page.wait_for_timeout(200)
        assert fetch_json(page, "GET", "/api/me")[1]["user"]["name"] == "Cora Renamed"

        # the room's web page panel may frame another site (a closed local port here: nothing is fetched)
        page.goto("/room.html?id=" + sess["id"])
        page.click("#web-toggle")
        page.fill("#web-url", f"http://127.0.0.1:{free_port()}/job")
        page.click("#web-form [type=submit]")
        page.wait_for_function("() => (document.querySelector('#web-frame').getAttribute('src') || '').includes('/job')")
        page.wait_for_timeout(1000)
        assert csp_violations(page) == [], csp_violations(page)

        # logging out clears the cookie: the API no longer knows this browser
        page.goto("/sessions.html")
        page.click("[data-action=logout]")
        page.wait_for_url("**/index.html*")
        assert not [c for c in ctx.cookies() if c["name"] == "ir_token"]
        assert fetch_json(page, "GET", "/api/me")[0] == 401

        assert console == [], console
        assert errors == [], errors
    finally:
        ctx.close()
