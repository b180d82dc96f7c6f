"""The live room's "Web page" panel in headless Chromium (issue 17, item 7): an address that does not load
says so (not "Loaded." over a broken frame), a site that refuses framing (X-Frame-Options, CSP
frame-ancestors, also behind a redirect) gets a one-click "Open … in a new window", a page that may be framed
is shown. The "sites" are a small HTTP server of the test on 127.0.0.1; a closed port stands for an address
that does not load. A signaling process of its own, allowed to check loopback addresses
(WEBPAGE_CHECK_ALLOW_PRIVATE=1); no media node: the panel works before Start.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from browser_helpers import (
    PHONE,
    confirm_registration,
    csp_violations,
    page_a11y_problems,
    watch_csp,
)
from conftest import ROOT, Stack
from page_fixtures import browser_fixture, site_fixture
from playwright.sync_api import Browser, Page

from interview_room.embedded import free_port

PASSWORD = "correct horse battery staple"
WAIT_MS = 30_000
DESKTOP = {"width": 1366, "height": 900}
ARTIFACTS = ROOT / "test-artifacts"
JOB_TITLE = "Job: Backend engineer at Acme"


class Sites(BaseHTTPRequestHandler):
    """/ok may be framed; /xfo and /csp refuse framing; /moved redirects to /xfo; /missing is a 404."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Sites.hits.append(f"{self.path} {self.headers.get('User-Agent', '')}")
        body = f"<!doctype html><title>Job</title><h1>{JOB_TITLE}</h1>".encode()
        extra: dict[str, str] = {}
        status = 200
        if self.path == "/xfo":
            extra["X-Frame-Options"] = "DENY"
        elif self.path == "/csp":
            extra["Content-Security-Policy"] = "frame-ancestors 'none'"
        elif self.path == "/moved":
            status, extra, body = 302, {"Location": "/xfo"}, b""
        elif self.path == "/missing":
            status, body = 404, b"<!doctype html><title>Not here</title><p>No such job"
        elif self.path != "/ok":
            status, body = 404, b""
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def sites() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sites)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


site = site_fixture("signaling-webpage", WEBPAGE_CHECK_ALLOW_PRIVATE="1")


browser = browser_fixture()


def sign_up(page: Page, site: Stack) -> None:
    email = f"web-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/index.html#register")
    page.fill("#reg-name", "Wendy Web")
    page.fill("#reg-email", email)
    page.fill("#reg-password", PASSWORD)
    page.click("[data-testid=register-submit]")
    confirm_registration(page, site.email_code(email))
    page.wait_for_url("**/sessions.html*")


def fetch_status(page: Page, path: str) -> tuple[int, dict[str, object]]:
    got: list[object] = page.evaluate(
        "async (p) => { const r = await fetch(p, {credentials: 'same-origin', headers: {Accept: 'application/json'}});"
        " return [r.status, await r.json()]; }",
        path,
    )
    return got[0], got[1]  # type: ignore[return-value]


def open_address(page: Page, url: str) -> dict[str, object]:
    """Type ``url`` into the panel and wait until the check is over; what the panel shows then."""
    page.fill("#web-url", url)
    page.click("#web-form [type=submit]")
    page.wait_for_function(
        "() => { const t = document.querySelector('#web-status').textContent; return t && !t.startsWith('Checking'); }"
    )
    return page.evaluate(
        """() => ({
          status: document.querySelector('#web-status').textContent,
          state: document.querySelector('#web-status').dataset.state || '',
          frameShown: !document.querySelector('#web-frame').hidden,
          src: document.querySelector('#web-frame').getAttribute('src'),
          open: document.querySelector('#web-open').hidden ? null : document.querySelector('#web-open').textContent,
          openIsButton: document.querySelector('#web-open').classList.contains('button'),
        })"""
    )


def test_web_page_panel_says_what_happened(site: Stack, browser: Browser, sites: str) -> None:
    ctx = browser.new_context(base_url=site.base_url, viewport=DESKTOP)
    console: list[str] = []
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda e: errors.append(str(e)))
        watch_csp(page, console)
        sign_up(page, site)
        st, sess = page.evaluate(
            "async () => { const r = await fetch('/api/sessions', {method: 'POST', credentials: 'same-origin',"
            " headers: {'Content-Type': 'application/json', Accept: 'application/json'}, body: JSON.stringify({title: 'Web pane'})});"
            " return [r.status, await r.json()]; }"
        )
        assert st == 201, sess
        page.goto(f"/room.html?id={sess['id']}")
        page.wait_for_function("() => document.querySelector('#room-title').textContent === 'Web pane'")
        page.click("#web-toggle")
        ARTIFACTS.mkdir(exist_ok=True)

        # an address that does not load: said so, no frame, never "Loaded."
        closed = f"http://127.0.0.1:{free_port()}/job"
        got = open_address(page, closed)
        assert got["state"] == "error" and "could not be loaded" in str(got["status"]), got
        assert not got["frameShown"] and got["src"] is None, got
        page.wait_for_timeout(500)
        assert "Loaded" not in page.text_content("#web-status")
        page.locator("#web-pane").screenshot(path=str(ARTIFACTS / "webpage-unreachable.png"))

        got = open_address(page, f"{sites}/missing")
        assert got["state"] == "error" and "404 Not Found" in str(got["status"]), got
        assert not got["frameShown"], got

        # sites that refuse framing: a one-click window instead of a broken frame (also after a redirect)
        for path, header in (("/xfo", "X-Frame-Options"), ("/csp", "frame-ancestors"), ("/moved", "X-Frame-Options")):
            got = open_address(page, f"{sites}{path}")
            assert got["state"] == "refused" and header in str(got["status"]), (path, got)
            assert "does not allow being shown inside other pages" in str(got["status"]), got
            assert not got["frameShown"], (path, got)
            assert got["open"] == f"Open 127.0.0.1:{sites.rsplit(':', 1)[1]} in a new window" and got["openIsButton"], (
                got
            )
        page.locator("#web-pane").screenshot(path=str(ARTIFACTS / "webpage-refused.png"))
        with ctx.expect_page() as opened:
            page.click("#web-open")
        window = opened.value
        window.wait_for_load_state()
        assert window.url == f"{sites}/moved" or window.url == f"{sites}/xfo", window.url
        assert window.text_content("h1") == JOB_TITLE
        window.close()
        assert page.url.endswith(f"/room.html?id={sess['id']}")  # the room stayed where it was

        # a page that may be framed is shown, and only then "Loaded."
        frame_hits = len([h for h in Sites.hits if h.startswith("/ok ") and "PageCheck" not in h])
        got = open_address(page, f"{sites}/ok")
        assert got["frameShown"] and got["src"] == f"{sites}/ok", got
        page.wait_for_function("() => document.querySelector('#web-status').textContent.startsWith('Loaded.')")
        assert page.frame_locator("#web-frame").locator("h1").text_content() == JOB_TITLE
        assert len([h for h in Sites.hits if h.startswith("/ok ") and "PageCheck" not in h]) == frame_hits + 1
        assert any(h.startswith("/ok ") and "PageCheck" in h for h in Sites.hits)  # the server checked it first
        page.locator("#web-pane").screenshot(path=str(ARTIFACTS / "webpage-loaded.png"))

        page.set_viewport_size(PHONE)
        page.wait_for_timeout(300)
        assert page_a11y_problems(page, "room-webpage") == []
        page.set_viewport_size(DESKTOP)

        # the check itself: bad addresses are a clear 400, the API needs a login
        for bad in ("", "javascript%3Aalert(1)", "ftp%3A%2F%2Fexample.com%2Fx"):
            st, body = fetch_status(page, f"/api/webpage/check?url={bad}")
            assert st == 400 and body["error"]["code"] == "invalid_url", (bad, st, body)  # type: ignore[index]
        assert csp_violations(page) == [] and console == [], (csp_violations(page), console)
        assert errors == [], errors
    finally:
        ctx.close()

    anonymous = browser.new_context(base_url=site.base_url)
    try:
        page = anonymous.new_page()
        page.goto("/index.html")
        st, body = fetch_status(page, f"/api/webpage/check?url={sites}/ok")
        assert st == 401, body
    finally:
        anonymous.close()
