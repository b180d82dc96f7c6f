"""Recruiting funnel analytics (issue 21.4) through the real HTTP API on the embedded Postgres:
invited -> started -> completed -> passed, median completion time, drop-off per question; scoped to
the organisation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from conftest import Infra
from recruit_fixtures import Api, recruit_api, token_of
from test_recruiting_webhooks import _answer_without_media

THREE = {"title": "Three questions", "questions": ["First?", "Second?", "Third?"]}


@pytest_asyncio.fixture(loop_scope="session")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra, llm_worker=False) as a:
        yield a


async def _candidate(api: Api, rec: str, iv: str, name: str, answers: int, *, complete: bool = False,
                     consent: bool = True) -> str:
    st, inv = await api.call("POST", f"/api/org/interviews/{iv}/candidates", rec, json={"name": name})
    assert st == 201, inv
    tok = token_of(inv["link"])
    if consent:
        await api.cand("POST", "/api/c/consent", tok)
    for n in range(answers):
        await _answer_without_media(api, tok, n)
    if complete:
        st, body = await api.cand("POST", "/api/c/complete", tok)
        assert st == 200, body
    return str(inv["candidate"]["id"])


async def seed_funnel(api: Api, rec: str) -> tuple[str, str]:
    """Five candidates of a three-question interview, one of another interview: (interview id, other id)."""
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=THREE)
    assert st == 201
    iid = iv["id"]
    await _candidate(api, rec, iid, "Invited only", 0, consent=False)
    await _candidate(api, rec, iid, "Stopped at Q2", 1)
    await _candidate(api, rec, iid, "Stopped at Q1", 0)
    passed = await _candidate(api, rec, iid, "Passed", 3, complete=True)
    failed = await _candidate(api, rec, iid, "Failed", 3, complete=True)
    for cid, decision, minutes in ((passed, "pass", 10), (failed, "fail", 20)):
        st, _ = await api.call("POST", f"/api/org/candidates/{cid}/decision", rec, json={"decision": decision})
        assert st == 200
        await api.pool.execute(
            "UPDATE candidates SET completed_at = started_at + make_interval(mins => $2) WHERE id = $1",
            uuid.UUID(cid),
            minutes,
        )
    st, other = await api.call("POST", "/api/org/interviews", rec, json={"title": "Other", "questions": ["Q?"]})
    await _candidate(api, rec, other["id"], "Elsewhere", 0, consent=False)
    return iid, other["id"]


async def test_funnel_counts_times_and_drop_off(api: Api) -> None:
    rec = await api.recruiter("Funnel org")
    iid, other = await seed_funnel(api, rec)
    st, body = await api.call("GET", f"/api/org/interviews/{iid}/funnel", rec)
    assert st == 200, body
    assert body == {
        "interview_id": iid,
        "title": "Three questions",
        "invited": 5,
        "started": 4,
        "completed": 2,
        "passed": 1,
        "median_completion_seconds": 900,
        "questions": [
            {"index": 0, "answered": 3, "dropped": 1},
            {"index": 1, "answered": 2, "dropped": 1},
            {"index": 2, "answered": 2, "dropped": 0},
        ],
    }
    st, org = await api.call("GET", "/api/org/funnel", rec)
    assert st == 200
    assert org["organisation"] == {
        "invited": 6, "started": 4, "completed": 2, "passed": 1, "median_completion_seconds": 900
    }
    assert [(i["interview_id"], i["invited"]) for i in org["interviews"]] == [(other, 1), (iid, 5)]


async def test_another_organisation_sees_nothing(api: Api) -> None:
    rec = await api.recruiter("Funnel owner")
    iid, _ = await seed_funnel(api, rec)
    stranger = await api.recruiter("Other org")
    st, err = await api.call("GET", f"/api/org/interviews/{iid}/funnel", stranger)
    assert st == 404 and err["error"]["code"] == "not_found"
    st, body = await api.call("GET", "/api/org/funnel", stranger)
    assert st == 200 and body["interviews"] == []
    assert body["organisation"] == {
        "invited": 0, "started": 0, "completed": 0, "passed": 0, "median_completion_seconds": None
    }
    nobody = await api.recruiter(None)
    st, err = await api.call("GET", "/api/org/funnel", nobody)
    assert st == 404 and err["error"]["code"] == "no_organisation"
    st, err = await api.call("GET", "/api/org/interviews/not-a-uuid/funnel", rec)
    assert st == 404
    st, _ = await api.call("GET", "/api/org/funnel")
    assert st == 401
