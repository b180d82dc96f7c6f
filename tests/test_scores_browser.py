"""Scores people can read, in headless Chromium against a signaling process of its own (issue 17,
items 3, 4 and 8): the live score card in the room and the session page show a bar and one sentence
per criterion (no "fillers: {}" key dump), the session's one score is the same in its facts and its
mock report, the report has no technical depth on a behavioural interview and names a question cut
short by "End interview", and the mock interviewer's follow-up reason and "moving on in N s" show.
Screenshots go to test-artifacts/; each page passes the 375 px and accessible-name checks.

The session page's data is written as the llm worker writes it (store functions on the real
database); the room's events are fed to the page's own dispatcher (window.roomEvents).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from conftest import Infra
from page_fixtures import page_fixtures
from test_newuser_pages import Visit, fetch_json

from ai_sidecar.llm.delivery import measure
from ai_sidecar.mock.report import AnswerFacts, build_report
from ai_sidecar.mock.spec import MockSpec
from interview_room import db
from interview_room.messages import Caption
from interview_room.store import captions as captions_store
from interview_room.store import insights
from interview_room.store import reports as reports_store
from interview_room.store.reports import MockState, PlannedQuestion

RUBRIC_NAMES = ["Relevance", "Completeness", "Structure", "Clarity", "Delivery"]
KEY_DUMP = re.compile(r"fillers:|talk seconds|word count|\{\}|\{\"|words per minute: ")
ANSWER = (
    "At my last company a teammate and I disagreed about the release plan. I set up a meeting, we listened "
    "to each other, and as a result we shipped on time and reduced the bugs by thirty percent. Um, that was it."
)


site, browser, visit = page_fixtures("signaling-scores")


def criteria_rows(page: Any, scope: str) -> list[dict[str, Any]]:
    return page.evaluate(
        """(scope) => [...document.querySelectorAll(`${scope} .criterion`)].map((c) => ({
             name: c.querySelector('.criterion-name').textContent,
             label: c.querySelector('meter').getAttribute('aria-label'),
             value: c.querySelector('meter').value,
             note: c.querySelector('.criterion-note').textContent,
             visible: c.getBoundingClientRect().height > 0 }))""",
        scope,
    )


def assert_readable(rows: list[dict[str, Any]], rubric: dict[str, int]) -> None:
    assert [r["name"] for r in rows] == RUBRIC_NAMES, rows
    for r, (key, value) in zip(rows, rubric.items(), strict=True):
        assert r["value"] == value and r["label"] == f"{r['name']} {value} of 100", (key, r)
        assert r["visible"] and r["note"].endswith(".") and len(r["note"].split()) >= 3, r
        assert not KEY_DUMP.search(r["note"]), r
    assert len({r["note"] for r in rows}) == len(rows), rows  # one sentence each, not one repeated


# ------------------------------------------------------------------------------ the live room


def test_live_score_card_and_mock_turns_in_the_room(visit: Visit) -> None:
    visit.sign_up("Score Reader")
    page = visit.page
    st, sess = fetch_json(page, "POST", "/api/sessions", {"title": "Live scores"})
    assert st == 201, sess
    page.goto(f"/room.html?id={sess['id']}")  # type: ignore[index]
    page.wait_for_function("() => document.querySelector('#room-title').textContent === 'Live scores'")
    rubric = {"relevance": 82, "completeness": 55, "structure": 75, "clarity": 40, "delivery": 68}
    delivery = {
        "word_count": 41, "talk_seconds": 10.92, "answer_seconds": 12.4, "words_per_minute": 225.3,
        "filler_words": 2, "fillers": {"um": 2}, "fillers_per_100_words": 4.9, "long_pauses": 0,
    }  # fmt: skip
    for m in (
        {"type": "question", "id": "q1", "caption_ids": [], "text": "Tell me about a conflict with a coworker."},
        {"type": "caption", "id": "c1", "role": "candidate", "text": ANSWER},
        {"type": "score", "question_id": "q1", "score": 66, "rubric": rubric, "feedback": "Use the STAR shape; add a measurable result.", "delivery": delivery},
    ):
        assert page.evaluate("(m) => roomEvents.apply(m)", m) is True, m
    card = ".question[data-id=q1] .score-details"
    page.wait_for_selector(f"{card} .criterion")
    rows = criteria_rows(page, card)
    assert_readable(rows, rubric)
    assert rows[-1]["note"] == "225 words per minute (fast), 2 filler words: um ×2.", rows[-1]
    text = page.inner_text(card)
    assert "Your answer scored 66 of 100" in text and "STAR shape" in text
    assert not KEY_DUMP.search(text), text
    assert page.get_attribute(".question[data-id=q1] .score-badge", "aria-label") == "Score 66 of 100"

    # the mock interviewer: why it follows up, and "moving on in N s" while nobody answers
    follow = {
        "type": "mock.question", "index": 2, "total": 5, "question_id": "q2", "text": "Who did you ask for help?",
        "follow_up": True, "reason": "Your answer did not cover asking for help early.", "time_allocation_s": 120,
    }  # fmt: skip
    assert page.evaluate("(m) => roomEvents.apply(m)", follow) is True
    assert page.is_visible("#mock-panel") and page.is_visible("#mock-followup")
    assert page.inner_text("#mock-reason") == "Your answer did not cover asking for help early."
    assert page.evaluate("(m) => roomEvents.apply(m)", {"type": "mock.countdown", "question_id": "q2", "seconds": 8, "follow_up": True})
    assert page.is_visible("#mock-countdown")
    assert "moving on in 8 s" in page.inner_text("#mock-countdown")
    page.wait_for_function("() => Number(document.querySelector('#mock-countdown').dataset.seconds) <= 6", timeout=10_000)
    visit.shoot("scores-live-room")
    visit.phone_check("scores-live-room")
    # the candidate starts answering: the countdown is gone
    page.evaluate("(m) => roomEvents.apply(m)", {"type": "caption", "id": "c2", "role": "candidate", "text": "I asked my lead."})
    assert page.is_hidden("#mock-countdown")
    # the next question: no follow-up reason left over
    page.evaluate("(m) => roomEvents.apply(m)", {**follow, "index": 3, "question_id": "q3", "follow_up": False, "reason": "", "text": "Next one?"})
    assert page.is_hidden("#mock-reason") and page.is_hidden("#mock-followup")
    visit.clean()


# ------------------------------------------------------------------------------ the session page


async def _ended_mock_session(database_url: str, sid: str, user_id: str) -> dict[str, Any]:
    """What the llm worker leaves after a behavioural mock interview ended on its third question."""
    pool = await db.create_pool(database_url)
    try:
        rubric = {"relevance": 80, "completeness": 60, "structure": 75, "clarity": 90, "delivery": 70}
        plan = [
            PlannedQuestion(
                idx=i, question_id=f"q:{sid}:mock:{i}", text=text, category="behavioural",
                key_points=["the situation", "what you did", "the result"], follow_ups=["What was the result?"],
                time_allocation_s=120, source="bank", status=status,
            )  # fmt: skip
            for i, text, status in (
                (1, "Tell me about a conflict with a coworker.", "answered"),
                (2, "Tell me about a time you failed.", "unanswered"),
                (3, "Why do you want this job?", "ended_early"),
                (4, "Where do you see yourself in five years?", "pending"),
            )
        ]
        cap = Caption(id=f"{sid}:candidate:1", role="candidate", t0=5.0, t1=25.0, text=ANSWER, lang="en")
        await captions_store.insert_caption(pool, cap, sid, 1)
        facts = measure([cap])
        for q in plan[:3]:
            await insights.insert_question(pool, sid, q.question_id, q.text, "en", [], source="mock")
        await insights.insert_score(pool, sid, plan[0].question_id, 74, rubric, "Use the STAR shape; add a measurable result.", facts.to_dict(), ANSWER)
        now = datetime.now(UTC)
        state = MockState(
            session_id=sid, user_id=user_id, mock_type="behavioral", difficulty="medium", provider="offline",
            total=4, current=3, phase="done", started_at=now, ended_at=now, done_reason="ended_early",
        )  # fmt: skip
        score_row = {"score": 74, "rubric": rubric, "feedback": "Use the STAR shape; add a measurable result."}
        report = build_report(
            session_id=sid,
            spec=MockSpec(type="behavioral", duration_minutes=10),
            state=state,
            facts=[AnswerFacts(plan[0], [cap], score_row), AnswerFacts(plan[1]), AnswerFacts(plan[2]), AnswerFacts(plan[3])],
            provider="offline",
        )
        await reports_store.save_report(pool, sid, user_id, "behavioral", report)
        await pool.execute(
            "UPDATE sessions SET status = 'ended', started_at = now(), ended_at = now(), media_seconds = 95 WHERE id = $1",
            uuid.UUID(sid),
        )
        return report
    finally:
        await pool.close()


def test_session_page_scores_and_one_number(visit: Visit, infra: Infra) -> None:
    visit.sign_up("Report Reader")
    page = visit.page
    st, me = fetch_json(page, "GET", "/api/me")
    assert st == 200
    st, sess = fetch_json(
        page, "POST", "/api/sessions",
        {"title": "Behavioural practice", "mode": "mock", "mock": {"type": "behavioral", "duration_minutes": 10}},
    )  # fmt: skip
    assert st == 201, sess
    sid = sess["id"]  # type: ignore[index]
    # Playwright's sync API runs an event loop in this thread: the database writes run in another
    with ThreadPoolExecutor(1) as ex:
        report = ex.submit(asyncio.run, _ended_mock_session(infra.database_url, sid, me["user"]["id"])).result()  # type: ignore[index]
    overall = report["overall_score"]
    assert overall == round((74 + 0) / 2) == 37  # the unanswered question counts 0; the ended-early one not at all

    page.goto(f"/session.html?id={sid}")
    page.wait_for_selector("#report-score")
    facts = dict(zip(page.locator("#facts dt").all_inner_texts(), page.locator("#facts dd").all_inner_texts(), strict=True))
    assert facts["Score"] == f"{overall} / 100" and "Average score" not in facts, facts
    assert page.inner_text("#report-score") == str(overall)
    assert "How the score is made:" in page.inner_text("#report-body")
    bars = page.locator(".report-bar meter").evaluate_all("(ms) => ms.map((m) => m.getAttribute('aria-label'))")
    assert bars == ["Communication", "Problem solving", "Structure", "Time management"], bars  # no technical depth
    statuses = page.locator(".report-question").evaluate_all(
        "(qs) => qs.map((q) => [q.dataset.status, q.querySelector('.score-badge').textContent, q.querySelector('p.small').textContent])"
    )
    assert [s[0] for s in statuses] == ["answered", "unanswered", "ended_early"], statuses
    assert statuses[2][1] == "—" and statuses[2][2].startswith("Cut short"), statuses
    assert statuses[1][2].startswith("No answer"), statuses

    # the answer's score: a bar and one sentence per criterion, delivery in words
    q1 = f".question[data-id='q:{sid}:mock:1'] .score-details"
    rows = criteria_rows(page, q1)
    assert_readable(rows, {"relevance": 80, "completeness": 60, "structure": 75, "clarity": 90, "delivery": 70})
    assert re.fullmatch(r"\d+ words per minute( \((fast|slow)\))?, 1 filler word: um ×1\.", rows[-1]["note"]), rows[-1]
    assert not KEY_DUMP.search(page.inner_text("#questions")), page.inner_text("#questions")

    # the history list shows the same number
    page.goto("/sessions.html")
    badge = page.locator(f".session-item[data-id='{sid}'] .score-badge")
    badge.wait_for()
    assert badge.inner_text() == str(overall) and badge.get_attribute("aria-label") == f"Score {overall} of 100"

    page.goto(f"/session.html?id={sid}")
    page.wait_for_selector("#report-score")
    page.locator(q1).scroll_into_view_if_needed()
    visit.shoot("scores-session-page")
    visit.phone_check("scores-session-page")
    visit.clean()
