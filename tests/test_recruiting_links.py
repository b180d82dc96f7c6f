"""Recruiter side (issue 8): copying a candidate's link again, new links, reminders, stored AI scores.

The signaling app runs in this process on a real port (real embedded Postgres and Redis); e-mails go
to a local aiosmtpd inbox. Model scoring talks to a local server speaking the OpenAI wire format
through the real ``openai`` client. Answers' captions are written with the stt worker's own store
function (the media path is covered by test_recruiting_e2e.py).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from conftest import Infra
from prometheus_client import REGISTRY
from recruit_fixtures import Api, recruit_api, token_of

from interview_room.embedded import free_port
from interview_room.messages import Caption
from interview_room.store import captions as captions_store
from interview_room.store import credits
from tests.fake_openai import FakeOpenAI, Reply, task_of, user_data
from web.common.context import SERVICES
from web.recruiting.answer_limits import AnswerTimeLimit
from web.recruiting.erase import RetentionSweeper
from web.recruiting.reminders import ReminderSweeper

INTERVIEW = {
    "title": "Data engineer",
    "job_description": "- Building streaming pipelines with Kafka\n- Tuning PostgreSQL queries and indexes",
    "questions": [{"text": "Tell us about a pipeline you built.", "retakes": 1}],
    "company_name": "Streamco",
}


@pytest_asyncio.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra) as a:
        yield a


async def _interview(api: Api, rec: str, **extra: Any) -> str:
    st, iv = await api.call("POST", "/api/org/interviews", rec, json={**INTERVIEW, **extra})
    assert st == 201, iv
    return str(iv["id"])


async def _invite(api: Api, rec: str, iv: str, addr: str | None, **extra: Any) -> dict[str, Any]:
    body = {"email": addr, "name": "Cand", **extra}
    st, inv = await api.call("POST", f"/api/org/interviews/{iv}/candidates", rec, json=body)
    assert st == 201, inv
    return dict(inv)


def _links_in(msg: Any) -> list[str]:
    text = msg.get_payload(decode=True).decode()
    return [w for w in text.split() if "/c.html#" in w]


async def test_link_can_be_copied_again_and_replaced(api: Api) -> None:
    rec = await api.recruiter("Copy org")
    other = await api.recruiter("Other org")
    iv = await _interview(api, rec)
    inv = await _invite(api, rec, iv, "lena@example.com", send_email=False)
    cid = inv["candidate"]["id"]
    assert "link_nonce" not in inv["candidate"] and "token_hash" not in inv["candidate"]

    st, got = await api.call("GET", f"/api/org/candidates/{cid}/link", rec)
    assert st == 200 and got["link"] == inv["link"]
    st, _ = await api.cand("GET", "/api/c/state", token_of(got['link']))
    assert st == 200
    st, body = await api.call("GET", f"/api/org/candidates/{cid}/link", other)
    assert st == 404 and body["error"]["code"] == "not_found"  # another organisation's candidate

    st, fresh = await api.call("POST", f"/api/org/candidates/{cid}/link", rec, json={"send_email": True})
    assert st == 200 and fresh["link"] != inv["link"] and fresh["emailed"] is True
    st, body = await api.cand("GET", "/api/c/state", token_of(inv['link']))
    assert st == 404  # the old link stopped working
    st, _ = await api.cand("GET", "/api/c/state", token_of(fresh['link']))
    assert st == 200
    assert _links_in(api.inbox.to("lena@example.com")[-1]) == [fresh["link"]]
    st, got = await api.call("GET", f"/api/org/candidates/{cid}/link", rec)
    assert got["link"] == fresh["link"]

    # a withdrawn link cannot be copied; a new link lifts the withdrawal
    await api.call("POST", f"/api/org/candidates/{cid}/revoke", rec)
    st, body = await api.call("GET", f"/api/org/candidates/{cid}/link", rec)
    assert st == 409 and body["error"]["code"] == "link_unavailable"
    st, body = await api.cand("GET", "/api/c/state", token_of(fresh['link']))
    assert st == 410
    st, again = await api.call("POST", f"/api/org/candidates/{cid}/link", rec, json={})
    assert st == 200 and again["candidate"]["revoked"] is False and again["emailed"] is False
    st, body = await api.cand("GET", "/api/c/state", token_of(fresh['link']))
    assert st == 404
    st, _ = await api.cand("GET", "/api/c/state", token_of(again['link']))
    assert st == 200

    st, body = await api.call("POST", f"/api/org/candidates/{uuid.uuid4()}/link", rec, json={})
    assert st == 404


async def test_recruiter_sends_a_reminder(api: Api) -> None:
    rec = await api.recruiter("Remind org")
    iv = await _interview(api, rec)
    inv = await _invite(api, rec, iv, "omar@example.com")
    cid = inv["candidate"]["id"]
    sent_before = REGISTRY.get_sample_value("ir_reminders_sent_total") or 0.0
    st, res = await api.call("POST", f"/api/org/candidates/{cid}/remind", rec)
    assert st == 200 and res["emailed"] is True and res["candidate"]["reminded_at"]
    assert REGISTRY.get_sample_value("ir_reminders_sent_total") == sent_before + 1
    mails = api.inbox.to("omar@example.com")
    assert [m["Subject"].startswith("Reminder") for m in mails] == [False, True]
    assert _links_in(mails[-1]) == [inv["link"]]  # the same link as the invitation

    link_only = await _invite(api, rec, iv, None)
    st, body = await api.call("POST", f"/api/org/candidates/{link_only['candidate']['id']}/remind", rec)
    assert st == 409 and body["error"]["code"] == "no_email"
    await api.call("POST", f"/api/org/candidates/{cid}/revoke", rec)
    st, body = await api.call("POST", f"/api/org/candidates/{cid}/remind", rec)
    assert st == 409 and body["error"]["code"] == "not_pending"
    assert len(api.inbox.to("omar@example.com")) == 2


async def _age(api: Api, cid: str, *, invited_hours_ago: float, expires_in_hours: float) -> None:
    await api.pool.execute(
        "UPDATE candidates SET created_at = now() - make_interval(secs => $2), "
        "expires_at = now() + make_interval(secs => $3) WHERE id = $1",
        uuid.UUID(cid),
        invited_hours_ago * 3600,
        expires_in_hours * 3600,
    )


async def test_automatic_reminder_before_the_link_expires(api: Api) -> None:
    rec = await api.recruiter("Sweep org")
    iv = await _interview(api, rec)
    due = await _invite(api, rec, iv, "due@example.com")
    later = await _invite(api, rec, iv, "later@example.com")
    late_invite = await _invite(api, rec, iv, "fresh@example.com")
    revoked = await _invite(api, rec, iv, "gone@example.com")
    await _age(api, due["candidate"]["id"], invited_hours_ago=72, expires_in_hours=10)
    await _age(api, later["candidate"]["id"], invited_hours_ago=72, expires_in_hours=40)  # not yet in the window
    await _age(api, late_invite["candidate"]["id"], invited_hours_ago=1, expires_in_hours=10)  # invited in it
    await _age(api, revoked["candidate"]["id"], invited_hours_ago=72, expires_in_hours=10)
    await api.call("POST", f"/api/org/candidates/{revoked['candidate']['id']}/revoke", rec)

    svc = api.app[SERVICES]
    # SMTP down: nothing is marked as reminded, the next sweep tries again
    down = dataclasses.replace(svc, cfg=dataclasses.replace(svc.cfg, smtp_port=free_port()))
    assert await ReminderSweeper(down).sweep() == 0
    row = await api.pool.fetchrow("SELECT reminded_at FROM candidates WHERE id = $1", uuid.UUID(due["candidate"]["id"]))
    assert row["reminded_at"] is None

    # two replicas sweeping at once send one reminder
    sent = await asyncio.gather(ReminderSweeper(svc).sweep(), ReminderSweeper(svc).sweep())
    assert sum(sent) >= 1
    # the invitation's link again (a sweep has no request: the host is PUBLIC_URL, else HTTP_HOST:HTTP_PORT)
    tokens = [[token_of(link) for link in _links_in(m)] for m in api.inbox.to("due@example.com")]
    assert tokens == [[token_of(due["link"])], [token_of(due["link"])]]
    assert api.inbox.to("due@example.com")[-1]["Subject"].startswith("Reminder")
    for addr in ("later@example.com", "fresh@example.com", "gone@example.com"):
        assert len(api.inbox.to(addr)) == 1, addr  # the invitation only
    assert await ReminderSweeper(svc).sweep() == 0  # once
    assert len(api.inbox.to("due@example.com")) == 2


# ---- stored scores ----


async def _answer_with_captions(api: Api, token: str, texts: list[str]) -> str:
    st, started = await api.cand("POST", "/api/c/answers/0/start", token)
    assert st == 201, started
    sid = started["session_id"]
    for i, text in enumerate(texts):
        cap = Caption(id=f"{sid}-c{i}", role="candidate", t0=2.0 * i, t1=2.0 * i + 1.8, text=text, lang="en")
        assert await captions_store.insert_caption(api.pool, cap, sid, i)
    st, body = await api.cand("POST", "/api/c/answers/0/finish", token)
    assert st == 200, body
    return str(sid)


async def _candidate_with_answer(api: Api, texts: list[str]) -> tuple[str, str, str]:
    rec = await api.recruiter("Score org")
    iv = await _interview(api, rec)
    inv = await _invite(api, rec, iv, None)
    token = token_of(inv["link"])
    st, _ = await api.cand("POST", "/api/c/consent", token)
    assert st == 200
    sid = await _answer_with_captions(api, token, texts)
    return rec, str(inv["candidate"]["id"]), sid


async def test_offline_score_is_stored_and_follows_late_captions(api: Api) -> None:
    rec, cid, sid = await _candidate_with_answer(api, ["I like working with people and I am a fast learner."])
    st, first = await api.call("GET", f"/api/org/candidates/{cid}", rec)
    assert st == 200
    score = first["answers"][0]["score"]
    assert score["provider"] == "offline" and "pending" not in score
    stored = await api.pool.fetchrow(
        "SELECT captions_key, provider FROM answer_scores WHERE session_id = $1", uuid.UUID(sid)
    )
    assert stored["provider"] == "offline"
    st, again = await api.call("GET", f"/api/org/candidates/{cid}", rec)
    assert again["answers"][0]["score"] == score

    # a caption that arrives after the first review covers the job's requirements: scored anew, higher
    late = Caption(
        id=f"{sid}-late",
        role="candidate",
        t0=10.0,
        t1=16.0,
        text="I built streaming pipelines with Kafka and tuned PostgreSQL queries and indexes for them.",
        lang="en",
    )
    await captions_store.insert_caption(api.pool, late, sid, 99)
    st, after = await api.call("GET", f"/api/org/candidates/{cid}", rec)
    assert after["answers"][0]["score"]["score"] > score["score"]
    assert after["answers"][0]["score"]["rubric"]["relevance"] > score["rubric"]["relevance"]
    newer = await api.pool.fetchval("SELECT captions_key FROM answer_scores WHERE session_id = $1", uuid.UUID(sid))
    assert newer != stored["captions_key"]
    # the comparison and the CSV (read in bulk for the whole interview) show the same score
    iv = after["interview"]["id"]
    st, cmp = await api.call("GET", f"/api/org/interviews/{iv}/compare", rec)
    assert st == 200 and [c["scores"] for c in cmp["candidates"]] == [[after["answers"][0]["score"]["score"]]]
    assert cmp["candidates"][0]["overall_score"] == after["overall_score"]
    st, csv_text = await api.call("GET", f"/api/org/interviews/{iv}/export.csv", rec)
    assert csv_text.strip().splitlines()[1].endswith(f",{after['answers'][0]['score']['score']}")


async def _wait_for_provider(api: Api, rec: str, cid: str, provider: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            st, r = await api.call("GET", f"/api/org/candidates/{cid}", rec)
            assert st == 200
            score = r["answers"][0]["score"]
            if not score.get("pending"):
                assert score["provider"] == provider
                return dict(score)
            await asyncio.sleep(0.1)


async def test_model_scores_against_the_job_description(infra: Infra) -> None:
    reply = '{"relevance": 88, "completeness": 77, "structure": 66, "clarity": 91, "feedback": "Quantify the gain."}'
    async with FakeOpenAI(responder=lambda body: Reply(reply)) as fake:
        async with recruit_api(infra, llm_provider="openai", openai_base_url=fake.base_url, llm_model="m") as api:
            rec, cid, _ = await _candidate_with_answer(api, ["We moved billing events onto Kafka streams."])
            st, first = await api.call("GET", f"/api/org/candidates/{cid}", rec)
            assert first["answers"][0]["score"]["pending"] is True  # the page does not wait on the model
            assert first["answers"][0]["score"]["provider"] == "offline"
            score = await _wait_for_provider(api, rec, cid, "openai")
            assert score["rubric"]["relevance"] == 88 and score["summary"] == "Quantify the gain."
            assert "delivery" in score["rubric"] and score["delivery"]["word_count"] > 0  # measured, not the model's
            asked = fake.requests_for("score")
            assert len(asked) == 1
            data = user_data(asked[0])
            assert "Kafka" in data["job_description"] and "Kafka streams" in data["candidate_answer"]
            st, again = await api.call("GET", f"/api/org/candidates/{cid}", rec)
            assert again["answers"][0]["score"] == score and len(fake.requests_for("score")) == 1  # stored


async def test_broken_model_falls_back_to_the_offline_score(infra: Infra) -> None:
    async with FakeOpenAI(responder=lambda body: Reply("not json at all")) as fake:
        async with recruit_api(infra, llm_provider="openai", openai_base_url=fake.base_url, llm_max_retries=0) as api:
            rec, cid, _ = await _candidate_with_answer(api, ["I tuned PostgreSQL indexes."])
            score = await _wait_for_provider(api, rec, cid, "offline")
            assert score["model_error"] and 0 <= score["score"] <= 100
            asked = len(fake.requests_for("score"))
            assert asked == 2 and all(task_of(r) == "score" for r in fake.requests)  # one retry, then stored
            await api.call("GET", f"/api/org/candidates/{cid}", rec)
            assert len(fake.requests_for("score")) == asked


async def test_candidate_page_gets_turn_credentials_from_its_link(infra: Infra) -> None:
    servers = ["stun:stun.example.com:3478", "turn:turn.example.com:3478?transport=udp"]
    async with recruit_api(infra, ice_servers=servers, turn_secret="coturn-secret") as api:
        rec = await api.recruiter("Turn org")
        iv = await _interview(api, rec)
        inv = await _invite(api, rec, iv, None)
        st, conf = await api.cand("GET", "/api/c/config", token_of(inv['link']))
        assert st == 200 and conf["ice_servers"][0] == servers[0]
        turn = conf["ice_servers"][1]
        assert turn["urls"] == servers[1] and turn["username"].endswith(f":cand-{inv['candidate']['id']}")
        mac = hmac.new(b"coturn-secret", turn["username"].encode(), hashlib.sha1).digest()
        assert turn["credential"] == base64.b64encode(mac).decode()  # what coturn's use-auth-secret checks
        st, body = await api.cand("GET", "/api/c/config", "not-a-real-token")
        assert st == 404 and "ice_servers" not in (body or {})
        await api.call("POST", f"/api/org/candidates/{inv['candidate']['id']}/revoke", rec)
        st, _ = await api.cand("GET", "/api/c/config", token_of(inv['link']))
        assert st == 410


async def test_links_follow_a_moved_deadline(api: Api) -> None:
    now = datetime.now(UTC)
    rec = await api.recruiter("Deadline org")
    iv = await _interview(api, rec, deadline=(now + timedelta(days=2)).isoformat())
    at_deadline = await _invite(api, rec, iv, "a@example.com")
    earlier = await _invite(api, rec, iv, "b@example.com", expires_at=(now + timedelta(days=1)).isoformat())

    async def expiry(inv: dict[str, Any]) -> datetime:
        st, body = await api.call("GET", f"/api/org/interviews/{iv}/candidates", rec)
        found = next(c for c in body["candidates"] if c["id"] == inv["candidate"]["id"])
        return datetime.fromisoformat(found["expires_at"].replace("Z", "+00:00"))

    later = now + timedelta(days=5)
    st, _ = await api.call("PATCH", f"/api/org/interviews/{iv}", rec, json={"deadline": later.isoformat()})
    assert st == 200
    assert abs((await expiry(at_deadline) - later).total_seconds()) < 1  # extended with the deadline
    assert abs((await expiry(earlier) - (now + timedelta(days=1))).total_seconds()) < 1  # its own date kept
    sooner = now + timedelta(hours=12)
    await api.call("PATCH", f"/api/org/interviews/{iv}", rec, json={"deadline": sooner.isoformat()})
    assert abs((await expiry(at_deadline) - sooner).total_seconds()) < 1
    assert abs((await expiry(earlier) - sooner).total_seconds()) < 1  # no link outlives the deadline


async def test_an_answer_left_recording_past_its_time_is_ended(api: Api) -> None:
    rec = await api.recruiter("Limit org")
    iv = await _interview(api, rec, questions=[{"text": "Why us?", "answer_seconds": 60, "retakes": 0}])
    inv = await _invite(api, rec, iv, None)
    token = token_of(inv["link"])
    await api.cand("POST", "/api/c/consent", token)
    st, started = await api.cand("POST", "/api/c/answers/0/start", token)
    assert st == 201
    # a shorter grace than the app's own sweeper (30 s, running in the background): only this one ends it
    limit = AnswerTimeLimit(api.app[SERVICES], grace_s=5)
    assert await limit.sweep() == 0  # within its time
    await api.pool.execute(
        "UPDATE candidate_answers SET created_at = now() - interval '66 seconds' WHERE session_id = $1",
        uuid.UUID(started["session_id"]),
    )
    assert await limit.sweep() == 1
    assert await limit.sweep() == 0
    status = await api.pool.fetchval("SELECT status FROM sessions WHERE id = $1", uuid.UUID(started["session_id"]))
    assert status == "ended"
    st, body = await api.cand("POST", "/api/c/answers/0/finish", token)
    assert st == 409 and body["error"]["code"] == "no_answer_started"
    # it did not count: the only attempt (no retakes) can be made again
    st, again = await api.cand("POST", "/api/c/answers/0/start", token)
    assert st == 201 and again["attempt"] == 2


async def test_erasing_a_candidate_removes_everything_recorded(api: Api) -> None:
    rec = await api.recruiter("Erase org")
    other = await api.recruiter("Nosy org")
    st, _ = await api.call("PATCH", "/api/org", rec, json={"webhook_url": f"http://127.0.0.1:{free_port()}/hook"})
    assert st == 200
    iv = await _interview(api, rec, questions=[{"text": "Why us?", "retakes": 0}])
    people = []
    for who in ("erase@example.com", "keep@example.com"):
        inv = await _invite(api, rec, iv, who, send_email=False)
        token = token_of(inv["link"])
        await api.cand("POST", "/api/c/consent", token)
        sid = await _answer_with_captions(api, token, ["I like the product."])
        recording = api.cfg.recordings_dir / f"{sid}.webm"
        recording.parent.mkdir(parents=True, exist_ok=True)
        recording.write_bytes(b"webm bytes")
        people.append((inv["candidate"]["id"], token, uuid.UUID(sid), recording))
    (gone_id, gone_token, gone_sid, gone_file), (kept_id, _, kept_sid, kept_file) = people
    st, _ = await api.cand("POST", "/api/c/complete", gone_token)
    assert st == 200
    outbox = "SELECT count(*) FROM webhook_outbox WHERE candidate_id = $1"
    assert await api.pool.fetchval(outbox, uuid.UUID(gone_id)) == 1  # the ATS event carries name and e-mail

    st, _ = await api.call("DELETE", f"/api/org/candidates/{gone_id}", other)
    assert st == 404 and gone_file.exists()
    st, _ = await api.call("DELETE", f"/api/org/candidates/{gone_id}", rec)
    assert st == 204
    assert not gone_file.exists()
    assert await api.pool.fetchval("SELECT count(*) FROM sessions WHERE id = $1", gone_sid) == 0
    assert await api.pool.fetchval("SELECT count(*) FROM captions WHERE session_id = $1", gone_sid) == 0
    assert await api.pool.fetchval(outbox, uuid.UUID(gone_id)) == 0
    st, _ = await api.call("GET", f"/api/org/candidates/{gone_id}", rec)
    assert st == 404
    st, _ = await api.cand("GET", "/api/c/state", gone_token)
    assert st == 404
    st, kept = await api.call("GET", f"/api/org/candidates/{kept_id}", rec)
    assert st == 200 and kept["answers"][0]["answered"] and kept_file.exists()

    # deleting the interview erases its remaining candidates' recordings too
    st, _ = await api.call("DELETE", f"/api/org/interviews/{iv}", rec)
    assert st == 204 and not kept_file.exists()
    assert await api.pool.fetchval("SELECT count(*) FROM sessions WHERE id = $1", kept_sid) == 0


async def test_questions_in_use_cannot_be_reworded_or_reordered(api: Api) -> None:
    rec = await api.recruiter("Locked org")
    qs = [{"text": "Why us?", "retakes": 0}, {"text": "Why now?", "retakes": 0}]
    iv = await _interview(api, rec, questions=qs)
    # before anyone answers, anything goes
    st, _ = await api.call("PATCH", f"/api/org/interviews/{iv}", rec, json={"questions": list(reversed(qs))})
    assert st == 200
    inv = await _invite(api, rec, iv, None)
    token = token_of(inv["link"])
    await api.cand("POST", "/api/c/consent", token)
    await _answer_with_captions(api, token, ["Because of the product."])
    for changed in (qs, [qs[1]], [{"text": "Why not?"}, qs[0]]):  # reordered, removed, reworded
        st, body = await api.call("PATCH", f"/api/org/interviews/{iv}", rec, json={"questions": changed})
        assert st == 409 and body["error"]["code"] == "questions_locked" and body["error"]["field"] == "questions"
    st, now = await api.call("GET", f"/api/org/interviews/{iv}", rec)
    assert [q["text"] for q in now["questions"]] == ["Why now?", "Why us?"]  # unchanged
    longer = [{"text": "Why now?", "answer_seconds": 300}, {"text": "Why us?"}, {"text": "Anything else?"}]
    st, now = await api.call("PATCH", f"/api/org/interviews/{iv}", rec, json={"questions": longer})
    assert st == 200 and now["questions"][0]["answer_seconds"] == 300 and len(now["questions"]) == 3


async def test_candidates_past_the_retention_period_are_erased(api: Api) -> None:
    rec = await api.recruiter("Retention org")
    iv = await _interview(api, rec, questions=[{"text": "Why us?", "retakes": 0}])
    ids: dict[str, str] = {}
    files: dict[str, Any] = {}
    for who in ("old-done", "old-expired", "recent-done", "pending"):
        inv = await _invite(api, rec, iv, f"{who}@example.com", send_email=False)
        ids[who] = inv["candidate"]["id"]
        token = token_of(inv["link"])
        await api.cand("POST", "/api/c/consent", token)
        sid = await _answer_with_captions(api, token, ["Because of the product."])
        files[who] = api.cfg.recordings_dir / f"{sid}.webm"
        files[who].write_bytes(b"webm bytes")
    when = "UPDATE candidates SET status = $2, completed_at = now() - make_interval(days => $3), expires_at = $4 WHERE id = $1"
    now = datetime.now(UTC)
    await api.pool.execute(when, uuid.UUID(ids["old-done"]), "completed", 40, now - timedelta(days=30))
    await api.pool.execute(
        "UPDATE candidates SET expires_at = now() - interval '40 days' WHERE id = $1", uuid.UUID(ids["old-expired"])
    )
    await api.pool.execute(when, uuid.UUID(ids["recent-done"]), "completed", 2, now + timedelta(days=5))

    svc = api.app[SERVICES]
    assert await RetentionSweeper(svc).sweep() == 0  # CANDIDATE_RETENTION_DAYS=0: keep everything
    keep_30 = dataclasses.replace(svc, cfg=dataclasses.replace(svc.cfg, candidate_retention_days=30))
    assert await RetentionSweeper(keep_30).sweep() == 2
    for who, gone in (("old-done", True), ("old-expired", True), ("recent-done", False), ("pending", False)):
        st, _ = await api.call("GET", f"/api/org/candidates/{ids[who]}", rec)
        assert (st == 404) is gone and files[who].exists() is not gone, who
    assert await RetentionSweeper(keep_30).sweep() == 0


async def test_recruiter_sees_the_recording_credit_and_hears_when_it_ran_out(api: Api) -> None:
    rec = await api.recruiter("Credit org")
    st, org = await api.call("GET", "/api/org", rec)
    assert st == 200 and org["recording_seconds_left"] > 0
    me = (await api.call("GET", "/api/me", rec))[1]
    owner_email = me["user"]["email"]
    iv = await _interview(api, rec, questions=[{"text": "Why us?", "retakes": 2}])
    inv = await _invite(api, rec, iv, None)
    token = token_of(inv["link"])
    await api.cand("POST", "/api/c/consent", token)
    st, started = await api.cand("POST", "/api/c/answers/0/start", token)
    assert st == 201
    async with api.pool.acquire() as conn:  # the answers used it all up
        await credits.debit(conn, uuid.UUID(await _owner(api, rec)), uuid.UUID(started["session_id"]), 1e9)
    st, org = await api.call("GET", "/api/org", rec)
    assert org["recording_seconds_left"] == 0 and org["recording_low"] is True
    for _ in range(2):
        st, body = await api.cand("POST", "/api/c/answers/0/start", token)
        assert st == 503 and body["error"]["code"] == "recording_unavailable"
    told = [m for m in api.inbox.to(owner_email) if "cannot record" in m["Subject"]]
    assert len(told) == 1 and "/billing.html" in told[0].get_payload(decode=True).decode()  # once a day


async def _owner(api: Api, token: str) -> str:
    me = (await api.call("GET", "/api/me", token))[1]
    return str(me["user"]["id"])


async def test_an_answer_started_before_the_deadline_is_kept(api: Api) -> None:
    rec = await api.recruiter("Late org")
    iv = await _interview(api, rec, questions=[{"text": "Why us?", "retakes": 1}, {"text": "Why now?"}])
    inv = await _invite(api, rec, iv, None)
    cid, token = uuid.UUID(inv["candidate"]["id"]), token_of(inv["link"])
    await api.cand("POST", "/api/c/consent", token)
    await _answer_with_captions(api, token, ["Because of the product."])
    st, _ = await api.cand("POST", "/api/c/answers/1/start", token)
    assert st == 201
    await api.pool.execute("UPDATE candidates SET expires_at = now() - interval '1 minute' WHERE id = $1", cid)
    # the answer in progress is saved and the interview completes; nothing new may start
    st, state = await api.cand("POST", "/api/c/answers/1/finish", token)
    assert st == 200 and state["answered"] == 2
    st, body = await api.cand("POST", "/api/c/answers/0/start", token)  # a retake: too late
    assert st == 410 and body["error"]["code"] == "link_expired"
    st, done = await api.cand("POST", "/api/c/complete", token)
    assert st == 200 and done["candidate"]["status"] == "completed"
    # long after the deadline even an answer in progress is refused
    other = await _invite(api, rec, iv, None)
    oid, otoken = uuid.UUID(other["candidate"]["id"]), token_of(other["link"])
    await api.cand("POST", "/api/c/consent", otoken)
    st, _ = await api.cand("POST", "/api/c/answers/0/start", otoken)
    assert st == 201
    await api.pool.execute("UPDATE candidates SET expires_at = now() - interval '2 hours' WHERE id = $1", oid)
    st, body = await api.cand("POST", "/api/c/answers/0/finish", otoken)
    assert st == 410 and body["error"]["code"] == "link_expired"
