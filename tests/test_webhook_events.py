"""ATS webhook events beyond candidate.completed (issue 21.7) through the real HTTP API, the durable outbox
and the signed dispatcher: candidate.started, candidate.decided, interview.closed, each delivered once with
a valid signature, only to organisations that take them."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from conftest import Infra
from recruit_fixtures import Api, recruit_api, token_of
from test_recruiting_webhooks import ONE_QUESTION, Receiver, _answer_without_media, receiver

from web.common.context import SERVICES
from web.recruiting import webhooks
from web.recruiting.ats_events import ClosedSweeper

ALL = ["candidate.started", "candidate.decided", "interview.closed"]


async def _org(api: Api, url: str, events: list[str] | None) -> tuple[str, str, str]:
    rec = await api.recruiter("Events org")
    st, org = await api.call("PATCH", "/api/org", rec, json={"webhook_url": url})
    assert st == 200, org
    if events is not None:
        st, body = await api.call("PUT", "/api/org/webhook-events", rec, json={"events": events})
        assert st == 200 and body["events"] == sorted({"candidate.completed", *events}), body
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=ONE_QUESTION)
    assert st == 201, iv
    return rec, org["webhook_secret"], iv["id"]


async def _delivered(ats: Receiver, n: int) -> list[tuple[str, dict[str, Any]]]:
    """(X-Event, body) of each request once ``n`` arrived; then a pause to show no more come."""
    async with asyncio.timeout(30):
        while len(ats.received) < n:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)
    return [(h["X-Event"], json.loads(b)) for _, h, b in ats.received]


def _signed_once(ats: Receiver, secret: str) -> None:
    ids = [h["X-Delivery-Id"] for _, h, _ in ats.received]
    assert len(ids) == len(set(ids)), ids  # each event once
    for _, headers, body in ats.received:
        assert headers["X-Signature"] == webhooks.sign(secret, headers["X-Timestamp"], body)
        assert json.loads(body)["delivery_id"] == headers["X-Delivery-Id"]


async def test_started_decided_closed_each_once_and_signed(infra: Infra) -> None:
    async with recruit_api(infra, llm_worker=False) as api, receiver() as ats:
        rec, secret, iv = await _org(api, f"{ats.url}/hook", ALL)
        st, inv = await api.call("POST", f"/api/org/interviews/{iv}/candidates", rec, json={"name": "Cara"})
        cid, tok = inv["candidate"]["id"], token_of(inv["link"])
        # two tabs consent at once, then once more: one candidate.started
        results = await asyncio.gather(*(api.cand("POST", "/api/c/consent", tok) for _ in range(3)))
        assert [r[0] for r in results] == [200, 200, 200]
        await api.cand("POST", "/api/c/consent", tok)
        await _answer_without_media(api, tok, 0)
        st, _ = await api.cand("POST", "/api/c/complete", tok)
        assert st == 200
        path = f"/api/org/candidates/{cid}/decision"
        decisions = await asyncio.gather(
            *(api.call("POST", path, rec, json={"decision": "pass", "note": "Good"}) for _ in range(3))
        )
        assert {d[0] for d in decisions} == {200}
        st, c = await api.call("POST", path, rec, json={"decision": "pass", "note": "Very good"})  # note only
        assert st == 200 and c["decision_note"] == "Very good"
        st, c = await api.call("POST", path, rec, json={"decision": "fail", "note": "On reflection"})
        assert st == 200 and c["decision"] == "fail"
        # the deadline passes; two replicas' sweepers look at once, then again
        await api.pool.execute(
            "UPDATE interviews SET deadline = now() - interval '1 minute' WHERE id = $1", uuid.UUID(iv)
        )
        svc = api.app[SERVICES]
        swept = await asyncio.gather(ClosedSweeper(svc, api.app).sweep(), ClosedSweeper(svc, api.app).sweep())
        assert sorted(swept) == [0, 1]
        assert await ClosedSweeper(svc, api.app).sweep() == 0
        got = await _delivered(ats, 5)
        events = [e for e, _ in got]
        assert sorted(events) == sorted(
            ["candidate.started", "candidate.completed", "candidate.decided", "candidate.decided", "interview.closed"]
        ), events
        assert events.index("candidate.started") < events.index("candidate.completed")
        _signed_once(ats, secret)
        by = {e: b for e, b in got}
        started = by["candidate.started"]
        assert started["candidate"]["id"] == cid and started["interview"]["id"] == iv and started["started_at"]
        assert [b["decision"] for e, b in got if e == "candidate.decided"] == ["pass", "fail"]
        closed = by["interview.closed"]
        assert closed["interview"]["id"] == iv
        assert closed["candidates"] == {"invited": 1, "started": 1, "completed": 1}
        st, log = await api.call("GET", "/api/org/webhook-deliveries", rec)
        assert st == 200 and sorted(d["event"] for d in log["deliveries"]) == sorted(events)


async def test_only_completed_unless_the_org_takes_more(infra: Infra) -> None:
    async with recruit_api(infra, llm_worker=False) as api, receiver() as ats:
        rec, secret, iv = await _org(api, f"{ats.url}/hook", None)
        st, body = await api.call("GET", "/api/org/webhook-events", rec)
        assert st == 200 and body["events"] == ["candidate.completed"]
        assert body["available"] == ["candidate.started", "candidate.completed", "candidate.decided", "interview.closed"]
        st, inv = await api.call("POST", f"/api/org/interviews/{iv}/candidates", rec, json={"name": "Dan"})
        tok = token_of(inv["link"])
        await api.cand("POST", "/api/c/consent", tok)
        await _answer_without_media(api, tok, 0)
        await api.cand("POST", "/api/c/complete", tok)
        st, _ = await api.call(
            "POST", f"/api/org/candidates/{inv['candidate']['id']}/decision", rec, json={"decision": "pass"}
        )
        assert st == 200
        await api.pool.execute("UPDATE interviews SET deadline = now() - interval '1 minute' WHERE id = $1", uuid.UUID(iv))
        await ClosedSweeper(api.app[SERVICES], api.app).sweep()
        got = await _delivered(ats, 1)
        assert [e for e, _ in got] == ["candidate.completed"]
        _signed_once(ats, secret)


async def test_event_choice_is_the_owners_and_validated(infra: Infra) -> None:
    async with recruit_api(infra, llm_worker=False) as api:
        rec = await api.recruiter("Owner org")
        before = await api.call("GET", "/api/org/webhook-events", rec)
        for bad in ({"events": ["candidate.hired"]}, {"events": "candidate.started"}, {"events": [1]}, {}):
            st, err = await api.call("PUT", "/api/org/webhook-events", rec, json=bad)
            assert st == 400 and err["error"]["code"] == "validation_error" and err["error"]["field"] == "events", err
        assert await api.call("GET", "/api/org/webhook-events", rec) == before
        # a member of the organisation reads but cannot change; a user without one gets no_organisation
        addr = f"member-{uuid.uuid4().hex[:8]}@example.com"
        st, invite = await api.call("POST", "/api/org/invites", rec, json={"email": addr})
        assert st == 201, invite
        st, body = await api.call("POST", "/api/auth/register", json={"email": addr, "password": "password123", "name": "M"})
        member = body["token"]
        await api.confirm_email(member, addr)
        st, body = await api.call("POST", "/api/org/join", member, json={"token": token_of(invite["link"])})
        assert st == 200, body
        st, body = await api.call("GET", "/api/org/webhook-events", member)
        assert st == 200 and body["events"] == ["candidate.completed"]
        st, err = await api.call("PUT", "/api/org/webhook-events", member, json={"events": ALL})
        assert st == 403 and err["error"]["code"] == "owner_only"
        outsider = await api.recruiter(None)
        st, err = await api.call("GET", "/api/org/webhook-events", outsider)
        assert st == 404 and err["error"]["code"] == "no_organisation"
