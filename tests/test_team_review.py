"""Team review (issue 21) on the real API (embedded Postgres and Redis): several reviewers rate an
answer and see the average and spread; another organisation sees nothing; read-only share links that
expire and can be revoked; role changes and removals take effect on the member's next request."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from conftest import Infra
from recruit_fixtures import INTERVIEW, Api, recruit_api, token_of

from interview_room.messages import Caption
from interview_room.store import captions as captions_store


@pytest_asyncio.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra) as a:
        yield a


async def _member(api: Api, owner: str, role: str) -> tuple[str, str]:
    """A colleague invited with ``role`` who joined: (their API token, their user id)."""
    addr = f"mate-{uuid.uuid4().hex[:8]}@example.com"
    st, inv = await api.call("POST", "/api/org/invites", owner, json={"email": addr, "role": role})
    assert st == 201 and inv["role"] == role, inv
    st, body = await api.call(
        "POST", "/api/auth/register", json={"email": addr, "password": "password123", "name": role}
    )
    assert st == 201, body
    tok = body["token"]
    await api.confirm_email(tok, addr)
    st, org = await api.call("POST", "/api/org/join", tok, json={"token": token_of(inv["link"])})
    assert st == 200 and org["role"] == role, org
    return tok, str(body["user"]["id"])


async def _candidate(api: Api, rec: str) -> tuple[str, str]:
    """(interview id, candidate id) with the first question answered."""
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=INTERVIEW)
    assert st == 201, iv
    st, inv = await api.call(
        "POST", f"/api/org/interviews/{iv['id']}/candidates", rec, json={"email": None, "name": "Dana Smith"}
    )
    assert st == 201, inv
    token = token_of(inv["link"])
    assert (await api.cand("POST", "/api/c/consent", token))[0] == 200
    st, started = await api.cand("POST", "/api/c/answers/0/start", token)
    assert st == 201, started
    sid = started["session_id"]
    cap = Caption(id=f"{sid}-c0", role="candidate", t0=0.0, t1=2.0, text="I moved our billing to Postgres.", lang="en")
    assert await captions_store.insert_caption(api.pool, cap, sid, 0)
    assert (await api.cand("POST", "/api/c/answers/0/finish", token))[0] == 200
    return str(iv["id"]), str(inv["candidate"]["id"])


async def test_two_reviewers_rate_and_see_average_and_spread(api: Api) -> None:
    owner = await api.recruiter("Review org")
    reviewer, _ = await _member(api, owner, "reviewer")
    iv, cid = await _candidate(api, owner)
    rating = f"/api/org/candidates/{cid}/answers/0/rating"

    st, a = await api.call(
        "PUT", rating, owner, json={"scores": {"relevance": 5, "depth": 4, "clarity": 3}, "comment": "Solid"}
    )
    assert st == 200, a
    st, a = await api.call("PUT", rating, reviewer, json={"scores": {"relevance": 2, "depth": 2, "clarity": 2}})
    assert st == 200, a
    assert a["overall"] == {"count": 2, "average": 3.0, "spread": 2.0, "stdev": 1.0, "lowest": 2.0, "highest": 4.0}
    assert a["criteria"]["relevance"]["average"] == 3.5 and a["criteria"]["relevance"]["spread"] == 3.0
    assert a["mine"]["scores"] == {"relevance": 2, "depth": 2, "clarity": 2}

    # a reviewer changes their mind: one rating per reviewer, replaced
    st, a = await api.call("PUT", rating, reviewer, json={"scores": {"relevance": 4, "depth": 4, "clarity": 4}})
    assert st == 200 and a["overall"]["count"] == 2 and a["overall"]["average"] == 4.0 and a["overall"]["spread"] == 0.0

    st, summary = await api.call("GET", f"/api/org/candidates/{cid}/ratings", owner)
    assert st == 200 and [c["key"] for c in summary["rubric"]] == ["relevance", "depth", "clarity"]
    first, second = summary["answers"]
    assert [r["comment"] for r in first["ratings"]] == ["Solid", ""]
    assert first["mine"]["comment"] == "Solid"
    assert second["overall"]["count"] == 0 and second["overall"]["average"] is None

    # bad ratings are refused and change nothing
    for bad in (
        {"scores": {"relevance": 6, "depth": 4, "clarity": 4}},
        {"scores": {"relevance": 4, "depth": 4}},
        {"scores": {"relevance": 4, "depth": 4, "clarity": 4, "charm": 5}},
        {"scores": {"relevance": True, "depth": 4, "clarity": 4}},
    ):
        st, body = await api.call("PUT", rating, reviewer, json=bad)
        assert st == 400 and body["error"]["field"] == "scores", body
    st, body = await api.call("PUT", f"/api/org/candidates/{cid}/answers/9/rating", reviewer, json={"scores": {}})
    assert st == 404
    st, again = await api.call("GET", f"/api/org/candidates/{cid}/ratings", owner)
    assert again["answers"][0]["overall"] == first["overall"]

    # the reviewer rates but changes nothing else
    st, body = await api.call("PATCH", f"/api/org/interviews/{iv}", reviewer, json={"title": "Changed"})
    assert st == 403 and body["error"]["code"] == "reviewer_read_only"
    st, body = await api.call("POST", f"/api/org/candidates/{cid}/decision", reviewer, json={"decision": "pass"})
    assert st == 403
    st, body = await api.call("GET", f"/api/org/candidates/{cid}/link", reviewer)
    assert st == 403
    st, body = await api.call("POST", f"/api/org/candidates/{cid}/share-links", reviewer, json={})
    assert st == 403
    st, review = await api.call("GET", f"/api/org/candidates/{cid}", reviewer)
    assert st == 200 and review["candidate"]["decision"] is None
    st, got = await api.call("GET", f"/api/org/interviews/{iv}", owner)
    assert got["title"] == INTERVIEW["title"]

    # a reviewer withdraws their rating
    assert (await api.call("DELETE", rating, reviewer))[0] == 204
    st, after = await api.call("GET", f"/api/org/candidates/{cid}/ratings", owner)
    assert after["answers"][0]["overall"]["count"] == 1


async def test_another_organisation_sees_nothing(api: Api) -> None:
    owner = await api.recruiter("Mine")
    _, cid = await _candidate(api, owner)
    st, a = await api.call(
        "PUT",
        f"/api/org/candidates/{cid}/answers/0/rating",
        owner,
        json={"scores": {"relevance": 3, "depth": 3, "clarity": 3}},
    )
    assert st == 200
    st, link = await api.call("POST", f"/api/org/candidates/{cid}/share-links", owner, json={})
    assert st == 201
    stranger = await api.recruiter("Theirs")
    for method, path, body in (
        ("GET", f"/api/org/candidates/{cid}/ratings", None),
        ("PUT", f"/api/org/candidates/{cid}/answers/0/rating", {"scores": {"relevance": 1, "depth": 1, "clarity": 1}}),
        ("DELETE", f"/api/org/candidates/{cid}/answers/0/rating", None),
        ("GET", f"/api/org/candidates/{cid}/share-links", None),
        ("POST", f"/api/org/candidates/{cid}/share-links", {}),
        ("DELETE", f"/api/org/share-links/{link['id']}", None),
    ):
        st, res = await api.call(method, path, stranger, json=body)
        assert st == 404, (method, path, res)
    st, mine = await api.call("GET", f"/api/org/candidates/{cid}/ratings", owner)
    assert mine["answers"][0]["overall"]["count"] == 1 and mine["answers"][0]["overall"]["average"] == 3.0
    st, shared = await api.share(token_of(link["link"]))
    assert st == 200  # the stranger's DELETE did not revoke it


async def test_share_link_is_read_only_expires_and_can_be_revoked(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    owner = await api.recruiter("Share org")
    _, cid = await _candidate(api, owner)
    await api.call(
        "PUT",
        f"/api/org/candidates/{cid}/answers/0/rating",
        owner,
        json={"scores": {"relevance": 4, "depth": 5, "clarity": 3}, "comment": "<b>Good</b> answer"},
    )
    st, made = await api.call("POST", f"/api/org/candidates/{cid}/share-links", owner, json={"days": 3})
    assert st == 201 and made["state"] == "active", made
    token = token_of(made["link"])
    assert "/recruit/shared.html#" in made["link"] and len(token) >= 40
    expires = datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=2, hours=23) < expires - datetime.now(UTC) <= timedelta(days=3)

    st, shared = await api.share(token)
    assert st == 200, shared
    assert shared["candidate"]["name"] == "Dana Smith" and "email" not in shared["candidate"]
    assert shared["answers"][0]["transcript"] == ["I moved our billing to Postgres."]
    assert "recording_url" not in shared["answers"][0] and "session_id" not in shared["answers"][0]
    team = shared["team"]["answers"][0]
    assert team["overall"]["average"] == 4.0 and team["ratings"][0]["comment"] == "<b>Good</b> answer"
    assert "email" not in team["ratings"][0]["reviewer"]

    # read-only: nothing else answers to the token
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        st, _ = await api.share(token, method=method)
        assert st == 405, method
    async with api.http.get(f"{api.base}/api/org/candidates/{cid}", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 401
    for bad in ("", "x" * 43, token[:-1]):
        st, body = await api.share(bad)
        assert st == 410 and body["error"]["code"] == "share_link_invalid"

    # the token is stored hashed only, and never logged
    rows = await api.pool.fetch("SELECT token_hash FROM review_share_links WHERE candidate_id = $1", uuid.UUID(cid))
    assert len(rows) == 1 and rows[0]["token_hash"] != token and token not in rows[0]["token_hash"]
    assert not [r for r in caplog.records if token in r.getMessage()]

    # expired
    await api.pool.execute(
        "UPDATE review_share_links SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(made["id"])
    )
    st, body = await api.share(token)
    assert st == 410
    # revoked
    st, fresh = await api.call("POST", f"/api/org/candidates/{cid}/share-links", owner, json={})
    assert (await api.share(token_of(fresh["link"])))[0] == 200
    assert (await api.call("DELETE", f"/api/org/share-links/{fresh['id']}", owner))[0] == 204
    assert (await api.share(token_of(fresh["link"])))[0] == 410
    st, listed = await api.call("GET", f"/api/org/candidates/{cid}/share-links", owner)
    assert sorted(x["state"] for x in listed["links"]) == ["expired", "revoked"]
    st, body = await api.call("POST", f"/api/org/candidates/{cid}/share-links", owner, json={"days": 31})
    assert st == 400 and body["error"]["field"] == "days"


async def test_role_change_and_removal_take_effect_on_the_next_request(api: Api) -> None:
    owner = await api.recruiter("Roles org")
    mate, mate_id = await _member(api, owner, "recruiter")
    iv, cid = await _candidate(api, owner)
    st, link = await api.call("POST", f"/api/org/candidates/{cid}/share-links", mate, json={})
    assert st == 201
    assert (await api.call("PATCH", f"/api/org/interviews/{iv}", mate, json={"title": "By mate"}))[0] == 200

    st, body = await api.call("PATCH", f"/api/org/members/{mate_id}", owner, json={"role": "reviewer"})
    assert st == 200 and body["role"] == "reviewer"
    st, body = await api.call("PATCH", f"/api/org/interviews/{iv}", mate, json={"title": "Again"})
    assert st == 403 and body["error"]["code"] == "reviewer_read_only"
    st, members = await api.call("GET", "/api/org/members", owner)
    assert {m["id"]: m["role"] for m in members["members"]}[mate_id] == "reviewer"
    assert [m["founder"] for m in members["members"]] == [True, False]

    # only an owner manages members; the founding owner stays; bad roles are refused
    owner_id = next(m["id"] for m in members["members"] if m["role"] == "owner")
    st, body = await api.call("PATCH", f"/api/org/members/{owner_id}", mate, json={"role": "reviewer"})
    assert st == 403 and body["error"]["code"] == "owner_only"
    st, body = await api.call("PATCH", f"/api/org/members/{owner_id}", owner, json={"role": "reviewer"})
    assert st == 409 and body["error"]["code"] == "founding_owner"
    assert (await api.call("DELETE", f"/api/org/members/{owner_id}", owner))[0] == 409
    st, body = await api.call("PATCH", f"/api/org/members/{mate_id}", owner, json={"role": "boss"})
    assert st == 400 and body["error"]["field"] == "role"
    stranger = await api.recruiter("Elsewhere")
    assert (await api.call("PATCH", f"/api/org/members/{mate_id}", stranger, json={"role": "owner"}))[0] == 404
    assert (await api.call("DELETE", f"/api/org/members/{mate_id}", stranger))[0] == 404

    st, body = await api.call("PATCH", f"/api/org/members/{mate_id}", owner, json={"role": "recruiter"})
    assert (await api.call("PATCH", f"/api/org/interviews/{iv}", mate, json={"title": "Back"}))[0] == 200

    assert (await api.call("DELETE", f"/api/org/members/{mate_id}", owner))[0] == 204
    for path in ("/api/org", f"/api/org/candidates/{cid}", f"/api/org/interviews/{iv}"):
        st, body = await api.call("GET", path, mate)
        assert st == 403 and body["error"]["code"] == "removed_from_organisation", (path, body)
    st, members = await api.call("GET", "/api/org/members", owner)
    assert mate_id not in [m["id"] for m in members["members"]]
    # the links they shared stop working with them
    assert (await api.share(token_of(link["link"])))[0] == 410
    assert (await api.call("DELETE", f"/api/org/members/{mate_id}", owner))[0] == 404
