"""Pairing codes and the companion's credential (``signaling/pairing.py``, ``companion_routes.py``).

A code works once, expires, is bounded in attempts per client address, belongs to its session's
owner, and never reaches a log line; the credential it buys opens one session's companion offer and
nothing else of the account.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from conftest import verified
from test_sessions import app_config

from interview_room import bus
from interview_room.config import Config
from signaling import pairing
from web.app import create_app
from web.common.context import SERVICES

PASSWORD = "correct horse battery"
CODE = re.compile(r"^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")


def _cfg(infra: Any, **kw: Any) -> Config:
    return app_config(infra, "signaling-pairing", **kw)


@pytest_asyncio.fixture
async def redis(infra: Any) -> AsyncIterator[Any]:
    r = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/4")  # apart from a running stack's keys
    await r.flushdb()
    yield r
    await r.aclose()


async def _api(infra: Any, pool: asyncpg.Pool, redis: Any, **kw: Any) -> TestClient:
    client = TestClient(TestServer(create_app(_cfg(infra, **kw), pool, redis)), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    return client


@pytest_asyncio.fixture
async def api(infra: Any, pool: asyncpg.Pool, redis: Any) -> AsyncIterator[TestClient]:
    client = await _api(infra, pool, redis, pairing_attempts_per_ip=5)
    yield client
    await client.close()


class User:
    def __init__(self, api: TestClient, token: str) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, status: int, **kw: Any) -> Any:
        resp = await self.api.request(method, path, headers={**self.headers, **kw.pop("headers", {})}, **kw)
        assert resp.status == status, f"{method} {path}: {resp.status} {await resp.text()}"
        return await resp.json() if resp.content_type == "application/json" else None


async def new_user(api: TestClient) -> User:
    email = f"pair-{uuid.uuid4().hex[:12]}@example.com"
    resp = await api.post("/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Pat"})
    assert resp.status == 201
    body = await resp.json()
    await verified(api.server.app[SERVICES].pool, body["user"]["id"])
    return User(api, body["token"])


async def claim(api: TestClient, code: Any) -> tuple[int, dict[str, Any]]:
    resp = await api.post("/api/companion/claim", json={"code": code})
    return resp.status, await resp.json()


async def test_a_code_buys_a_credential_for_that_session_once(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    u = await new_user(api)
    s = await u.call("POST", "/api/sessions", 201, json={"title": "Zoom call"})
    made = await u.call("POST", f"/api/sessions/{s['id']}/pairing", 201)
    assert CODE.match(made["code"]), made
    assert made["expires_in_seconds"] == 600 and f"--code {made['code']}" in made["command"]

    st, grant = await claim(api, made["code"].lower().replace("-", " "))  # typed loosely: still the code
    assert st == 200, grant
    assert grant["session_id"] == s["id"] and grant["title"] == "Zoom call" and grant["ice_servers"] == []
    token = grant["token"]
    # single use
    st, body = await claim(api, made["code"])
    assert (st, body["error"]["code"]) == (404, "invalid_code")

    # the credential opens this session's companion routes, and nothing of the account
    resp = await api.get("/api/companion/session", headers={"X-Companion-Token": token})
    assert resp.status == 200 and (await resp.json())["session_id"] == s["id"]
    for path in ("/api/sessions", f"/api/sessions/{s['id']}", "/api/me"):
        resp = await api.get(path, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401, path
    # ... and a login token is not a companion credential
    resp = await api.post("/api/companion/offer", json={"sdp": "v=0\r\n", "type": "offer"}, headers=u.headers)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"
    resp = await api.post("/api/companion/offer", json={"sdp": "v=0\r\n", "type": "offer"}, headers={"X-Companion-Token": "cmp_forged"})
    assert resp.status == 401
    # a malformed offer with a good credential: a clear error
    resp = await api.post("/api/companion/offer", json={"sdp": 5, "type": "offer"}, headers={"X-Companion-Token": token})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "validation_error"

    # the session ends: the credential goes with it
    await u.call("POST", f"/api/sessions/{s['id']}/end", 200)
    resp = await api.get("/api/companion/session", headers={"X-Companion-Token": token})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "session_ended"
    resp = await api.get("/api/companion/session", headers={"X-Companion-Token": token})
    assert resp.status == 401
    await u.call("POST", f"/api/sessions/{s['id']}/pairing", 409)  # no code for an ended session

    # neither the code nor the credential was ever logged
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert made["code"] not in logged and made["code"].replace("-", "") not in logged and token not in logged
    assert "pairing code claimed" in logged


async def test_codes_are_the_owners_and_a_new_one_replaces_the_old(api: TestClient) -> None:
    owner, other = await new_user(api), await new_user(api)
    s = await owner.call("POST", "/api/sessions", 201, json={"title": "t"})
    await other.call("POST", f"/api/sessions/{s['id']}/pairing", 404)
    await other.call("POST", f"/api/sessions/{uuid.uuid4()}/pairing", 404)
    mock = await owner.call("POST", "/api/sessions", 201, json={"title": "m", "mode": "mock"})
    body = await owner.call("POST", f"/api/sessions/{mock['id']}/pairing", 409)
    assert body["error"]["code"] == "companion_not_available"

    first = await owner.call("POST", f"/api/sessions/{s['id']}/pairing", 201)
    second = await owner.call("POST", f"/api/sessions/{s['id']}/pairing", 201)
    assert first["code"] != second["code"]
    st, body = await claim(api, first["code"])
    assert (st, body["error"]["code"]) == (404, "invalid_code")
    st, body = await claim(api, second["code"])
    assert st == 200 and body["session_id"] == s["id"]


async def test_guessing_is_bounded_per_address_and_changes_nothing(api: TestClient) -> None:
    u = await new_user(api)
    s = await u.call("POST", "/api/sessions", 201, json={"title": "t"})
    made = await u.call("POST", f"/api/sessions/{s['id']}/pairing", 201)
    guesses = ["AAAA-AAAA", "not a code", 12345, None, "ZZZZZZZZ"]  # wrong, malformed, not a string: all count
    for g in guesses:
        st, body = await claim(api, g)
        assert (st, body["error"]["code"]) == (404, "invalid_code"), (g, body)
    st, body = await claim(api, made["code"])  # the limit (5) is used up: even the right code waits
    assert st == 429 and body["error"]["code"] == "too_many_attempts" and body["error"]["retry_after_seconds"] >= 1
    # concurrent guesses cannot pass the bound either
    results = await asyncio.gather(*(claim(api, "BBBB-BBBB") for _ in range(10)))
    assert {st for st, _ in results} == {429}
    # unknown fields and bodies that are not JSON objects: clear errors
    resp = await api.post("/api/companion/claim", json={"code": "x", "session": s["id"]})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "unknown_field"
    resp = await api.post("/api/companion/claim", json=["x"])
    assert resp.status == 400


async def test_a_code_expires(infra: Any, pool: asyncpg.Pool, redis: Any) -> None:
    api = await _api(infra, pool, redis, pairing_code_ttl_seconds=1)
    try:
        u = await new_user(api)
        s = await u.call("POST", "/api/sessions", 201, json={"title": "t"})
        made = await u.call("POST", f"/api/sessions/{s['id']}/pairing", 201)
        assert made["expires_in_seconds"] == 1
        await asyncio.sleep(2.2)
        st, body = await claim(api, made["code"])
        assert (st, body["error"]["code"]) == (404, "invalid_code")
    finally:
        await api.close()


def test_codes_are_typed_loosely_but_only_in_the_alphabet() -> None:
    assert pairing.normalize("abcd-efgh") == "ABCDEFGH"
    assert pairing.normalize(" ABCD EFGH ") == "ABCDEFGH"
    assert pairing.normalize("ABCD-EFG0") is None  # 0 is not in the alphabet
    assert pairing.normalize("ABCDEFGHJ") is None and pairing.normalize(None) is None and pairing.normalize("A" * 40) is None
    codes = {pairing.new_code() for _ in range(200)}
    assert len(codes) == 200 and all(pairing.normalize(c) == c for c in codes)
