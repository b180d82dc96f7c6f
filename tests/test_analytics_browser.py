"""The analytics page (issue 20.6) in headless Chromium against a signaling process of its own: a new user's
sessions (written into Postgres as the workers would) drawn as inline SVG charts with accessible names and
hidden data tables, the nav's Progress link, 375 px without sideways scrolling, under the page CSP.
Screenshots go to test-artifacts/. The browser reaches 127.0.0.1 only."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from analytics_fixtures import add_session
from conftest import Stack
from page_fixtures import page_fixtures
from test_newuser_pages import Visit, fetch_json

from interview_room import db

site, browser, visit = page_fixtures("signaling-analytics")


def _seed(stack: Stack, user_id: str) -> None:
    async def run() -> None:
        pool = await db.create_pool(stack.infra.database_url)
        try:
            await add_session(pool, user_id, 1, [(50, 120, 6, 60.0), (70, 80, 4, 40.0)], title="First")
            await add_session(
                pool, user_id, 2, [(80, 150, 3, 60.0), (30, 50, 2, 30.0)],
                mock=("behavioral", 40, [("teamwork", "answered"), ("conflict", "answered")]),
            )
            await add_session(
                pool, user_id, 3, [(90, 300, 0, 120.0), (10, 0, 0, 0.0)],
                mock=("behavioral", 45, [("teamwork", "answered"), ("system design", "unanswered")]),
            )
        finally:
            await pool.close()

    with ThreadPoolExecutor(1) as ex:
        ex.submit(asyncio.run, run()).result(timeout=60)


def test_analytics_page_draws_accessible_charts(visit: Visit, site: Stack) -> None:
    page = visit.page
    visit.sign_up("Chart Reader")
    page.goto("/analytics.html")
    page.wait_for_selector("#analytics-status:has-text('No ended sessions yet')")
    assert page.locator("svg[role=img]").count() == 0
    st, me = fetch_json(page, "GET", "/api/me")
    assert st == 200
    _seed(site, me["user"]["id"])  # type: ignore[index]

    page.click("#site-nav a:text-is('Progress')")
    page.wait_for_url("**/analytics.html")
    assert page.get_attribute("#site-nav a[href='analytics.html']", "aria-current") == "page"
    page.wait_for_selector("[data-chart=scores] svg[role=img]")
    assert page.inner_text("#analytics-status") == "Your latest 3 ended sessions."
    scores = page.locator("[data-chart=scores] svg")
    assert scores.get_attribute("aria-label") == "Session score (0–100): Score from 60 to 45 over 3 points"
    assert scores.locator("circle").count() == 3 and scores.locator("polyline").count() == 1
    # the hidden table carries the same numbers for screen readers
    cells = page.locator("[data-chart=scores] table.chart-data tbody td").all_text_contents()
    assert cells == ["60", "40", "45"]
    assert "from 5 to 0 over 3 points" in page.get_attribute("[data-chart=fillers] svg", "aria-label")
    assert "from 120 to 150 over 3 points" in page.get_attribute("[data-chart=pace] svg", "aria-label")
    topics = page.get_attribute("[data-chart=topics] svg", "aria-label")
    assert topics == "Mean score per topic (0–100): system design 10, conflict 30, teamwork 85"
    assert page.locator("[data-chart=topics] svg rect.bar").count() == 3
    mock = page.get_attribute("[data-chart=mock-behavioral] svg", "aria-label")
    assert mock == "Behavioural mock interviews: score: Score from 40 to 45 over 2 points"
    # charts are SVG drawn from data: texts set with textContent, nothing injected as markup
    assert page.locator("[data-chart=scores] svg text").count() >= 5
    visit.shoot("analytics-desktop")
    visit.phone_check("analytics")
    visit.clean()
