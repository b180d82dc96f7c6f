"""Candidate accommodations (issue 21.6) through the real HTTP API on the embedded Postgres: extra time for
one candidate shows in their state and extends the server-enforced answer limit for them only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from conftest import Infra
from recruit_fixtures import Api, recruit_api, token_of

from web.common.context import SERVICES
from web.recruiting.answer_limits import AnswerTimeLimit

QUESTION = {"text": "Why us?", "think_seconds": 30, "answer_seconds": 60, "retakes": 0}


@pytest_asyncio.fixture(loop_scope="session")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra, llm_worker=False) as a:
        yield a


async def _invite(api: Api, rec: str, iv: str, name: str) -> tuple[str, str]:
    st, inv = await api.call(
        "POST", f"/api/org/interviews/{iv}/candidates", rec, json={"name": name, "send_email": False}
    )
    assert st == 201, inv
    return str(inv["candidate"]["id"]), token_of(inv["link"])


async def _age(api: Api, session_id: str, seconds: int) -> None:
    await api.pool.execute(
        "UPDATE candidate_answers SET created_at = now() - make_interval(secs => $2) WHERE session_id = $1",
        uuid.UUID(session_id),
        seconds,
    )


async def test_extra_time_extends_the_limit_for_that_candidate_only(api: Api) -> None:
    rec = await api.recruiter("Accommodating org")
    st, iv = await api.call("POST", "/api/org/interviews", rec, json={"title": "Screen", "questions": [QUESTION]})
    assert st == 201
    helped, helped_tok = await _invite(api, rec, iv["id"], "Extra time")
    _, plain_tok = await _invite(api, rec, iv["id"], "Standard time")
    st, body = await api.call(
        "PUT", f"/api/org/candidates/{helped}/accommodations", rec, json={"extra_time_percent": 100}
    )
    assert st == 200 and body == {"extra_time_percent": 100}
    assert (await api.call("GET", f"/api/org/candidates/{helped}/accommodations", rec))[1] == body
    for tok, think, answer in ((helped_tok, 60, 120), (plain_tok, 30, 60)):
        st, state = await api.cand("POST", "/api/c/consent", tok)
        q = state["questions"][0]
        assert (q["think_seconds"], q["answer_seconds"]) == (think, answer), state
    st, h = await api.cand("POST", "/api/c/answers/0/start", helped_tok)
    assert st == 201
    st, p = await api.cand("POST", "/api/c/answers/0/start", plain_tok)
    assert st == 201
    limit = AnswerTimeLimit(api.app[SERVICES], grace_s=30)
    # 100 s in: past the standard 60 + 30 s, within the extended 120 + 30 s
    await _age(api, h["session_id"], 100)
    await _age(api, p["session_id"], 100)
    assert await limit.sweep() == 1
    statuses = dict(
        await api.pool.fetch(
            "SELECT session_id::text, status FROM candidate_answers WHERE session_id = ANY($1::uuid[])",
            [h["session_id"], p["session_id"]],
        )
    )
    assert statuses == {h["session_id"]: "recording", p["session_id"]: "abandoned"}
    st, done = await api.cand("POST", "/api/c/answers/0/finish", helped_tok)
    assert st == 200 and done["answered"] == 1  # the candidate with extra time finishes their answer


async def test_extended_attempt_ends_after_its_own_limit(api: Api) -> None:
    rec = await api.recruiter("Limit org")
    st, iv = await api.call("POST", "/api/org/interviews", rec, json={"title": "Screen", "questions": [QUESTION]})
    cid, tok = await _invite(api, rec, iv["id"], "Half again")
    await api.call("PUT", f"/api/org/candidates/{cid}/accommodations", rec, json={"extra_time_percent": 50})
    await api.cand("POST", "/api/c/consent", tok)
    st, a = await api.cand("POST", "/api/c/answers/0/start", tok)
    assert st == 201
    limit = AnswerTimeLimit(api.app[SERVICES], grace_s=30)
    await _age(api, a["session_id"], 115)  # 90 s answer time + 30 s grace not yet over
    assert await limit.sweep() == 0
    await _age(api, a["session_id"], 125)
    assert await limit.sweep() == 1


async def test_accommodations_are_validated_and_org_scoped(api: Api) -> None:
    rec = await api.recruiter("Owner org")
    st, iv = await api.call("POST", "/api/org/interviews", rec, json={"title": "Screen", "questions": [QUESTION]})
    cid, _ = await _invite(api, rec, iv["id"], "Someone")
    path = f"/api/org/candidates/{cid}/accommodations"
    for bad in ({"extra_time_percent": 201}, {"extra_time_percent": -1}, {"extra_time_percent": "50"},
                {"extra_time_percent": 12.5}, {"extra_time_percent": True}, {}):
        st, err = await api.call("PUT", path, rec, json=bad)
        assert st == 400 and err["error"]["field"] == "extra_time_percent", (bad, err)
    assert (await api.call("GET", path, rec))[1] == {"extra_time_percent": 0}
    other = await api.recruiter("Other org")
    st, err = await api.call("PUT", path, other, json={"extra_time_percent": 50})
    assert st == 404 and err["error"]["code"] == "not_found"
    st, err = await api.call("GET", path, other)
    assert st == 404
    assert (await api.call("GET", path, rec))[1] == {"extra_time_percent": 0}
