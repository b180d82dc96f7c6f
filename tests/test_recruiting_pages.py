"""The recruiter's and the candidate's pages in a real browser (issue 8): what people do and see.

Debian's Chromium (headless, driven by Playwright) against the real stack: an owner registers and
creates an organisation in recruit/; a colleague joins through the team invitation's link (logging
in on the way and coming back); candidate links that were revoked, expired or replaced show a clear
page instead of the interview; "Copy link" puts the link on the clipboard (or selects it when the
clipboard is refused); "New link" asks first and kills the old link; reminders; the organisation's
settings (ATS webhook, signing secret, delivery log with a retry); one shared nav; and every page at
375 px: named controls and links, no sideways scrolling. No answer is recorded here (that is
tests/test_recruiting_browser.py), so the file needs no speech.

Network: the browser resolves no name (host-resolver-rules) and the stack offers 127.0.0.1 only.
The tests run in file order and share the people's browser contexts.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from browser_helpers import PHONE, chromium, confirm_registration, page_a11y_problems, silence_wav
from conftest import ROOT, Stack
from playwright.sync_api import Browser, BrowserContext, Page

from interview_room.embedded import free_port

ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "correct horse battery staple"
TITLE = "Support engineer"
QUESTIONS = ["Tell us about a hard support case.", "How do you explain a bug to a customer?"]
NAV = ["Sessions", "New", "Progress", "Profile", "Billing", "Troubleshoot", "Recruiting", "Links"]
WAIT_MS = 30_000
# what Chromium marks the page's own fetch() with; the server refuses cookie-authenticated changes without it
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@dataclass
class Site:
    stack: Stack
    browser: Browser
    owner: Page
    contexts: list[BrowserContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    interview_id: str = ""
    member: Page | None = None

    def new_page(self, **context_args: Any) -> Page:
        ctx = self.browser.new_context(viewport=DESKTOP, base_url=self.stack.base_url, **context_args)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        return page

    def no_page_errors(self) -> None:
        assert not self.errors, f"uncaught JavaScript errors: {self.errors}"


def _sql(stack: Stack, query: str, *args: Any) -> list[Any]:
    """One statement on the stack's database (in a thread: Playwright's sync API owns this one's loop)."""

    async def run() -> list[Any]:
        conn = await asyncpg.connect(stack.infra.database_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=60)


def _api(
    page: Page, method: str, path: str, body: dict[str, Any] | None = None, link: str | None = None
) -> tuple[int, Any]:
    """The API with the page's own cookie (what the page itself would send, same-origin marker included); ``link``: a candidate
    link's token, sent in its header."""
    headers = {**SAME_ORIGIN, **({"X-Candidate-Token": link} if link is not None else {})}
    res = page.request.fetch(path, method=method, data=body if body is not None else None, headers=headers)
    try:
        return res.status, res.json()
    except Exception:  # noqa: BLE001 - a 204 or a non-JSON body
        return res.status, res.text()


def _register(page: Page, name: str, email: str, stack: Stack) -> None:
    page.click("#tab-register")
    page.fill("#reg-name", name)
    page.fill("#reg-email", email)
    page.fill("#reg-password", PASSWORD)
    page.click("[data-testid=register-submit]")
    confirm_registration(page, stack.email_code(email))


def _invite(page: Page, interview_id: str, name: str, email: str | None = None) -> dict[str, Any]:
    st, out = _api(
        page,
        "POST",
        f"/api/org/interviews/{interview_id}/candidates",
        {"name": name, "email": email, "send_email": False},
    )
    assert st == 201, out
    return out


def _open_link(page: Page, link: str) -> None:
    """A candidate opening a link afresh (a hash-only change would not load the page again)."""
    page.goto("about:blank")
    page.goto(link)


def _shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _poll(page: Page, what: str, probe: Callable[[], Any], timeout_s: float, every_ms: int = 500) -> Any:
    for _ in range(int(timeout_s * 1000 / every_ms)):
        got = probe()
        if got:
            return got
        page.wait_for_timeout(every_ms)
    got = probe()
    assert got, f"timed out after {timeout_s:.0f} s waiting for {what}"
    return got


def _assert_gone(page: Page, code: str, words: str) -> None:
    page.wait_for_selector("#gone:not([hidden])")
    assert page.get_attribute("#gone", "data-code") == code
    assert words in (page.text_content("#gone-text") or ""), page.text_content("#gone-text")
    for sel in ("#intro", "#consent-box", "#consent-btn", "#check", "#record-btn", "#question"):
        assert not page.is_visible(sel), f"{sel} is shown for a link that does not work"


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")
    with chromium(mic) as b:
        yield b


@pytest.fixture(scope="module")
def site(stack: Stack, browser: Browser) -> Iterator[Site]:
    """The owner, registered in the UI, with an organisation made in recruit/ and an interview."""
    s = Site(stack, browser, owner=None)  # type: ignore[arg-type] - set just below
    s.owner = s.new_page(permissions=["clipboard-read", "clipboard-write"])
    try:
        page = s.owner
        page.goto("/index.html#register")
        _register(page, "Olga Owner", f"owner-{uuid.uuid4().hex[:10]}@example.com", stack)
        page.wait_for_url("**/sessions.html*")
        page.goto("/recruit/index.html")
        page.wait_for_selector("#org-setup:not([hidden])")
        page.fill("#org-name", "Pages Co")
        page.click("#org-create")
        page.wait_for_selector("#dashboard:not([hidden])")
        st, iv = _api(page, "POST", "/api/org/interviews", {"title": TITLE, "questions": QUESTIONS})
        assert st == 201, iv
        s.interview_id = iv["id"]
        yield s
    finally:
        for c in s.contexts:
            c.close()


# ------------------------------------------------------------------------------------------ tests


def test_team_member_joins_and_sees_the_interviews(site: Site) -> None:
    owner = site.owner
    owner.goto("/recruit/index.html")
    owner.wait_for_selector("#team-form:not([hidden])")
    member_email = f"member-{uuid.uuid4().hex[:10]}@example.com"
    owner.fill("#team-email", member_email)
    owner.click("#team-invite-btn")
    owner.wait_for_selector("#team-result:not([hidden])")
    link = owner.input_value("#team-link")
    assert re.match(rf"^{re.escape(site.stack.base_url)}/recruit/join\.html#[\w-]{{20,}}$", link), link
    assert member_email in (owner.text_content("#invite-list") or "")

    # The colleague has no account yet: the link sends them to log in, and back to the invitation.
    member = site.new_page()
    member.goto(link)
    member.wait_for_url("**/index.html?next=*")
    _register(member, "Mo Member", member_email, site.stack)
    member.wait_for_url("**/recruit/join.html#*")
    member.wait_for_selector("#join-btn:not([disabled])")
    assert member_email in (member.text_content("#join-who") or "")
    member.click("#join-btn")
    member.wait_for_selector("#join-ok:not([hidden])")
    assert member.text_content("#join-org") == "Pages Co"
    member.click("#join-ok a")
    member.wait_for_url("**/recruit/index.html")
    member.wait_for_selector("#dashboard:not([hidden])")
    assert member.text_content("#org-title") == "Pages Co"
    member.wait_for_selector(f"#interview-list .interview-item[data-id='{site.interview_id}']")
    assert TITLE in (member.text_content("#interview-list") or "")
    emails = member.locator("#member-list tr td:nth-child(2)").all_text_contents()
    assert member_email in emails and len(emails) == 2
    assert not member.is_visible("#team-form")  # only the owner invites
    site.member = member

    owner.reload()
    owner.wait_for_selector("#dashboard:not([hidden])")
    assert "joined" in (owner.text_content("#invite-list") or "")
    site.no_page_errors()


def test_expired_and_revoked_links_show_a_clear_page(site: Site) -> None:
    owner = site.owner
    revoked = _invite(owner, site.interview_id, "Rex Revoked")
    expired = _invite(owner, site.interview_id, "Eve Expired", f"eve-{uuid.uuid4().hex[:6]}@example.com")
    st, _ = _api(owner, "POST", f"/api/org/candidates/{revoked['candidate']['id']}/revoke")
    assert st == 200
    _sql(
        site.stack,
        "UPDATE candidates SET expires_at = now() - interval '1 hour' WHERE id = $1",
        uuid.UUID(expired["candidate"]["id"]),
    )

    cand = site.new_page()
    _open_link(cand, revoked["link"])
    _assert_gone(cand, "link_revoked", "withdrawn")
    _shoot(cand, "recruiting-link-revoked")
    _open_link(cand, expired["link"])
    _assert_gone(cand, "link_expired", "deadline")
    _shoot(cand, "recruiting-link-expired")

    # The recruiter sees why, and what is still possible for each.
    owner.goto(f"/recruit/candidates.html?id={site.interview_id}")
    owner.wait_for_selector(".candidate-row")
    rev = owner.locator(f".candidate-row[data-id='{revoked['candidate']['id']}']")
    exp = owner.locator(f".candidate-row[data-id='{expired['candidate']['id']}']")
    assert rev.get_attribute("data-status") == "revoked" and exp.get_attribute("data-status") == "expired"
    for row in (rev, exp):
        assert not row.locator(".remind-btn").is_visible()  # nothing pending to remind of
        assert row.locator(".newlink-btn").is_visible()

    # A revoked link cannot be copied again; a new link brings the expired candidate back in.
    rev.locator(".copy-btn").click()
    owner.wait_for_function("() => document.querySelector('#list-error').textContent.includes('New link')")
    exp.locator(".newlink-btn").click()
    owner.click("#newlink-confirm")
    owner.wait_for_function("() => document.querySelector('#list-status').textContent.includes('New link issued')")
    assert exp.get_attribute("data-status") == "invited"
    _open_link(cand, owner.input_value("#row-link-input"))
    cand.wait_for_selector("#intro:not([hidden])")
    assert cand.text_content("#title") == TITLE
    site.no_page_errors()


def test_copy_link_new_link_and_reminder(site: Site) -> None:
    owner = site.owner
    owner.goto(f"/recruit/candidates.html?id={site.interview_id}")
    owner.wait_for_selector("#view:not([hidden])")
    owner.fill("#c-name", "Casey Copy")
    owner.fill("#c-email", f"casey-{uuid.uuid4().hex[:6]}@example.com")
    owner.uncheck("#c-send")
    owner.click("#invite-btn")
    owner.wait_for_selector("#invite-result:not([hidden])")
    invited = owner.input_value("#invite-link")
    row = owner.locator(".candidate-row", has_text="Casey Copy")

    # Copy link: on the clipboard, announced, and it opens the candidate's intro.
    row.locator(".copy-btn").click()
    owner.wait_for_function("() => document.querySelector('#list-status').textContent.includes('Link copied')")
    assert owner.get_attribute("#list-status", "role") == "status"
    copied = owner.evaluate("() => navigator.clipboard.readText()")
    assert copied == invited == owner.input_value("#row-link-input")
    cand = site.new_page()
    _open_link(cand, copied)
    cand.wait_for_selector("#intro:not([hidden])")
    assert cand.text_content("#title") == TITLE

    # No clipboard access: the link is shown selected for a manual copy.
    owner.evaluate(
        "() => { navigator.clipboard.writeText = () => Promise.reject(new DOMException('denied', 'NotAllowedError')); }"
    )
    owner.evaluate("() => { document.querySelector('#row-link-input').value = ''; }")
    row.locator(".copy-btn").click()
    owner.wait_for_function("() => document.querySelector('#list-status').textContent.includes('Could not copy')")
    sel = owner.evaluate(
        "() => { const i = document.activeElement; return {id: i.id, value: i.value, all: i.selectionStart === 0 && i.selectionEnd === i.value.length, readOnly: i.readOnly}; }"
    )
    assert sel == {"id": "row-link-input", "value": invited, "all": True, "readOnly": True}, sel

    # New link: asked first (Escape cancels, nothing changes), then the old link stops working.
    row.locator(".newlink-btn").click()
    owner.wait_for_selector("#newlink-dialog[open]")
    assert "stops working" in (owner.text_content("#newlink-dialog") or "")
    assert owner.is_visible("#newlink-send")  # the candidate has an e-mail address
    owner.keyboard.press("Escape")
    owner.wait_for_selector("#newlink-dialog[open]", state="detached")
    assert owner.evaluate("() => document.activeElement.classList.contains('newlink-btn')")
    _open_link(cand, invited)
    cand.wait_for_selector("#intro:not([hidden])")  # still the same link

    row.locator(".newlink-btn").click()
    owner.wait_for_selector("#newlink-dialog[open]")
    owner.click("#newlink-confirm")
    owner.wait_for_function("() => document.querySelector('#list-status').textContent.includes('New link issued')")
    fresh = owner.input_value("#row-link-input")
    assert fresh != invited and fresh.startswith(f"{site.stack.base_url}/c.html#")
    _open_link(cand, invited)
    _assert_gone(cand, "not_found", "not valid")
    _open_link(cand, fresh)
    cand.wait_for_selector("#intro:not([hidden])")

    # Reminder: only for a pending candidate with an e-mail address; the date shows once one went out.
    owner.reload()
    owner.wait_for_selector("#view:not([hidden])")
    row = owner.locator(".candidate-row", has_text="Casey Copy")
    row.locator(".remind-btn").wait_for()  # shown: pending, with an e-mail address
    row.locator(".remind-btn").click()
    owner.wait_for_function("() => /reminder/i.test(document.querySelector('#list-status').textContent)")
    link_only = _invite(owner, site.interview_id, "Lin Linkonly")
    _sql(
        site.stack,
        "UPDATE candidates SET reminded_at = now() WHERE id = $1",
        uuid.UUID(row.get_attribute("data-id") or ""),
    )
    owner.reload()
    owner.locator(".candidate-row", has_text="Casey Copy").locator(".reminded").wait_for()
    assert "reminded" in (
        owner.locator(".candidate-row", has_text="Casey Copy").locator(".reminded").text_content() or ""
    )
    lone = owner.locator(f".candidate-row[data-id='{link_only['candidate']['id']}']")
    assert lone.locator(".copy-btn").is_visible() and not lone.locator(".remind-btn").is_visible()
    site.no_page_errors()


def test_delete_candidate_asks_first_then_erases(site: Site) -> None:
    owner = site.owner
    doomed = _invite(owner, site.interview_id, "Dana Delete")
    owner.goto(f"/recruit/candidates.html?id={site.interview_id}")
    row = owner.locator(f".candidate-row[data-id='{doomed['candidate']['id']}']")
    row.wait_for()
    row.get_by_role("button", name="Delete Dana Delete and their recordings").click()
    owner.wait_for_selector("#erase-dialog[open]")
    assert "Dana Delete" in (owner.text_content("#erase-h") or "")
    owner.keyboard.press("Escape")  # cancel: nothing happens
    owner.wait_for_selector("#erase-dialog", state="hidden")
    assert row.is_visible()
    st, _ = _api(owner, "GET", "/api/c/state", link=doomed["link"].split("#", 1)[1])
    assert st == 200
    row.locator(".erase-btn").click()
    owner.click("#erase-confirm")
    owner.wait_for_function("() => document.querySelector('#list-status').textContent.includes('are deleted')")
    assert row.count() == 0
    st, _ = _api(owner, "GET", f"/api/org/candidates/{doomed['candidate']['id']}")
    assert st == 404
    st, _ = _api(owner, "GET", "/api/c/state", link=doomed["link"].split("#", 1)[1])
    assert st == 404
    site.no_page_errors()


def test_settings_webhook_and_delivery_log(site: Site) -> None:
    owner = site.owner
    owner.goto("/recruit/index.html")
    owner.click("#settings-link")
    owner.wait_for_url("**/recruit/settings.html")
    owner.wait_for_selector("#webhook-card:not([hidden])")
    assert owner.is_visible("#deliveries-empty")

    owner.fill("#wh-url", "ftp://ats.example.com/hook")
    owner.click("#wh-save")
    owner.wait_for_function("() => document.querySelector('#wh-url-error').textContent !== ''")
    assert owner.get_attribute("#wh-url", "aria-invalid") == "true"
    hook = f"http://127.0.0.1:{free_port()}/ats"  # nothing listens: every delivery fails
    owner.fill("#wh-url", hook)
    owner.click("#wh-save")
    owner.wait_for_function("() => document.querySelector('#wh-msg').textContent === 'Saved.'")
    assert owner.get_attribute("#wh-url", "aria-invalid") is None
    owner.reload()
    owner.wait_for_selector("#webhook-card:not([hidden])")
    assert owner.input_value("#wh-url") == hook

    st, org = _api(owner, "GET", "/api/org")
    assert st == 200 and org["webhook_url"] == hook
    assert owner.get_attribute("#wh-secret", "type") == "password"
    owner.click("#secret-reveal")
    assert owner.get_attribute("#secret-reveal", "aria-pressed") == "true"
    assert owner.get_attribute("#wh-secret", "type") == "text"
    assert owner.input_value("#wh-secret") == org["webhook_secret"]
    owner.click("#secret-copy")
    owner.wait_for_function("() => document.querySelector('#secret-msg').textContent === 'Secret copied.'")
    assert owner.evaluate("() => navigator.clipboard.readText()") == org["webhook_secret"]

    # A candidate completes (an interview with no questions, through the candidate API): one delivery.
    st, iv = _api(owner, "POST", "/api/org/interviews", {"title": "No questions", "questions": []})
    assert st == 201, iv
    token = _invite(owner, iv["id"], "Walt Webhook")["link"].split("#", 1)[1]
    for step in ("consent", "complete"):
        st, out = _api(owner, "POST", f"/api/c/{step}", link=token)
        assert st == 200, (step, out)

    def rows() -> list[dict[str, str]]:
        owner.click("#deliveries-refresh")
        owner.wait_for_selector("#deliveries-refresh:not([disabled])")
        return owner.locator("#delivery-table .delivery-row").evaluate_all(
            "(rs) => rs.map((r) => ({event: r.cells[0].textContent, attempt: r.cells[1].textContent, result: r.cells[2].textContent, retry: Boolean(r.querySelector('.retry-btn')), delivery: r.dataset.deliveryId}))"
        )

    first = _poll(owner, "the first delivery attempt in the log", rows, 60)
    assert first[-1]["event"] == "candidate.completed" and first[-1]["attempt"] == "1", first
    assert first[-1]["result"].startswith("Failed"), first
    assert owner.is_hidden("#deliveries-empty")
    delivery = first[-1]["delivery"]

    # After the automatic retries the delivery has failed for good: Retry requeues it.
    _poll(
        owner,
        "the delivery to use up its automatic retries",
        lambda: _sql(
            site.stack, "SELECT 1 FROM webhook_outbox WHERE delivery_id = $1 AND state = 'failed'", uuid.UUID(delivery)
        ),
        120,
        every_ms=1000,
    )
    log = rows()
    attempts = max(int(r["attempt"]) for r in log)
    assert [r["retry"] for r in log] == [True] + [False] * (len(log) - 1), log  # on the latest attempt only
    owner.locator("#delivery-table .delivery-row .retry-btn").click()
    owner.wait_for_function("() => document.querySelector('#deliveries-msg').textContent.includes('queued')")
    _poll(owner, "a new attempt after the retry", lambda: max(int(r["attempt"]) for r in rows()) > attempts, 60)
    _shoot(owner, "recruiting-settings")

    # A team member sees the log but neither the webhook form nor the secret.
    if site.member is not None:
        site.member.goto("/recruit/settings.html")
        site.member.wait_for_selector("#view:not([hidden])")
        assert site.member.is_visible("#member-note") and not site.member.is_visible("#webhook-card")
        assert site.member.input_value("#wh-secret") == ""
        site.member.wait_for_selector("#delivery-table .delivery-row")
        assert not site.member.locator(".retry-btn").count()
    site.no_page_errors()


PAGES = ["index", "interview-new", "interview", "candidates", "review", "settings", "join", "c-intro", "c-gone"]


@pytest.fixture(scope="module")
def page_urls(site: Site) -> dict[str, str]:
    cand = _invite(site.owner, site.interview_id, "Ada Accessible", f"ada-{uuid.uuid4().hex[:6]}@example.com")
    st, inv = _api(site.owner, "POST", "/api/org/invites", {"email": f"x-{uuid.uuid4().hex[:6]}@example.com"})
    assert st == 201, inv
    return {
        "index": "/recruit/index.html",
        "interview-new": "/recruit/interview.html",
        "interview": f"/recruit/interview.html?id={site.interview_id}",
        "candidates": f"/recruit/candidates.html?id={site.interview_id}",
        "review": f"/recruit/review.html?id={cand['candidate']['id']}",
        "settings": "/recruit/settings.html",
        "join": "/recruit/join.html#" + inv["link"].split("#", 1)[1],
        "c-intro": cand["link"],
        "c-gone": "/c.html#no-such-token",
    }


@pytest.mark.parametrize("name", PAGES)
def test_pages_accessible_at_phone_width(site: Site, page_urls: dict[str, str], name: str) -> None:
    page = site.owner
    page.set_viewport_size(PHONE)
    try:
        page.goto("about:blank")
        page.goto(page_urls[name])
        ready = {
            "index": "#dashboard:not([hidden])",
            "interview-new": ".q-item",
            "interview": ".q-item",
            "candidates": ".candidate-row",
            "review": ".answer-card",
            "settings": "#view:not([hidden])",
            "join": "#join-who:not(:empty)",
            "c-intro": "#intro:not([hidden])",
            "c-gone": "#gone:not([hidden])",
        }[name]
        page.wait_for_selector(ready)
        if name == "candidates":  # the per-row link box and the dialog's controls are part of the page too
            page.locator(".candidate-row:not([data-status=revoked]) .copy-btn").first.click()
            page.wait_for_selector("#row-link:not([hidden])")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)  # let the layout settle after the resize
        _shoot(page, f"recruiting-{name}-375")
        problems = page_a11y_problems(page, name)
        assert not problems, "\n".join(problems)
        if name.startswith("c-"):
            assert not page.locator("#site-nav").count()  # the candidate sees no account navigation
    finally:
        page.set_viewport_size(DESKTOP)
    site.no_page_errors()


def test_one_nav_on_every_page(site: Site) -> None:
    page = site.owner
    page.goto("/sessions.html")
    links = page.locator("#site-nav a")
    assert links.all_text_contents() == NAV
    assert links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")[6] == "recruit/index.html"
    assert page.get_attribute("#site-nav a[href='sessions.html']", "aria-current") == "page"
    assert page.is_visible("#site-nav [data-action=logout]")

    page.goto(f"/recruit/candidates.html?id={site.interview_id}")
    page.wait_for_selector("#view:not([hidden])")
    texts = page.locator("#site-nav a").all_text_contents()
    assert texts == NAV[:7] + ["Org settings"] + NAV[7:], texts
    hrefs = page.locator("#site-nav a").evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
    assert hrefs[0] == "../sessions.html" and hrefs[6] == "../recruit/index.html", hrefs
    page.click("#site-nav a[data-nav=recruit-settings]")
    page.wait_for_url("**/recruit/settings.html")
    assert page.get_attribute("#site-nav a[data-nav=recruit-settings]", "aria-current") == "page"
    page.click("#site-nav a[data-nav=recruiting]")
    page.wait_for_url("**/recruit/index.html")
    assert page.get_attribute("#site-nav a[data-nav=recruiting]", "aria-current") == "page"
    page.click("#site-nav a:text-is('Profile')")
    page.wait_for_url("**/profile.html")
    assert page.url == f"{site.stack.base_url}/profile.html"

    # At phone width the menu opens with its button and Escape closes it again.
    page.set_viewport_size(PHONE)
    try:
        page.goto("/recruit/index.html")
        page.wait_for_selector("#dashboard:not([hidden])")
        assert page.is_visible(".nav-toggle") and not page.is_visible("#site-nav")
        page.click(".nav-toggle")
        assert page.get_attribute(".nav-toggle", "aria-expanded") == "true" and page.is_visible("#site-nav")
        page.keyboard.press("Escape")
        assert not page.is_visible("#site-nav") and page.get_attribute(".nav-toggle", "aria-expanded") == "false"
        assert page.evaluate("() => document.activeElement.classList.contains('nav-toggle')")
    finally:
        page.set_viewport_size(DESKTOP)

    # Log out from a page under recruit/: the log-in page, and recruit pages send there and back.
    assert site.member is not None, "needs the colleague of the first test"
    who = site.member
    who.goto("/recruit/settings.html")
    who.click("#site-nav [data-action=logout]")
    who.wait_for_url(f"{site.stack.base_url}/index.html")
    who.goto("/recruit/index.html")
    who.wait_for_url("**/index.html?next=recruit%2Findex.html")
    site.no_page_errors()


def test_dashboard_warns_when_candidates_cannot_record(site: Site) -> None:
    owner = site.owner
    owner.goto("/recruit/index.html")
    owner.wait_for_selector("#dashboard:not([hidden])")
    assert not owner.is_visible("#credit-banner")  # the sign-up credits: plenty
    st, me = _api(owner, "GET", "/api/me")
    assert st == 200
    user_id, left = uuid.UUID(me["user"]["id"]), float(me["credits_seconds"])
    drain = "INSERT INTO credit_ledger (user_id, seconds, kind, note) VALUES ($1, $2, $3, 'test')"
    _sql(site.stack, drain, user_id, -left, "debit")
    try:
        owner.reload()
        owner.wait_for_selector("#credit-banner:not([hidden])")
        text = owner.text_content("#credit-banner") or ""
        assert "cannot record" in text and owner.get_attribute("#credit-banner a", "href") == "../billing.html"
        assert owner.get_attribute("#credit-banner", "role") == "status"
    finally:
        _sql(site.stack, drain, user_id, left, "grant")
    site.no_page_errors()
