"""Recruiter side (issue 8) through the real HTTP API: organisations, candidate links, e-mails.

The signaling app runs in this process on a real port (real embedded Postgres and Redis); e-mails go
to a local aiosmtpd server on 127.0.0.1. The ATS webhooks are in test_recruiting_webhooks.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from conftest import Infra
from recruit_fixtures import INTERVIEW, Api, recruit_api, token_of


@pytest_asyncio.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra) as a:
        yield a


async def test_organisation_scoping(api: Api) -> None:
    a, b = await api.recruiter("Org A"), await api.recruiter("Org B")
    nobody = await api.recruiter(None)
    st, body = await api.call("GET", "/api/org/interviews", nobody)
    assert st == 404 and body["error"]["code"] == "no_organisation"
    st, iv = await api.call("POST", "/api/org/interviews", a, json=INTERVIEW)
    assert st == 201 and iv["questions"][1] == {
        "text": "How do you debug latency?",
        "think_seconds": 30,
        "answer_seconds": 120,
        "retakes": 1,
        "key_points": [],
    }
    st, inv = await api.call("POST", f"/api/org/interviews/{iv['id']}/candidates", a, json={"name": "Link only"})
    assert st == 201
    cid = inv["candidate"]["id"]
    # org B sees none of it, and cannot touch it
    st, lst = await api.call("GET", "/api/org/interviews", b)
    assert st == 200 and lst["interviews"] == []
    for method, path in [
        ("GET", f"/api/org/interviews/{iv['id']}"),
        ("PATCH", f"/api/org/interviews/{iv['id']}"),
        ("DELETE", f"/api/org/interviews/{iv['id']}"),
        ("POST", f"/api/org/interviews/{iv['id']}/candidates"),
        ("GET", f"/api/org/interviews/{iv['id']}/export.csv"),
        ("GET", f"/api/org/candidates/{cid}"),
        ("POST", f"/api/org/candidates/{cid}/revoke"),
        ("POST", f"/api/org/candidates/{cid}/decision"),
        ("GET", f"/api/org/candidates/{cid}/answers/0/recording"),
    ]:
        st, body = await api.call(method, path, b, json={"decision": "pass"} if method == "POST" else None)
        assert st == 404, (method, path, st, body)
    st, c = await api.call("GET", f"/api/org/candidates/{cid}", a)
    assert st == 200 and c["candidate"]["revoked"] is False
    # a template cloned into a new interview
    st, tpl = await api.call("POST", "/api/org/interviews", a, json={**INTERVIEW, "is_template": True, "title": "Tpl"})
    st, clone = await api.call("POST", f"/api/org/interviews/{tpl['id']}/clone", a, json={"title": "From template"})
    assert st == 201 and clone["questions"] == tpl["questions"] and clone["is_template"] is False
    st, lib = await api.call("GET", "/api/org/interviews?templates=1", a)
    assert [i["title"] for i in lib["interviews"]] == ["Tpl"]


async def test_team_invite_by_email(api: Api) -> None:
    owner = await api.recruiter("Team org")
    addr = f"mate-{uuid.uuid4().hex[:8]}@example.com"
    st, inv = await api.call("POST", "/api/org/invites", owner, json={"email": addr})
    assert st == 201 and inv["emailed"] is True
    mail = api.inbox.to(addr)[-1]
    token = re.search(r"join\.html#(\S+)", mail.get_payload(decode=True).decode()).group(1)
    st, body = await api.call(
        "POST", "/api/auth/register", json={"email": addr, "password": "password123", "name": "M"}
    )
    mate = body["token"]
    st, body = await api.call("POST", "/api/org/join", mate, json={"token": token})
    assert st == 403 and body["error"]["code"] == "email_unverified"  # the invited address, not yet proven
    await api.confirm_email(mate, addr)
    other = await api.recruiter(None)
    st, body = await api.call("POST", "/api/org/join", other, json={"token": token})
    assert st == 404 and body["error"]["code"] == "invalid_invite"  # another e-mail address
    st, org = await api.call("POST", "/api/org/join", mate, json={"token": token})
    assert st == 200 and org["name"] == "Team org" and org["role"] == "recruiter" and "webhook_secret" not in org
    st, body = await api.call("POST", "/api/org/invites", mate, json={"email": "x@example.com"})
    assert st == 403
    st, iv = await api.call("POST", "/api/org/interviews", mate, json=INTERVIEW)
    st, lst = await api.call("GET", "/api/org/interviews", owner)
    assert [i["id"] for i in lst["interviews"]] == [iv["id"]]


async def test_candidate_links_csv_expiry_and_revocation(api: Api) -> None:
    rec = await api.recruiter("Links org")
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=INTERVIEW)
    csv_body = "Email,Name\nann@example.com,Ann\nnot-an-email,Bad\nbob@example.com,Bob\nann@example.com,Ann again\n"
    st, res = await api.call("POST", f"/api/org/interviews/{iv['id']}/candidates/csv", rec, data=csv_body)
    assert st == 201
    assert [c["candidate"]["email"] for c in res["created"]] == ["ann@example.com", "bob@example.com"]
    assert [(s["line"], s["reason"]) for s in res["skipped"]] == [(3, "not an e-mail address"), (5, "already invited")]
    ann_link = res["created"][0]["link"]
    mail = api.inbox.to("ann@example.com")[-1]
    assert ann_link in mail.get_payload(decode=True).decode() and "Backend engineer" in mail["Subject"]
    ann, bob = token_of(ann_link), token_of(res["created"][1]["link"])
    assert ann != bob and len(ann) >= 40

    st, intro = await api.cand("GET", "/api/c/state", ann)
    assert st == 200 and intro["interview"]["company_name"] == "Acme Corp" and intro["total"] == 2
    assert intro["candidate"] == {"name": "Ann", "status": "invited", "consented": False}
    st, body = await api.cand("POST", "/api/c/answers/0/start", ann)
    assert st == 409 and body["error"]["code"] == "consent_required"
    st, _ = await api.cand("POST", "/api/c/consent", ann)
    st, body = await api.cand("POST", "/api/c/answers/1/start", ann)
    assert st == 409 and body["error"]["code"] == "previous_unanswered"
    st, started = await api.cand("POST", "/api/c/answers/0/start", ann)
    assert st == 201 and started["attempt"] == 1
    # Bob's link sees Bob only: nothing of Ann's progress
    st, bob_state = await api.cand("GET", "/api/c/state", bob)
    assert bob_state["candidate"]["status"] == "invited" and bob_state["candidate"]["name"] == "Bob"
    st, body = await api.cand("POST", "/api/c/answers/0/finish", bob)
    assert st == 409  # Bob consented to nothing and started nothing
    st, body = await api.cand("GET", "/api/c/state", ann[:-2] + "xx")
    assert st == 404 and body["error"]["code"] == "not_found"
    # the answer session is the organisation owner's, mode recorded_answer; it cannot be forged onto a candidate's link
    st, lst = await api.call("GET", f"/api/org/interviews/{iv['id']}/candidates", rec)
    status = {c["email"]: c["status"] for c in lst["candidates"]}
    assert status == {"ann@example.com": "started", "bob@example.com": "invited"}

    # revoked: a clear 410; expired: 410 link_expired and listed as expired
    bob_id = res["created"][1]["candidate"]["id"]
    st, _ = await api.call("POST", f"/api/org/candidates/{bob_id}/revoke", rec)
    st, body = await api.cand("GET", "/api/c/state", bob)
    assert st == 410 and body["error"]["code"] == "link_revoked"
    ann_id = res["created"][0]["candidate"]["id"]
    await api.pool.execute(
        "UPDATE candidates SET expires_at = now() - interval '1 minute' WHERE id = $1", uuid.UUID(ann_id)
    )
    st, body = await api.cand("GET", "/api/c/state", ann)
    assert st == 410 and body["error"]["code"] == "link_expired"
    st, body = await api.cand("POST", "/api/c/answers/1/start", ann)  # nothing new after the deadline
    assert st == 410 and body["error"]["code"] == "link_expired"
    # (the answer Ann started before the deadline may still be saved: test_recruiting_links.py)
    st, lst = await api.call("GET", f"/api/org/interviews/{iv['id']}/candidates", rec)
    assert {c["email"]: c["status"] for c in lst["candidates"]}["ann@example.com"] == "expired"


@pytest.mark.parametrize(
    "body",
    [{"title": ""}, {"title": "x", "questions": [{"text": "q", "retakes": 99}]}, {"title": "x", "deadline": "soon"}],
)
async def test_bad_interview_is_refused(api: Api, body: dict[str, Any]) -> None:
    rec = await api.recruiter("Bad org")
    st, res = await api.call("POST", "/api/org/interviews", rec, json=body)
    assert st == 400 and res["error"]["code"] == "validation_error"
