"""Candidates watch their own takes and answer an optional practice question (issue 17, item 12).

The signaling app runs in this process on a real port (real embedded Postgres and Redis). Takes are
started and finished through the candidate API; their recordings are files written where the media node
writes them (the media path and the page are covered by tests/test_candidate_takes_browser.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from conftest import Infra
from recruit_fixtures import Api, recruit_api, token_of

from web.common.context import SERVICES
from web.recruiting import practice
from web.recruiting.answer_limits import AnswerTimeLimit

QUESTIONS = [
    {"text": "Tell us about a project you are proud of.", "answer_seconds": 300, "retakes": 1},
    {"text": "Why this team?", "answer_seconds": 300, "retakes": 0},
]
PRACTICE = "Tell us what you had for breakfast."


@pytest_asyncio.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra) as a:
        yield a


async def _interview(api: Api, rec: str, **extra: Any) -> str:
    body = {"title": "Takes", "questions": QUESTIONS, **extra}
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=body)
    assert st == 201, iv
    return str(iv["id"])


async def _candidate(api: Api, rec: str, iv: str, consent: bool = True) -> tuple[str, str]:
    st, inv = await api.call("POST", f"/api/org/interviews/{iv}/candidates", rec, json={"name": "Cand"})
    assert st == 201, inv
    token = token_of(inv["link"])
    if consent:
        st, _ = await api.cand("POST", "/api/c/consent", token)
        assert st == 200
    return str(inv["candidate"]["id"]), token


async def _take(api: Api, token: str, n: int | str, content: bytes) -> str:
    """One attempt started and saved, its recording holding ``content``."""
    st, started = await api.cand("POST", f"/api/c/answers/{n}/start", token)
    assert st == 201, started
    sid = started["session_id"]
    path = api.cfg.recordings_dir / f"{sid}.webm"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    st, body = await api.cand("POST", f"/api/c/answers/{n}/finish", token)
    assert st == 200, body
    return str(sid)


async def _watch(api: Api, token: str, n: int | str) -> tuple[int, Any, dict[str, str]]:
    async with api.http.get(f"{api.base}/api/c/answers/{n}/recording", headers={"X-Candidate-Token": token}) as r:
        return r.status, await r.read(), dict(r.headers)


async def test_candidate_watches_only_their_own_latest_take(api: Api) -> None:
    rec = await api.recruiter("Takes org")
    iv = await _interview(api, rec)
    cid, token = await _candidate(api, rec, iv)
    _, other = await _candidate(api, rec, iv)
    _, unconsented = await _candidate(api, rec, iv, consent=False)

    st, body, _ = await _watch(api, token, 0)
    assert st == 404 and b"no_recording" in body  # nothing saved yet
    st, started = await api.cand("POST", "/api/c/answers/0/start", token)
    assert st == 201
    api.cfg.recordings_dir.mkdir(parents=True, exist_ok=True)
    (api.cfg.recordings_dir / f"{started['session_id']}.webm").write_bytes(b"take in progress")
    st, body, _ = await _watch(api, token, 0)
    assert st == 404  # a take still recording is not a saved take
    st, _ = await api.cand("POST", "/api/c/answers/0/finish", token)
    assert st == 200
    st, body, headers = await _watch(api, token, 0)
    assert st == 200 and body == b"take in progress"
    assert headers["Content-Type"] == "audio/webm" and headers["Cache-Control"] == "no-store"

    await _take(api, token, 0, b"second take")  # the retake replaces what is shown
    st, body, _ = await _watch(api, token, 0)
    assert st == 200 and body == b"second take"

    # another candidate of the same interview, no token, a forged token, other questions: nothing
    st, body, _ = await _watch(api, other, 0)
    assert st == 404 and b"no_recording" in body
    async with api.http.get(f"{api.base}/api/c/answers/0/recording") as r:
        assert r.status == 404
    st, _, _ = await _watch(api, token + "x", 0)
    assert st == 404
    for n in ("1", "2", "-1", "practice", "0x"):
        st, _, _ = await _watch(api, token, n)
        assert st == 404, n
    st, body, _ = await _watch(api, unconsented, 0)
    assert st == 409 and b"consent_required" in body
    # the recruiter reviews the same take
    st, body = await api.call("GET", f"/api/org/candidates/{cid}/answers/0/recording", rec)
    assert st == 200 and body == "second take"


async def test_practice_question_is_recorded_but_never_an_answer(api: Api) -> None:
    rec = await api.recruiter("Practice org")
    st, too_long = await api.call(
        "POST", "/api/org/interviews", rec, json={"title": "x", "practice_question": "a" * 2001}
    )
    assert st == 400 and too_long["error"]["field"] == "practice_question"
    iv = await _interview(api, rec, practice_question=f"  {PRACTICE} ")
    st, got = await api.call("GET", f"/api/org/interviews/{iv}", rec)
    assert st == 200 and got["practice_question"] == PRACTICE
    cid, token = await _candidate(api, rec, iv)

    st, state = await api.cand("GET", "/api/c/state", token)
    assert st == 200 and state["practice"] == {
        "index": "practice",
        "text": PRACTICE,
        "think_seconds": practice.THINK_SECONDS,
        "answer_seconds": practice.ANSWER_SECONDS,
        "retakes": practice.TAKES - 1,
        "retakes_left": practice.TAKES - 1,
        "answered": False,
        "available": True,
    }
    first = await _take(api, token, "practice", b"practice take")
    st, body, _ = await _watch(api, token, "practice")
    assert st == 200 and body == b"practice take"
    st, state = await api.cand("GET", "/api/c/state", token)
    assert state["practice"]["answered"] and state["practice"]["retakes_left"] == practice.TAKES - 1
    assert state["answered"] == 0 and not any(q["answered"] for q in state["questions"])
    for i in range(1, practice.TAKES):
        await _take(api, token, "practice", f"practice take {i + 1}".encode())
    st, body = await api.cand("POST", "/api/c/answers/practice/start", token)
    assert st == 409 and body["error"]["code"] == "no_retakes_left"
    st, body = await api.cand("POST", "/api/c/complete", token)
    assert st == 409 and body["error"]["code"] == "unanswered_questions"  # practice is not an answer

    # the recruiter sees no answer, no score, no recording of it
    st, lst = await api.call("GET", f"/api/org/interviews/{iv}/candidates", rec)
    assert [c["answered"] for c in lst["candidates"]] == [0]
    st, review = await api.call("GET", f"/api/org/candidates/{cid}", rec)
    assert st == 200 and [a["answered"] for a in review["answers"]] == [False, False]
    assert review["overall_score"] is None and PRACTICE not in str(review)
    st, cmp = await api.call("GET", f"/api/org/interviews/{iv}/compare", rec)
    assert [c["scores"] for c in cmp["candidates"]] == [[None, None]]
    st, _ = await api.call("GET", f"/api/org/candidates/{cid}/answers/-1/recording", rec)
    assert st == 404
    assert await api.pool.fetchval("SELECT count(*) FROM answer_scores WHERE session_id = $1", uuid.UUID(first)) == 0
    # practice alone does not lock the questions (their indexes are not in use yet)
    reordered = [QUESTIONS[1], QUESTIONS[0]]
    st, body = await api.call("PATCH", f"/api/org/interviews/{iv}", rec, json={"questions": reordered})
    assert st == 200, body
    st, body = await api.call("PATCH", f"/api/org/interviews/{iv}", rec, json={"questions": QUESTIONS})
    assert st == 200, body

    # the first real answer closes the practice
    await _take(api, token, 0, b"real take")
    st, state = await api.cand("GET", "/api/c/state", token)
    assert state["answered"] == 1 and state["practice"]["available"] is False
    st, body = await api.cand("POST", "/api/c/answers/practice/start", token)
    assert st == 409 and body["error"]["code"] == "practice_closed"
    st, lst = await api.call("GET", f"/api/org/interviews/{iv}/candidates", rec)
    assert [c["answered"] for c in lst["candidates"]] == [1]

    # a clone keeps it; an interview without one offers none
    st, clone = await api.call("POST", f"/api/org/interviews/{iv}/clone", rec, json={})
    assert st == 201 and clone["practice_question"] == PRACTICE
    plain = await _interview(api, rec)
    _, plain_token = await _candidate(api, rec, plain)
    st, state = await api.cand("GET", "/api/c/state", plain_token)
    assert state["practice"] is None
    st, body = await api.cand("POST", "/api/c/answers/practice/start", plain_token)
    assert st == 404


async def test_a_practice_take_left_recording_ends_at_its_own_time_limit(api: Api) -> None:
    rec = await api.recruiter("Practice limit org")
    iv = await _interview(api, rec, practice_question=PRACTICE)  # real answers may take 300 s
    cid, token = await _candidate(api, rec, iv)
    st, _ = await api.cand("POST", "/api/c/answers/practice/start", token)
    assert st == 201
    # past the practice's limit and a 5 s grace (short of the 30 s of the app's background sweeper, which would
    # otherwise race this one), well within a real answer's
    late = practice.ANSWER_SECONDS + 5 + 3
    await api.pool.execute(
        "UPDATE candidate_answers SET created_at = now() - make_interval(secs => $2) WHERE candidate_id = $1",
        uuid.UUID(cid),
        float(late),
    )
    assert await AnswerTimeLimit(api.app[SERVICES], grace_s=5).sweep() >= 1
    status = await api.pool.fetchval(
        "SELECT status FROM candidate_answers WHERE candidate_id = $1 AND question_idx = $2",
        uuid.UUID(cid),
        practice.INDEX,
    )
    assert status == "abandoned"
