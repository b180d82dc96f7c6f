"""Issue 21 (P2) in a real browser: "Suggest questions" in the interview editor, the candidate's CV
upload and the CV section of the review page (headless Chromium against the real stack, whose llm
worker runs the offline provider). Each page is also checked at 375 px (named controls, no sideways
scroll) and for CSP violations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import (
    PHONE,
    chromium,
    confirm_registration,
    csp_violations,
    page_a11y_problems,
    silence_wav,
    watch_csp,
)
from conftest import ROOT, Stack
from playwright.sync_api import Browser, Page
from test_cv_questions import CV, JD, _docx

ARTIFACTS = ROOT / "test-artifacts"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def _api(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    res = page.request.fetch(path, method=method, data=body, headers=SAME_ORIGIN)
    return res.status, res.json()


def _a11y(page: Page, name: str) -> None:
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"cv-questions-{name}-375.png"), full_page=True)
    problems = page_a11y_problems(page, name)
    assert not problems, "\n".join(problems)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = silence_wav(tmp_path_factory.mktemp("mic") / "silence.wav")
    with chromium(mic) as b:
        yield b


def test_suggest_questions_cv_upload_and_review(stack: Stack, browser: Browser) -> None:
    errors: list[str] = []
    csp: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    watch_csp(page, csp)
    try:
        addr = f"cvq-{uuid.uuid4().hex[:10]}@example.com"
        page.goto("/index.html#register")
        page.click("#tab-register")
        page.fill("#reg-name", "Rita Recruiter")
        page.fill("#reg-email", addr)
        page.fill("#reg-password", "correct horse battery staple")
        page.click("[data-testid=register-submit]")
        confirm_registration(page, stack.email_code(addr))
        page.wait_for_url("**/sessions.html*")
        st, _ = _api(page, "POST", "/api/org", {"name": "CV Co"})
        assert st == 201

        # the editor: suggestions fill the editable list, nothing is saved until Save
        page.goto("/recruit/interview.html")
        page.wait_for_selector(".q-item")
        page.fill("#iv-title", "Backend")
        page.fill("#iv-jd", JD)
        page.click("#suggest-questions")
        page.wait_for_selector("#q-list .q-item:nth-child(5)")
        texts = page.eval_on_selector_all("#q-list .q-text", "els => els.map(e => e.value)")
        points = page.eval_on_selector_all("#q-list .q-points", "els => els.map(e => e.value)")
        assert any("PostgreSQL" in t for t in texts) and all(p.strip() for p in points), (texts, points)
        assert "drafted" in (page.text_content("#suggest-msg") or "")
        st, ivs = _api(page, "GET", "/api/org/interviews")
        assert ivs["interviews"] == []
        _a11y(page, "interview")
        page.fill("#q-list .q-item:first-child .q-points", "Names a database they ran\nExplains a scaling decision")
        page.click("#iv-save")
        page.wait_for_url("**/interview.html?id=*")
        st, ivs = _api(page, "GET", "/api/org/interviews")
        iv = ivs["interviews"][0]
        assert len(iv["questions"]) == len(texts)
        assert iv["questions"][0]["key_points"] == ["Names a database they ran", "Explains a scaling decision"]
        assert iv["questions"][1]["key_points"] == points[1].split("\n")

        # the candidate uploads a CV on their page
        st, inv = _api(
            page, "POST", f"/api/org/interviews/{iv['id']}/candidates", {"name": "Jane", "send_email": False}
        )
        assert st == 201, inv
        cand = ctx.new_page()
        cand.on("pageerror", lambda e: errors.append(str(e)))
        watch_csp(cand, csp)
        cand.goto(inv["link"].replace(stack.base_url, ""))
        cand.wait_for_selector("#cv-upload:not([hidden])")
        cand.set_input_files(
            "#cv-file",
            files=[{"name": "jane.docx", "mimeType": "application/octet-stream", "buffer": _docx(CV)}],
        )
        cand.click("#cv-send")
        cand.wait_for_selector("#cv-msg:has-text('Uploaded: jane.docx')")
        _a11y(cand, "c-intro")
        csp.extend(csp_violations(cand))

        # the review shows the reading and the match with its evidence
        page.goto(f"/recruit/review.html?id={inv['candidate']['id']}")
        page.wait_for_selector("#cv-box:not([hidden])")
        page.wait_for_selector("#cv-view h3:has-text('Match with the job description')")
        view = page.text_content("#cv-view") or ""
        assert "PostgreSQL" in view and "Leeds" in view and "tuned PostgreSQL" in view, view
        assert "No evidence" in view and "Run workloads on Kubernetes" in view
        _a11y(page, "review")
        csp.extend(csp_violations(page))
        assert not errors, errors
        assert not csp, csp
    finally:
        ctx.close()
