"""Team review in a real browser (issue 21): an owner and a reviewer rate an answer on the review page
and both see the average and spread; the owner creates a read-only share link that a hiring manager
without an account opens, then revokes it. Every page at 375 px with named controls, no sideways
scrolling; what people typed is shown as text. Screenshots go to test-artifacts/.

A stack of its own with signaling and the llm worker only (no answer is recorded through media: the
answer's caption is written to the database the way the stt worker does).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest
from browser_helpers import PHONE, confirm_registration, page_a11y_problems
from conftest import ROOT, Infra, Part, Stack, stack_env, start_stack
from page_fixtures import browser_fixture
from playwright.sync_api import Browser, Page

from interview_room.messages import Caption
from interview_room.store import captions as captions_store

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "correct horse battery staple"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def review_stack(infra: Infra) -> Iterator[Stack]:
    with start_stack(infra, stack_env(infra), "signaling", Part("llm", wait=False)) as s:
        yield s


browser = browser_fixture()


def _api(
    page: Page, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    res = page.request.fetch(path, method=method, data=body, headers={**SAME_ORIGIN, **(headers or {})})
    try:
        return res.status, res.json()
    except Exception:  # noqa: BLE001 - a 204
        return res.status, res.text()


def _caption(stack: Stack, sid: str, text: str) -> None:
    async def run() -> None:
        pool = await asyncpg.create_pool(stack.infra.database_url, min_size=1, max_size=1)
        try:
            cap = Caption(id=f"{sid}-c0", role="candidate", t0=0.0, t1=2.5, text=text, lang="en")
            assert await captions_store.insert_caption(pool, cap, sid, 0)
        finally:
            await pool.close()

    with ThreadPoolExecutor(1) as ex:
        ex.submit(asyncio.run, run()).result(timeout=60)


def _person(browser: Browser, stack: Stack, name: str, email: str) -> Page:
    ctx = browser.new_context(viewport=PHONE, base_url=stack.base_url)
    page = ctx.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto("/index.html#register")
    page.click("#tab-register")
    page.fill("#reg-name", name)
    page.fill("#reg-email", email)
    page.fill("#reg-password", PASSWORD)
    page.click("[data-testid=register-submit]")
    confirm_registration(page, stack.email_code(email))
    page.wait_for_url("**/sessions.html*")
    return page


def _shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _rate(page: Page, index: int, marks: dict[str, int], comment: str) -> None:
    for key, n in marks.items():
        page.get_by_label(f"{key.capitalize()} (1–5)").nth(index).select_option(str(n))
    page.locator(f"#rate-{index}-comment").fill(comment)
    page.get_by_role("button", name=f"Save my rating of answer {index + 1}").click()
    page.wait_for_selector(f".team-rating[data-index='{index}'] .form-ok:text('Saved.')")


def test_team_rates_and_shares_a_review(review_stack: Stack, browser: Browser) -> None:
    stack = review_stack
    errors: list[str] = []
    owner = _person(browser, stack, "Olga Owner", f"owner-{uuid.uuid4().hex[:8]}@example.com")
    owner.on("pageerror", lambda e: errors.append(str(e)))
    assert _api(owner, "POST", "/api/org", {"name": "Team Co"})[0] == 201
    st, iv = _api(
        owner, "POST", "/api/org/interviews", {"title": "Platform engineer", "questions": ["Tell us about an outage."]}
    )
    assert st == 201, iv
    st, inv = _api(
        owner, "POST", f"/api/org/interviews/{iv['id']}/candidates", {"name": "Cara <i>Candidate</i>", "email": None}
    )
    assert st == 201, inv
    token = {"X-Candidate-Token": inv["link"].split("#", 1)[1]}
    assert _api(owner, "POST", "/api/c/consent", headers=token)[0] == 200
    st, started = _api(owner, "POST", "/api/c/answers/0/start", headers=token)
    assert st == 201, started
    _caption(stack, started["session_id"], "We rolled back within five minutes.")
    assert _api(owner, "POST", "/api/c/answers/0/finish", headers=token)[0] == 200
    cid = inv["candidate"]["id"]

    rev_email = f"rev-{uuid.uuid4().hex[:8]}@example.com"
    st, team_inv = _api(owner, "POST", "/api/org/invites", {"email": rev_email, "role": "reviewer"})
    assert st == 201, team_inv
    reviewer = _person(browser, stack, "Rita Reviewer", rev_email)
    reviewer.on("pageerror", lambda e: errors.append(str(e)))
    st, joined = _api(reviewer, "POST", "/api/org/join", {"token": team_inv["link"].split("#", 1)[1]})
    assert st == 200 and joined["role"] == "reviewer", joined

    # the owner rates on the review page
    owner.goto(f"/recruit/review.html?id={cid}")
    owner.wait_for_selector(".team-rating[data-index='0'] .rating-form")
    _rate(owner, 0, {"relevance": 5, "depth": 4, "clarity": 3}, "Calm <script>alert(1)</script> answer")
    summary = owner.locator(".team-rating[data-index='0'] .team-summary")
    assert summary.get_attribute("data-count") == "1" and summary.get_attribute("data-average") == "4"

    # the reviewer rates too and sees the team's average and spread; no share box, no decision form
    reviewer.goto(f"/recruit/review.html?id={cid}")
    reviewer.wait_for_selector(".team-rating[data-index='0'] .rating-form")
    _rate(reviewer, 0, {"relevance": 2, "depth": 2, "clarity": 2}, "Too short")
    rsum = reviewer.locator(".team-rating[data-index='0'] .team-summary")
    assert rsum.text_content() == "Team average 3.0 / 5 · spread 2.0 · 2 ratings"
    assert reviewer.locator("#share-box").count() == 0
    assert reviewer.locator("#decision-form").is_hidden()
    assert reviewer.locator(".rating-comment script").count() == 0
    assert "Calm <script>alert(1)</script> answer" in reviewer.locator(".rating-comment").all_text_contents()
    assert page_a11y_problems(reviewer, "review (reviewer)") == []
    _shoot(reviewer, "team-review-reviewer-375")

    # the owner sees both ratings after a reload and creates a share link
    owner.reload()
    owner.wait_for_selector("#share-box")
    assert owner.locator(".team-rating[data-index='0'] .team-summary").get_attribute("data-spread") == "2"
    owner.get_by_label("Link valid for").select_option("3")
    owner.get_by_role("button", name="Create review link").click()
    owner.wait_for_selector("#share-result:not([hidden])")
    link = owner.input_value("#share-link")
    assert "/recruit/shared.html#" in link
    owner.wait_for_selector(".share-item[data-state='active']")
    assert page_a11y_problems(owner, "review (owner)") == []
    _shoot(owner, "team-review-owner-375")

    # a hiring manager without an account opens it
    manager_ctx = browser.new_context(viewport=PHONE, base_url=stack.base_url)
    manager = manager_ctx.new_page()
    manager.set_default_timeout(WAIT_MS)
    manager.on("pageerror", lambda e: errors.append(str(e)))
    manager.goto(link)
    manager.wait_for_selector("#view:not([hidden])")
    assert manager.text_content("#c-name") == "Cara <i>Candidate</i>" and manager.locator("#c-name i").count() == 0
    assert manager.locator(".team-summary").text_content() == "Team average 3.0 / 5 · spread 2.0 · 2 ratings"
    assert "We rolled back within five minutes." in (manager.text_content(".transcript-text") or "")
    assert manager.locator(".rating-comment script").count() == 0
    assert manager.locator("input, select, textarea, button").count() == 0  # read-only: nothing to change
    problems = [p for p in page_a11y_problems(manager, "shared review") if "no controls found" not in p]
    assert problems == []
    _shoot(manager, "team-review-shared-375")

    # revoked: the same link now says so
    owner.get_by_role("button", name="Revoke").first.click()
    owner.wait_for_selector(".share-item[data-state='revoked']")
    manager.goto("about:blank")
    manager.goto(link)
    manager.wait_for_selector("#load-status[data-state='invalid']")
    assert "expired or was revoked" in (manager.text_content("#load-status") or "")
    assert manager.locator("#view").is_hidden()
    _shoot(manager, "team-review-shared-revoked-375")

    # the owner manages the team on the dashboard: a role change, then the removal (effective at once)
    owner.goto("/recruit/index.html")
    role = owner.get_by_label("Role of Rita Reviewer")
    role.wait_for()
    assert role.input_value() == "reviewer"
    assert owner.locator("#member-list select").count() == 1  # the founding owner's row has no controls
    assert page_a11y_problems(owner, "dashboard (owner)") == []
    _shoot(owner, "team-members-375")
    with owner.expect_response(lambda r: r.request.method == "PATCH" and "/api/org/members/" in r.url) as patched:
        role.select_option("recruiter")
    assert patched.value.status == 200
    st, mine = _api(reviewer, "GET", "/api/org")
    assert st == 200 and mine["role"] == "recruiter"
    owner.once("dialog", lambda d: d.accept())
    owner.get_by_role("button", name="Remove Rita Reviewer from the team").click()
    owner.wait_for_function("() => !document.querySelector('#member-list select')")
    st, body = _api(reviewer, "GET", f"/api/org/candidates/{cid}")
    assert st == 403 and body["error"]["code"] == "removed_from_organisation"
    reviewer.reload()
    reviewer.wait_for_selector("#load-status:text('removed from the organisation')")
    assert errors == []
    manager_ctx.close()
    owner.context.close()
    reviewer.context.close()


def test_email_templates_preview_and_failures(review_stack: Stack, browser: Browser) -> None:
    """The stack has no mail server: every e-mail to a candidate fails, and the settings page says so."""
    stack = review_stack
    errors: list[str] = []
    owner = _person(browser, stack, "Mia Mailer", f"mail-{uuid.uuid4().hex[:8]}@example.com")
    owner.on("pageerror", lambda e: errors.append(str(e)))
    assert _api(owner, "POST", "/api/org", {"name": "Mail Co"})[0] == 201
    st, iv = _api(owner, "POST", "/api/org/interviews", {"title": "Designer", "company_name": "Mail Co"})
    assert st == 201, iv

    owner.goto("/recruit/settings.html")
    owner.get_by_label("Template").select_option("invite")
    assert "{{link}}" in owner.get_by_label("Text").input_value()
    owner.get_by_label("Subject").fill("<b>{{company}}</b> wants you, {{candidate_name}}")
    owner.get_by_label("Text").fill("Hello {{candidate_name}}, answer here: {{link}}")
    owner.get_by_role("button", name="Preview").click()
    owner.wait_for_selector("#tpl-preview-box:not([hidden])")
    assert owner.text_content("#pv-subject") == "Subject: <b>Acme Corp</b> wants you, Alex Example"
    assert owner.locator("#pv-subject b").count() == 0
    assert owner.text_content("#pv-body") == "Hello Alex Example, answer here: https://example.com/c.html#sample-link"
    owner.get_by_label("Text").fill("No link here")
    owner.get_by_role("button", name="Save template").click()
    owner.wait_for_selector("#tpl-error:text('{{link}}')")
    owner.get_by_label("Text").fill("Hello {{candidate_name}}, answer here: {{link}}")
    owner.get_by_role("button", name="Save template").click()
    owner.wait_for_selector("#tpl-msg:text('Saved.')")
    assert owner.text_content("#tpl-state") == "Your own text."

    st, inv = _api(
        owner,
        "POST",
        f"/api/org/interviews/{iv['id']}/candidates",
        {"name": "Lee", "email": "lee@example.com", "send_email": True},
    )
    assert st == 201 and inv["emailed"] is False
    owner.reload()
    failure = owner.locator(".email-failure[data-kind='invite']")
    failure.wait_for()
    assert "lee@example.com" in (failure.text_content() or "")
    assert "no mail server" in (failure.locator(".email-error").text_content() or "")
    assert page_a11y_problems(owner, "settings (e-mails)") == []
    _shoot(owner, "email-templates-375")

    cid = inv["candidate"]["id"]
    assert _api(owner, "POST", f"/api/org/candidates/{cid}/decision", {"decision": "pass"})[0] == 200
    owner.goto(f"/recruit/review.html?id={cid}")
    owner.get_by_role("button", name="E-mail the decision to the candidate").click()
    owner.wait_for_selector("#decision-email-msg:text('Not delivered')")
    st, log = _api(owner, "GET", "/api/org/email-deliveries")
    assert [(d["kind"], d["ok"]) for d in log["deliveries"]] == [("decision_pass", False), ("invite", False)]
    assert page_a11y_problems(owner, "review (decision e-mail)") == []
    assert errors == []
    owner.context.close()
