"""Readable scores and mock turn-taking (issue 17, items 3, 4 and 8), on real Redis and Postgres.

The llm worker runs in this process on a private job stream (as in test_llm_worker.py), fed the
jobs the media node and the stt worker would send: captions, the candidate's voice activity
(``voice`` jobs, from the media node's VAD), mock actions and the session end. The signaling API
(an in-process app on the same database) then serves the numbers a person sees.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from pypdf import PdfReader

from ai_sidecar.llm.offline import OfflineProvider
from ai_sidecar.mock.commands import parse_command
from ai_sidecar.mock.engine import pick_follow_up, turn_status
from interview_room.messages import Event, LlmJob, MockCountdown, MockQuestion, VoiceActivity
from interview_room.store import insights
from interview_room.store import reports as reports_store
from tests.test_llm_worker import Harness, done_count, has, new_session, running
from tests.test_sessions import api, cfg, new_user, no_media_nodes, redis  # noqa: F401  (fixtures)

WEAK_ANSWER = "I think it went fine and people were mostly happy with how everything worked out in the end"


def worker(
    r: aioredis.Redis, pool: asyncpg.Pool, *, score_pause_s: float = 0.6, mock_pause_s: float = 0.8, follow_up_wait_s: float = 3.0
) -> AbstractAsyncContextManager[Harness]:
    return running(
        r,
        pool,
        OfflineProvider(),
        question_pause_s=0.3,
        score_pause_s=score_pause_s,
        mock_pause_s=mock_pause_s,
        mock_follow_up_wait_s=follow_up_wait_s,
    )


async def voice(h: Harness, sid: str, speaking: bool) -> None:
    await h.job(LlmJob("voice", sid, VoiceActivity(role="candidate", speaking=speaking, t=h.t.get(sid, 0.0)).to_payload()))


def mock_questions(evs: list[Event]) -> list[MockQuestion]:
    return [e for e in evs if isinstance(e, MockQuestion)]


def asked(index: int, follow_up: bool = False) -> Callable[[list[Event]], bool]:
    return lambda evs: any(q.index == index and q.follow_up == follow_up and not q.repeat for q in mock_questions(evs))


# ------------------------------------------------------------------ item 3: scored at the end of speech


async def test_live_answer_is_scored_when_the_candidate_stopped_speaking(r: aioredis.Redis, pool: asyncpg.Pool) -> None:
    """Captions pausing is not the end of the answer: while the media node says the candidate is
    speaking nothing is scored, however long the captions pause; the score comes once, after they stop."""
    sid = await new_session(pool)
    async with worker(r, pool, score_pause_s=0.6) as h:
        await h.caption(sid, "interviewer", "Tell me about a time you had a conflict with a coworker.")
        await h.events(sid, done_count())
        await voice(h, sid, True)
        await h.caption(sid, "candidate", "At my last company a teammate and I disagreed about the release plan.", dur=4.0)
        # a long sentence still being spoken: its caption comes only when the utterance ends
        await asyncio.sleep(2.5)  # four times the score pause
        evs = await h.events(sid, lambda _: True)
        assert [e for e in evs if e.type == "score"] == [], "scored in the middle of the answer"
        await h.caption(sid, "candidate", "I set up a meeting, we listened to each other and shipped on time as a result.", dur=5.0)
        await voice(h, sid, False)
        evs = await h.events(sid, has("score"))
        await asyncio.sleep(1.5)  # nothing changes it quietly afterwards
        evs = await h.events(sid, lambda _: True)
    scores = [e for e in evs if e.type == "score"]
    assert len(scores) == 1, scores
    stored = await insights.list_scores(pool, sid)
    assert len(stored) == 1 and "shipped on time" in stored[0]["candidate_text"] and "release plan" in stored[0]["candidate_text"]


async def test_voice_activity_of_the_interviewer_does_not_hold_the_score(r: aioredis.Redis, pool: asyncpg.Pool) -> None:
    sid = await new_session(pool)
    async with worker(r, pool, score_pause_s=0.6) as h:
        await h.caption(sid, "interviewer", "Tell me about a time you had a conflict with a coworker.")
        await h.events(sid, done_count())
        await voice(h, sid, True)
        await voice(h, sid, False)
        await h.job(LlmJob("voice", sid, VoiceActivity(role="interviewer", speaking=True, t=1.0).to_payload()))
        await h.job(LlmJob("voice", sid, {"role": "candidate"}))  # malformed: dropped, nothing changes
        await h.caption(sid, "candidate", "At my last company a teammate and I disagreed about the release plan.", dur=4.0)
        evs = await h.events(sid, has("score"))
    assert len([e for e in evs if e.type == "score"]) == 1


# ------------------------------------------------------------------ item 8: spoken commands


def test_a_command_at_the_end_of_an_answer() -> None:
    assert parse_command("We used a cache for the reads. Let's end the interview.") == ("end", "We used a cache for the reads.")
    assert parse_command("I think we used a queue. Could you repeat the question?") == ("repeat", "I think we used a queue.")
    assert parse_command("It went fine in the end. Next question, please.") == ("next", "It went fine in the end. Next question, please.")
    assert parse_command("Honestly no idea. Can we skip this one?") == ("skip", "Honestly no idea.")
    assert parse_command("We stopped the interview process. It was too long.") == (None, "We stopped the interview process. It was too long.")
    assert turn_status(False, "end") == "ended_early" and turn_status(True, "end") == "answered"
    assert turn_status(False, "skip") == "skipped" and turn_status(False, "no_answer") == "unanswered"
    assert pick_follow_up(["How did you measure it?", "Who did you ask for help?"], ["You asked for help early"]) == "Who did you ask for help?"


async def _mock_session(api: TestClient, pool: asyncpg.Pool) -> tuple[Any, str]:  # noqa: F811
    u = await new_user(api)
    s = await u.new_session(mode="mock", mock={"type": "behavioral", "difficulty": "medium", "duration_minutes": 10})
    await pool.execute("UPDATE sessions SET status = 'live', started_at = now() WHERE id = $1", uuid.UUID(s["id"]))
    return u, s["id"]


async def test_mock_turn_taking_and_one_score_everywhere(r: aioredis.Redis, pool: asyncpg.Pool, api: TestClient) -> None:  # noqa: F811
    u, sid = await _mock_session(api, pool)
    async with worker(r, pool, follow_up_wait_s=3.0) as h:
        await h.job(LlmJob("mock", sid, {"action": "start"}))
        evs = await h.events(sid, asked(1))
        # Q1: a weak answer that ends with "That's all": the candidate moves on, no follow-up
        await h.caption(sid, "candidate", f"{WEAK_ANSWER}. That's all.", dur=6.0)
        evs = await h.events(sid, asked(2), timeout=30)
        assert not any(q.index == 1 and q.follow_up for q in mock_questions(evs)), mock_questions(evs)

        # Q2: a weak answer, then a pause: a follow-up that says which key point was missed
        await h.caption(sid, "candidate", WEAK_ANSWER, dur=6.0)
        evs = await h.events(sid, asked(2, follow_up=True), timeout=30)
        follow = next(q for q in mock_questions(evs) if q.index == 2 and q.follow_up)
        assert follow.reason.startswith("Your answer did not cover "), follow
        assert follow.reason in follow.speech and follow.text in follow.speech
        # nobody answers the follow-up: "moving on in N s", then the next question (no dead air)
        evs = await h.events(sid, asked(3), timeout=40)
        countdowns = [e for e in evs if isinstance(e, MockCountdown)]
        assert len(countdowns) == 1 and countdowns[0].follow_up and 1 <= countdowns[0].seconds <= 10, countdowns
        order = [e.type for e in evs if e.type in ("mock.countdown", "mock.question")]
        assert order[-2:] == ["mock.countdown", "mock.question"], order
        q3 = next(q for q in mock_questions(evs) if q.index == 3)
        assert q3.speech.startswith("Let's move on."), q3.speech

        # Q3: "End interview" before any answer
        await h.job(LlmJob("mock", sid, {"action": "end"}))
        evs = await h.events(sid, has("mock.done", reason="ended_early"))
        await h.job(LlmJob("session_end", sid, {"reason": "mock_complete"}))
        report = None
        for _ in range(100):
            report = await reports_store.get_report(pool, u.id, uuid.UUID(sid))
            if report is not None:
                break
            await asyncio.sleep(0.2)
    assert report is not None
    qs = {q["index"]: q for q in report["questions"]}
    assert [qs[i]["status"] for i in (1, 2, 3)] == ["answered", "answered", "ended_early"]
    assert all(q["status"] == "pending" for i, q in qs.items() if i > 3)
    assert any("ended before you answered" in t for t in qs[3]["to_improve"])
    assert "no answer" not in " ".join(qs[3]["to_improve"]).lower()
    assert qs[2]["follow_up"] == follow.text
    # behavioural: no technical depth
    assert "technical_depth" not in report["breakdown"] and set(report["breakdown"]) == {
        "communication", "problem_solving", "structure", "time_management",
    }  # fmt: skip
    # one number: the mean of the counted question scores (the ended-early one is not counted)
    expected = round((qs[1]["score"] + qs[2]["score"]) / 2)
    assert report["overall_score"] == expected and report["questions_ended_early"] == 1
    assert report["score_definition"]

    await pool.execute("UPDATE sessions SET status = 'ended', ended_at = now() WHERE id = $1", uuid.UUID(sid))
    listed = next(s for s in (await u.call("GET", "/api/sessions", 200))["sessions"] if s["id"] == sid)
    detail = await u.call("GET", f"/api/sessions/{sid}", 200)
    full = await u.call("GET", f"/api/sessions/{sid}/report", 200)
    assert listed["score"] == detail["score"] == full["overall_score"] == expected
    assert listed["average_score"] == detail["average_score"] == expected  # older clients read the same number
    point = next(p for p in full["progress"]["history"] if p["current"])
    assert point["overall_score"] == expected
    pdf = await u.call("GET", f"/api/sessions/{sid}/report.pdf", 200)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert f"{expected}\nscore / 100" in text or f"{expected} score / 100" in text, text[:400]
    assert "Technical depth" not in text and "cut short" in text
    # the answers' scores the session page lists are the ones the report averages
    by_q = {q["id"]: q for q in detail["questions"]}
    assert by_q[qs[1]["question_id"]]["score"]["score"] == qs[1]["score"]
    assert json.dumps(full).count('"ended_early"') >= 2  # the question's status and the interview's end
