"""The recruiter dashboard's funnel chart (issue 21.4) in headless Chromium against a signaling process of
its own: candidates driven through the real API, then the dashboard's inline SVG charts (organisation and
one interview's drop-off per question) read back with their accessible names and hidden data tables;
375 px without sideways scrolling, under the page CSP. Screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any

from page_fixtures import page_fixtures
from playwright.sync_api import Page
from test_newuser_pages import Visit, fetch_json

site, browser, visit = page_fixtures("signaling-funnel", CANDIDATE_RETENTION_DAYS="30")


def cand(page: Page, method: str, path: str, token: str) -> tuple[int, Any]:
    result: list[Any] = page.evaluate(
        """async ([method, path, token]) => {
          const r = await fetch(path, { method, headers: { Accept: 'application/json', 'X-Candidate-Token': token } });
          const text = await r.text();
          return [r.status, text ? JSON.parse(text) : null];
        }""",
        [method, path, token],
    )
    return result[0], result[1]


def test_dashboard_funnel_chart(visit: Visit) -> None:
    page = visit.page
    visit.sign_up("Funnel Owner")
    page.goto("/recruit/index.html")
    st, _ = fetch_json(page, "POST", "/api/org", {"name": "Funnel Co"})
    assert st == 201
    st, iv = fetch_json(page, "POST", "/api/org/interviews", {"title": "Support", "questions": ["One?", "Two?"]})
    assert st == 201
    tokens, ids = [], []
    for name in ("Ann", "Ben", "Cat"):
        st, inv = fetch_json(page, "POST", f"/api/org/interviews/{iv['id']}/candidates", {"name": name, "send_email": False})  # type: ignore[index]
        assert st == 201, inv
        tokens.append(inv["link"].split("#", 1)[1])  # type: ignore[index]
        ids.append(inv["candidate"]["id"])  # type: ignore[index]
    for tok in tokens[:2]:
        assert cand(page, "POST", "/api/c/consent", tokens[0] if tok is tokens[0] else tok)[0] == 200
    for n in (0, 1):  # Ann answers both and completes; Ben consented and stops at question 1
        assert cand(page, "POST", f"/api/c/answers/{n}/start", tokens[0])[0] == 201
        assert cand(page, "POST", f"/api/c/answers/{n}/finish", tokens[0])[0] == 200
    assert cand(page, "POST", "/api/c/complete", tokens[0])[0] == 200
    st, _ = fetch_json(page, "POST", f"/api/org/candidates/{ids[0]}/decision", {"decision": "pass"})
    assert st == 200

    page.goto("/recruit/index.html")
    page.wait_for_selector("#funnel-section:not([hidden]) [data-chart=funnel] svg[role=img]")
    label = page.get_attribute("[data-chart=funnel] svg", "aria-label")
    assert label == "Candidates at each stage: all interviews: Invited 3, Started 2, Completed 1, Passed 1"
    assert page.locator("[data-chart=funnel] svg rect.bar").count() == 4
    rows = page.locator("[data-chart=funnel] table.chart-data tbody tr").all_inner_texts()
    assert [r.split("\t")[:2] for r in rows] == [["Invited", "3"], ["Started", "2"], ["Completed", "1"], ["Passed", "1"]]
    assert "Median completion time (consent to completion):" in page.inner_text("#funnel-time")
    assert page.get_attribute("#funnel-interview", "id") and page.locator("label[for=funnel-interview]").count() == 1
    page.select_option("#funnel-interview", iv["id"])  # type: ignore[index]
    page.wait_for_selector("[data-chart=drop-off] svg[role=img]")
    assert page.get_attribute("[data-chart=funnel] svg", "aria-label") == (
        "Candidates at each stage: Support: Invited 3, Started 2, Completed 1, Passed 1"
    )
    assert page.get_attribute("[data-chart=drop-off] svg", "aria-label") == (
        "Candidates who stopped at each question: Support: Question 1 1, Question 2 0"
    )
    visit.shoot("recruit-funnel-desktop")
    visit.phone_check("recruit-funnel")
    visit.clean()

    # issue 21.6: the shared score view (room, session page, review) labels every score as the AI's suggestion
    note = page.evaluate(
        """async () => {
          const m = await import('/js/score-view.js');
          return m.rubricView(document, { rubric: { relevance: 80 } }).querySelector('.score-suggestion').textContent;
        }"""
    )
    assert note == "AI suggestion: a guide to the answer, not a verdict. A person decides."
    # accommodations on the review page: Cat gets time and a half, for her only
    page.goto(f"/recruit/review.html?id={ids[2]}")
    page.wait_for_selector("#accommodations:not([hidden])")
    assert page.input_value("#extra-time") == "0"
    page.select_option("#extra-time", "50")
    page.click("#accommodations-save")
    page.wait_for_selector("#accommodations-msg:has-text('Saved: +50 % time.')")
    assert page.text_content("#overall") == "Overall (AI suggestion) —"
    visit.phone_check("recruit-review-accommodations")
    cat = cand(page, "GET", "/api/c/state", tokens[2])[1]
    ben = cand(page, "GET", "/api/c/state", tokens[1])[1]
    assert [q["answer_seconds"] for q in cat["questions"]] == [180, 180]  # 120 s each, +50 %
    assert [q["answer_seconds"] for q in ben["questions"]] == [120, 120]
    # the consent page says what is recorded, who sees it and how long it is kept (CANDIDATE_RETENTION_DAYS)
    page.goto("about:blank")
    page.goto(f"/c.html#{tokens[2]}")
    page.wait_for_selector("#intro:not([hidden])")
    facts = page.locator("#privacy-facts li").all_inner_texts()
    assert facts[0].startswith("Recorded: the video (when your camera is on) and audio of each answer")
    assert "only the members of the hiring team" in facts[1] and "suggestion, not a decision" in facts[1]
    assert facts[2] == (
        "Kept: 30 days after you complete the interview (or your link runs out), then erased; "
        "the hiring team can delete it sooner."
    )
    visit.shoot("candidate-consent-privacy")
    visit.phone_check("candidate-consent-privacy")
    visit.clean()
