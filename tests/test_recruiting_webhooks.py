"""ATS webhooks (issue 8) through the real HTTP API: signed, retried from a durable outbox, logged, SSRF-safe.

Each test runs its own signaling app(s) in this process on the shared embedded Postgres (so a restart is
a new app on the same database) and an ATS receiver on 127.0.0.1 that answers a scripted status per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from conftest import Infra
from prometheus_client import REGISTRY
from recruit_fixtures import INTERVIEW, Api, recruit_api, token_of

from interview_room.embedded import free_port
from web.recruiting import webhook_guard, webhooks

ONE_QUESTION = {"title": "Quick screen", "questions": ["Why us?"]}


@dataclass
class Receiver:
    """An ATS endpoint: ``answer(path, delivery_id, n)`` gives the status of the n-th request (1-based) of a delivery."""

    answer: Callable[[str, str, int], int]
    url: str = ""
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def of(self, delivery_id: str) -> list[tuple[str, dict[str, str], bytes]]:
        return [r for r in self.received if r[1]["X-Delivery-Id"] == delivery_id]


@asynccontextmanager
async def receiver(answer: Callable[[str, str, int], int] = lambda *_: 200) -> AsyncIterator[Receiver]:
    rcv = Receiver(answer)

    async def handle(request: web.Request) -> web.Response:
        headers, body = dict(request.headers), await request.read()
        rcv.received.append((request.path, headers, body))
        n = len(rcv.of(headers["X-Delivery-Id"]))
        status = rcv.answer(request.path, headers["X-Delivery-Id"], n)
        return web.Response(status=status, headers={"Location": "/elsewhere"} if status == 302 else None)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rcv.url = f"http://127.0.0.1:{port}"
    try:
        yield rcv
    finally:
        await runner.cleanup()


async def _answer_without_media(api: Api, token: str, n: int) -> None:
    """An attempt started and finished with no audio (the media path is covered by the e2e test)."""
    st, body = await api.cand("POST", f"/api/c/answers/{n}/start", token)
    assert st == 201, body
    st, body = await api.cand("POST", f"/api/c/answers/{n}/finish", token)
    assert st == 200, body


async def _complete_one(api: Api, rec: str, interview_id: str, name: str = "Cara") -> str:
    """A link-only candidate who answers the one question and completes; returns the candidate id."""
    st, inv = await api.call("POST", f"/api/org/interviews/{interview_id}/candidates", rec, json={"name": name})
    assert st == 201, inv
    tok = token_of(inv["link"])
    await api.cand("POST", "/api/c/consent", tok)
    await _answer_without_media(api, tok, 0)
    st, done = await api.cand("POST", "/api/c/complete", tok)
    assert st == 200 and done["candidate"]["status"] == "completed", done
    return str(inv["candidate"]["id"])


async def _hooked_org(api: Api, url: str) -> tuple[str, str, str]:
    """A recruiter whose organisation sends webhooks to ``url``: (token, secret, one-question interview id)."""
    rec = await api.recruiter("Hook org")
    st, org = await api.call("PATCH", "/api/org", rec, json={"webhook_url": url})
    assert st == 200, org
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=ONE_QUESTION)
    return rec, org["webhook_secret"], iv["id"]


async def _log(api: Api, rec: str, n: int) -> list[dict[str, Any]]:
    """The organisation's delivery log, oldest first, once it has ``n`` attempts."""
    async with asyncio.timeout(30):
        while True:
            st, body = await api.call("GET", "/api/org/webhook-deliveries", rec)
            assert st == 200
            if len(body["deliveries"]) >= n:
                return list(reversed(body["deliveries"]))
            await asyncio.sleep(0.05)


def _attempts(log: list[dict[str, Any]]) -> list[tuple[int, bool, int | None]]:
    return [(d["attempt"], d["ok"], d["status_code"]) for d in log]


async def test_complete_sends_confirmation_and_signed_webhook_with_retries(infra: Infra) -> None:
    async with (
        recruit_api(infra) as api,
        receiver(lambda _p, _d, n: 500 if n < 3 else 200) as ats,  # fails twice, then takes it
    ):
        api.app[webhooks.DISPATCHER].backoff = (0.05, 0.05, 0.05)
        rec = await api.recruiter("Hook org")
        st, org = await api.call("PATCH", "/api/org", rec, json={"webhook_url": f"{ats.url}/hook"})
        assert st == 200
        secret = org["webhook_secret"]
        st, iv = await api.call("POST", "/api/org/interviews", rec, json=INTERVIEW)
        st, inv = await api.call(
            "POST",
            f"/api/org/interviews/{iv['id']}/candidates",
            rec,
            json={"email": "cara@example.com", "name": "Cara"},
        )
        tok = token_of(inv["link"])
        await api.cand("POST", "/api/c/consent", tok)
        st, body = await api.cand("POST", "/api/c/complete", tok)
        assert st == 409 and body["error"]["code"] == "unanswered_questions"
        await _answer_without_media(api, tok, 0)
        await _answer_without_media(api, tok, 0)  # the one retake
        st, body = await api.cand("POST", "/api/c/answers/0/start", tok)
        assert st == 409 and body["error"]["code"] == "no_retakes_left"
        await _answer_without_media(api, tok, 1)
        st, done = await api.cand("POST", "/api/c/complete", tok)
        assert st == 200 and done["candidate"]["status"] == "completed" and done["answered"] == 2
        st, again = await api.cand("POST", "/api/c/complete", tok)
        assert st == 200  # idempotent: no second e-mail or webhook
        assert "complete" in api.inbox.to("cara@example.com")[-1]["Subject"]
        log = await _log(api, rec, 3)
        assert _attempts(log) == [(1, False, 500), (2, False, 500), (3, True, 200)]
        assert {d["state"] for d in log} == {"delivered"}  # the event's state on each of its attempts
        await asyncio.sleep(0.5)
        assert len(ats.received) == 3
        assert len(api.inbox.to("cara@example.com")) == 2  # the invitation and one confirmation
        recruiter = (await api.call("GET", "/api/me", rec))[1]["user"]["email"]
        told = [m for m in api.inbox.to(recruiter) if "completed" in m["Subject"]]
        assert len(told) == 1 and "Cara completed" in told[0]["Subject"]  # once, though complete was called twice
        assert f"/recruit/review.html?id={inv['candidate']['id']}" in told[0].get_payload(decode=True).decode()
        assert {h["X-Delivery-Id"] for _, h, _ in ats.received} == {log[0]["delivery_id"]}
        for path, headers, body in ats.received:
            assert path == "/hook" and headers["X-Event"] == "candidate.completed"
            expected = hmac.new(
                secret.encode(), headers["X-Timestamp"].encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            assert headers["X-Signature"] == f"sha256={expected}" == webhooks.sign(secret, headers["X-Timestamp"], body)
            assert webhooks.sign("another secret", headers["X-Timestamp"], body) != headers["X-Signature"]
        payload = json.loads(ats.received[-1][2])
        assert payload["event"] == "candidate.completed" and payload["candidate"]["email"] == "cara@example.com"
        assert payload["delivery_id"] == log[0]["delivery_id"] and payload["interview"]["id"] == iv["id"]
        assert payload["review_url"] == f"{api.base}/recruit/review.html?id={inv['candidate']['id']}"
        # decision and export
        cid = inv["candidate"]["id"]
        st, c = await api.call(
            "POST", f"/api/org/candidates/{cid}/decision", rec, json={"decision": "pass", "note": "Good"}
        )
        assert st == 200 and c["decision"] == "pass"
        st, csv_text = await api.call("GET", f"/api/org/interviews/{iv['id']}/export.csv", rec)
        assert st == 200 and "cara@example.com,completed" in csv_text and ",pass,Good" in csv_text


async def test_pending_retry_survives_a_restart_and_is_sent_once(infra: Infra) -> None:
    async with receiver(lambda _p, _d, n: 500 if n == 1 else 200) as ats:
        async with recruit_api(infra) as first:
            first.app[webhooks.DISPATCHER].backoff = (3600.0,)  # the retry is due long after this process is gone
            rec, _, iv = await _hooked_org(first, f"{ats.url}/hook")
            await _complete_one(first, rec, iv)
            log = await _log(first, rec, 1)
            assert _attempts(log) == [(1, False, 500)] and log[0]["state"] == "pending"
        delivery_id = log[0]["delivery_id"]
        async with recruit_api(infra) as second:  # a new process on the same database
            # the hour passes while no signaling process runs
            await second.pool.execute(
                "UPDATE webhook_outbox SET next_attempt_at = now() WHERE delivery_id = $1", uuid.UUID(delivery_id)
            )
            second.app[webhooks.DISPATCHER].wake()
            log = await _log(second, rec, 2)
            assert _attempts(log) == [(1, False, 500), (2, True, 200)]
            await asyncio.sleep(0.5)
            assert len(ats.received) == 2  # once before the restart, once after: never twice after
            assert {h["X-Delivery-Id"] for _, h, _ in ats.received} == {delivery_id}
            assert len(await _log(second, rec, 2)) == 2


async def test_two_dispatchers_deliver_each_event_once(infra: Infra) -> None:
    async with (
        receiver(lambda _p, _d, n: 500 if n == 1 else 200) as ats,  # every event is retried once
        recruit_api(infra) as a,
        recruit_api(infra) as b,
    ):
        for api in (a, b):
            api.app[webhooks.DISPATCHER].backoff = (0.05, 0.05)
            api.app[webhooks.DISPATCHER].poll_s = 0.05  # both look for due retries all the time
        rec, _, iv = await _hooked_org(a, f"{ats.url}/hook")
        for i in range(6):
            await _complete_one(a if i % 2 else b, rec, iv, name=f"C{i}")
        log = await _log(a, rec, 12)
        await asyncio.sleep(0.5)
        log = await _log(a, rec, 12)
        by_delivery: dict[str, list[tuple[int, bool, int | None]]] = {}
        for d in log:
            by_delivery.setdefault(d["delivery_id"], []).append((d["attempt"], d["ok"], d["status_code"]))
        assert len(by_delivery) == 6
        assert all(v == [(1, False, 500), (2, True, 200)] for v in by_delivery.values()), by_delivery
        assert len(ats.received) == 12
        assert all(len(ats.of(d)) == 2 for d in by_delivery)


async def test_owner_retries_a_failed_delivery_to_the_fixed_url(infra: Infra) -> None:
    async with (
        receiver(lambda path, _d, _n: 200 if path == "/fixed" else 500) as ats,
        recruit_api(infra) as api,
    ):
        api.app[webhooks.DISPATCHER].backoff = (0.05,)  # two attempts, then failed
        rec, _, iv = await _hooked_org(api, f"{ats.url}/broken")
        await _complete_one(api, rec, iv)
        log = await _log(api, rec, 2)
        assert _attempts(log) == [(1, False, 500), (2, False, 500)]
        delivery_id = log[0]["delivery_id"]

        other = await api.recruiter("Other org")
        st, body = await api.call("POST", f"/api/org/webhook-deliveries/{delivery_id}/retry", other)
        assert st == 404 and body["error"]["code"] == "not_found"
        for bad in (str(uuid.uuid4()), "not-a-uuid"):
            st, body = await api.call("POST", f"/api/org/webhook-deliveries/{bad}/retry", rec)
            assert st == 404 and body["error"]["code"] == "not_found"

        # the recruiter fixes the URL; the retry goes to the URL of the moment, same delivery id
        st, _ = await api.call("PATCH", "/api/org", rec, json={"webhook_url": f"{ats.url}/fixed"})
        st, body = await api.call("POST", f"/api/org/webhook-deliveries/{delivery_id}/retry", rec)
        assert st == 202 and body["delivery_id"] == delivery_id and body["state"] == "pending"
        log = await _log(api, rec, 3)
        assert _attempts(log) == [(1, False, 500), (2, False, 500), (3, True, 200)]
        assert {d["state"] for d in log} == {"delivered"}  # the event's state on each of its attempts
        assert log[2]["url"] == f"{ats.url}/fixed" and log[2]["delivery_id"] == delivery_id
        assert [p for p, _, _ in ats.received] == ["/broken", "/broken", "/fixed"]
        st, body = await api.call("POST", f"/api/org/webhook-deliveries/{delivery_id}/retry", rec)
        assert st == 409 and body["error"]["code"] == "not_failed"


async def test_a_redirect_is_not_followed(infra: Infra) -> None:
    async with receiver(lambda *_: 302) as ats, recruit_api(infra) as api:
        api.app[webhooks.DISPATCHER].backoff = ()  # one attempt
        rec, _, iv = await _hooked_org(api, f"{ats.url}/hook")
        await _complete_one(api, rec, iv)
        log = await _log(api, rec, 1)
        assert _attempts(log) == [(1, False, 302)] and log[0]["error"] == "HTTP 302"
        await asyncio.sleep(0.3)
        assert [p for p, _, _ in ats.received] == ["/hook"]  # nothing at /elsewhere


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.5/",
        "http://[::1]/",
        "http://localhost/",
        "http://LOCALHOST./x",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:5432/",
        "http://[::ffff:127.0.0.1]/",
        "http://192.168.1.10/hook",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "ftp://example.com/",
        "http://",
    ],
)
async def test_webhook_url_to_a_local_address_is_refused(infra: Infra, url: str) -> None:
    async with recruit_api(infra, webhook_allow_private=False) as api:
        rec = await api.recruiter("Careful org")
        st, body = await api.call("PATCH", "/api/org", rec, json={"webhook_url": url})
        assert st == 400 and body["error"]["code"] == "validation_error" and body["error"]["field"] == "webhook_url"
        st, org = await api.call("GET", "/api/org", rec)
        assert org["webhook_url"] == ""
        st, org = await api.call("PATCH", "/api/org", rec, json={"webhook_url": "https://example.com/hook"})
        assert st == 200 and org["webhook_url"] == "https://example.com/hook"  # no DNS lookup when saving
        st, org = await api.call("PATCH", "/api/org", rec, json={"webhook_url": ""})
        assert st == 200 and org["webhook_url"] == ""


async def test_delivery_to_a_local_address_is_refused_without_a_request(infra: Infra) -> None:
    async with receiver() as ats, recruit_api(infra, webhook_allow_private=False) as api:
        api.app[webhooks.DISPATCHER].backoff = ()  # one attempt per round
        port = ats.url.rsplit(":", 1)[1]
        rec, _, iv = await _hooked_org(api, "https://ats.example.com/hook")
        st, org = await api.call("GET", "/api/org", rec)
        # URLs that got into the database anyhow (saved before the check, or edited by hand)
        set_url = "UPDATE organisations SET webhook_url = $2 WHERE id = $1"
        await api.pool.execute(set_url, uuid.UUID(org["id"]), f"http://localhost:{port}/hook")
        refused_before = REGISTRY.get_sample_value("ir_webhook_attempts_total", {"result": "refused"}) or 0.0
        await _complete_one(api, rec, iv)
        log = await _log(api, rec, 1)
        # a name: refused by the webhook client's resolver for the address it resolves to
        assert log[0]["ok"] is False and log[0]["status_code"] is None
        assert log[0]["error"].startswith("address not allowed: localhost resolves to ")
        # a literal IP: aiohttp skips the resolver, the check before the request does not
        await api.pool.execute(set_url, uuid.UUID(org["id"]), f"{ats.url}/hook")
        st, _ = await api.call("POST", f"/api/org/webhook-deliveries/{log[0]['delivery_id']}/retry", rec)
        assert st == 202
        log = await _log(api, rec, 2)
        assert log[1]["error"] == "address not allowed: 127.0.0.1" and log[1]["attempt"] == 2
        await asyncio.sleep(0.3)
        assert ats.received == []
        assert REGISTRY.get_sample_value("ir_webhook_attempts_total", {"result": "refused"}) == refused_before + 2


async def test_resolver_refuses_names_of_local_addresses() -> None:
    resolver = webhook_guard.PublicOnlyResolver()
    try:
        for host in ("localhost", "127.1", "2130706433"):
            with pytest.raises(webhook_guard.AddressNotAllowed):
                await resolver.resolve(host, 80)
    finally:
        await resolver.close()
    assert webhook_guard.host_forbidden("fe80::1") and not webhook_guard.host_forbidden("93.184.216.34")
    assert not webhook_guard.host_forbidden("hooks.example.com")  # names are checked when connecting
