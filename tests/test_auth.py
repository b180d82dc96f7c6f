"""Accounts: register, password and code login, tokens (bearer and cookie), logout, expiry,
brute-force limits, password change and profile — against the real signaling app, Postgres and Redis."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import uuid
from collections.abc import AsyncIterator
from email import message_from_bytes
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from conftest import verified

from interview_room import bus
from interview_room.config import Config
from interview_room.embedded import free_port
from web.app import create_app
from web.common.context import SERVICES

PASSWORD = "correct horse battery"


def _config(infra: Any, **over: Any) -> Config:
    base: dict[str, Any] = {
        "data_dir": infra.data_dir / "signaling-tests",
        "database_url": infra.database_url,
        "redis_url": infra.redis_url,
        "secret_key": "test-secret-key",
        "openai_api_key": "",
        "openai_base_url": "",
        "llm_provider": "auto",
        "stripe_api_key": "",
        "smtp_host": "",
        "dev_log_emails": True,  # the code tests read login codes from the log
        "ice_servers": [],
    }
    return Config(**{**base, **over})


async def _client(infra: Any, pool: asyncpg.Pool, redis: Any, **over: Any) -> TestClient:
    # no cookie jar: each request carries exactly the credentials the test gives it
    client = TestClient(TestServer(create_app(_config(infra, **over), pool, redis)), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    return client


@pytest_asyncio.fixture(scope="module")
async def redis(infra: Any) -> AsyncIterator[Any]:
    # database 1: rate-limit counters and media node entries of these tests stay apart from the stack's
    r = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/1")
    yield r
    await r.aclose()


@pytest_asyncio.fixture(scope="module")
async def api(infra: Any, pool: asyncpg.Pool, redis: Any) -> AsyncIterator[TestClient]:
    client = await _client(infra, pool, redis)
    yield client
    await client.close()


@pytest_asyncio.fixture(autouse=True)
async def fresh_limits(redis: Any) -> AsyncIterator[None]:
    """Every test starts (and leaves) with no attempt counters: they are per IP, and all tests are 127.0.0.1."""
    keys = [k async for k in redis.scan_iter(match="rl:*")]
    if keys:
        await redis.delete(*keys)
    yield
    keys = [k async for k in redis.scan_iter(match="rl:*")]
    if keys:
        await redis.delete(*keys)


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(api: TestClient, email: str | None = None, password: str = PASSWORD) -> tuple[dict[str, Any], str]:
    resp = await api.post("/api/auth/register", json={"email": email or new_email(), "password": password, "name": "Ann"})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    await verified(api.server.app[SERVICES].pool, body["user"]["id"])
    return body["user"], body["token"]


async def error_of(resp: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    err: dict[str, Any] = (await resp.json())["error"]
    assert set(err) >= {"code", "message"}
    return err


def logged_code(caplog: pytest.LogCaptureFixture, email: str) -> str | None:
    codes = re.findall(rf"login code for {re.escape(email)}: (\d{{6}})", caplog.text)
    return codes[-1] if codes else None


# ---------------------------------------------------------------- register / me


async def test_register_signs_in_and_grants_free_credits(api: TestClient, pool: asyncpg.Pool) -> None:
    email = new_email()
    resp = await api.post("/api/auth/register", json={"email": email.upper(), "password": PASSWORD, "name": " Ann Lee "})
    assert resp.status == 201
    body = await resp.json()
    assert body["user"]["email"] == email and body["user"]["name"] == "Ann Lee"
    assert "password_hash" not in body["user"]
    cookie = resp.cookies["ir_token"]
    assert cookie.value == body["token"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"

    me = await api.get("/api/me", headers=bearer(body["token"]))
    assert me.status == 200
    info = await me.json()
    assert info["user"]["id"] == body["user"]["id"]
    assert info["plan"] == "free"
    assert info["credits_seconds"] == 7200
    rows = await pool.fetch("SELECT kind, seconds, note FROM credit_ledger WHERE user_id = $1", uuid.UUID(body["user"]["id"]))
    assert [(r["kind"], r["seconds"], r["note"]) for r in rows] == [("grant", 7200.0, "Free plan")]
    # the password is stored as an argon2 hash, never as given
    stored = await pool.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
    assert stored.startswith("$argon2") and PASSWORD not in stored


async def test_duplicate_email_is_refused(api: TestClient) -> None:
    email = new_email()
    await register(api, email)
    resp = await api.post("/api/auth/register", json={"email": email.title(), "password": "another password", "name": "B"})
    err = await error_of(resp, 409)
    assert err["code"] == "email_taken"


async def test_register_validates_fields(api: TestClient) -> None:
    err = await error_of(await api.post("/api/auth/register", json={"email": new_email(), "password": "short"}), 400)
    assert err["code"] == "validation_error" and err["field"] == "password"
    err = await error_of(await api.post("/api/auth/register", json={"email": "not-an-email", "password": PASSWORD}), 400)
    assert err["code"] == "validation_error" and err["field"] == "email"
    err = await error_of(await api.post("/api/auth/register", json={"password": PASSWORD}), 400)
    assert err["code"] == "validation_error" and err["field"] == "email"


# ---------------------------------------------------------------- password login and tokens


async def test_login_with_password(api: TestClient) -> None:
    email = new_email()
    user, _ = await register(api, email)
    resp = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 200
    body = await resp.json()
    assert body["user"]["id"] == user["id"]
    assert resp.cookies["ir_token"].value == body["token"]
    assert (await api.get("/api/me", headers=bearer(body["token"]))).status == 200


async def test_wrong_password_and_unknown_email_are_the_same_401(api: TestClient) -> None:
    email = new_email()
    await register(api, email)
    err = await error_of(await api.post("/api/auth/login", json={"email": email, "password": "wrong password"}), 401)
    assert err["code"] == "invalid_credentials"
    err2 = await error_of(await api.post("/api/auth/login", json={"email": new_email(), "password": PASSWORD}), 401)
    assert err2 == err


async def test_api_paths_need_a_valid_token(api: TestClient) -> None:
    _, token = await register(api)
    token_id, sig = token.split(".")
    for headers in ({}, bearer("garbage"), bearer(f"{token_id}.{sig[:-2]}xx"), bearer(f"{uuid.uuid4().hex}.{sig}")):
        for path in ("/api/me", "/api/sessions", "/api/config"):
            err = await error_of(await api.get(path, headers=headers), 401)
            assert err["code"] == "unauthorized"
    assert (await api.get("/api/me", headers={"Authorization": f"Basic {token}"})).status == 401
    assert (await api.get("/health")).status == 200


async def test_cookie_authenticates_the_browser(api: TestClient) -> None:
    _, token = await register(api)
    resp = await api.get("/api/me", headers={"Cookie": f"ir_token={token}"})
    assert resp.status == 200
    # a stale cookie is answered 401 and cleared
    resp = await api.get("/api/me", headers={"Cookie": "ir_token=stale.value"})
    await error_of(resp, 401)
    assert resp.cookies["ir_token"].value == ""


async def test_logout_revokes_only_that_token(api: TestClient) -> None:
    email = new_email()
    _, token1 = await register(api, email)
    token2 = (await (await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})).json())["token"]
    resp = await api.post("/api/auth/logout", headers=bearer(token1))
    assert resp.status == 204
    assert resp.cookies["ir_token"].value == ""
    err = await error_of(await api.get("/api/me", headers=bearer(token1)), 401)
    assert err["code"] == "unauthorized"
    assert (await api.get("/api/me", headers={"Cookie": f"ir_token={token1}"})).status == 401
    assert (await api.get("/api/me", headers=bearer(token2))).status == 200
    assert (await api.post("/api/auth/logout", headers=bearer(token1))).status == 401


async def test_expired_token_is_refused(api: TestClient, pool: asyncpg.Pool) -> None:
    _, token = await register(api)
    assert (await api.get("/api/me", headers=bearer(token))).status == 200
    await pool.execute("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", token.split(".")[0])
    err = await error_of(await api.get("/api/me", headers=bearer(token)), 401)
    assert err["code"] == "unauthorized"


async def test_token_lifetime_follows_config(infra: Any, pool: asyncpg.Pool, redis: Any) -> None:
    client = await _client(infra, pool, redis, token_ttl_seconds=120)
    try:
        resp = await client.post("/api/auth/register", json={"email": new_email(), "password": PASSWORD})
        token = (await resp.json())["token"]
        assert resp.cookies["ir_token"]["max-age"] == "120"
        left = await pool.fetchval("SELECT extract(epoch FROM expires_at - now()) FROM auth_tokens WHERE id = $1", token.split(".")[0])
        assert 0 < float(left) <= 120
    finally:
        await client.close()


async def test_password_login_is_limited_per_email(api: TestClient) -> None:
    email, other = new_email(), new_email()
    await register(api, email)
    await register(api, other)
    for _ in range(5):
        err = await error_of(await api.post("/api/auth/login", json={"email": email, "password": "guess guess"}), 401)
        assert err["code"] == "invalid_credentials"
    # even the right password waits now
    err = await error_of(await api.post("/api/auth/login", json={"email": email, "password": PASSWORD}), 429)
    assert err["code"] == "too_many_attempts" and err["retry_after_seconds"] > 0
    # another account from the same address is not locked out
    assert (await api.post("/api/auth/login", json={"email": other, "password": PASSWORD})).status == 200


async def test_password_login_is_limited_per_ip(api: TestClient) -> None:
    victim = new_email()
    await register(api, victim)
    for _ in range(20):
        resp = await api.post("/api/auth/login", json={"email": new_email(), "password": "guess guess"})
        assert resp.status == 401
    err = await error_of(await api.post("/api/auth/login", json={"email": victim, "password": PASSWORD}), 429)
    assert err["code"] == "too_many_attempts"


async def test_one_address_can_create_only_so_many_accounts(infra: Any, pool: asyncpg.Pool, redis: Any) -> None:
    client = await _client(infra, pool, redis, register_per_ip_hour=3)
    try:
        for _ in range(3):
            await register(client, new_email())
        resp = await client.post("/api/auth/register", json={"email": new_email(), "password": PASSWORD})
        err = await error_of(resp, 429)
        assert err["code"] == "too_many_attempts" and err["retry_after_seconds"] > 0
        before = await pool.fetchval("SELECT count(*) FROM users")
        resp = await client.post("/api/auth/register", json={"email": new_email(), "password": PASSWORD})
        assert resp.status == 429 and await pool.fetchval("SELECT count(*) FROM users") == before
    finally:
        await client.close()


# ---------------------------------------------------------------- one-time codes


async def test_login_code_works_once(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signaling.mailer")
    email = new_email()
    user, _ = await register(api, email)
    resp = await api.post("/api/auth/login-code", json={"email": email})
    assert resp.status == 202 and await resp.json() == {}
    code = logged_code(caplog, email)
    assert code is not None
    resp = await api.post("/api/auth/verify-code", json={"email": email, "code": code})
    assert resp.status == 200
    body = await resp.json()
    assert body["user"]["id"] == user["id"]
    assert resp.cookies["ir_token"].value == body["token"]
    assert (await api.get("/api/me", headers=bearer(body["token"]))).status == 200
    err = await error_of(await api.post("/api/auth/verify-code", json={"email": email, "code": code}), 401)
    assert err["code"] == "invalid_code"


async def test_code_is_stored_hashed_and_expires(api: TestClient, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signaling.mailer")
    email = new_email()
    await register(api, email)
    assert (await api.post("/api/auth/login-code", json={"email": email})).status == 202
    code = logged_code(caplog, email)
    assert code is not None
    row = await pool.fetchrow("SELECT code_hash, expires_at - created_at AS ttl FROM login_codes WHERE email = $1", email)
    assert code not in row["code_hash"]
    assert row["ttl"].total_seconds() == 600
    await pool.execute("UPDATE login_codes SET expires_at = now() - interval '1 second' WHERE email = $1", email)
    err = await error_of(await api.post("/api/auth/verify-code", json={"email": email, "code": code}), 401)
    assert err["code"] == "invalid_code"


async def test_code_guessing_is_limited(api: TestClient, redis: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signaling.mailer")
    email = new_email()
    await register(api, email)
    assert (await api.post("/api/auth/login-code", json={"email": email})).status == 202
    code = logged_code(caplog, email)
    assert code is not None
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert (await api.post("/api/auth/verify-code", json={"email": email, "code": wrong})).status == 401
    err = await error_of(await api.post("/api/auth/verify-code", json={"email": email, "code": code}), 429)
    assert err["code"] == "too_many_attempts"
    # when the window has passed, the guessed-at code itself is dead
    for key in [k async for k in redis.scan_iter(match="rl:*")]:
        await redis.delete(key)
    err = await error_of(await api.post("/api/auth/verify-code", json={"email": email, "code": code}), 401)
    assert err["code"] == "invalid_code"


async def test_code_for_unknown_address_answers_the_same(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signaling.mailer")
    email = new_email()
    resp = await api.post("/api/auth/login-code", json={"email": email})
    assert resp.status == 202 and await resp.json() == {}
    assert logged_code(caplog, email) is None


async def test_code_requests_are_limited(api: TestClient) -> None:
    email = new_email()
    await register(api, email)
    for _ in range(5):
        assert (await api.post("/api/auth/login-code", json={"email": email})).status == 202
    err = await error_of(await api.post("/api/auth/login-code", json={"email": email}), 429)
    assert err["code"] == "too_many_attempts"


async def test_code_is_sent_by_smtp_when_configured(infra: Any, pool: asyncpg.Pool, redis: Any) -> None:
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
            received.append(envelope.content)
            return "250 OK"

    port = free_port()
    smtpd = Controller(Inbox(), hostname="127.0.0.1", port=port)
    smtpd.start()
    client = await _client(infra, pool, redis, smtp_host="127.0.0.1", smtp_port=port, smtp_from="rooms@example.com")
    try:
        email = new_email()
        await register(client, email)
        assert (await client.post("/api/auth/login-code", json={"email": email})).status == 202
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.05)
        assert received, "no e-mail arrived"
        msg = message_from_bytes(received[0])
        assert msg["To"] == email and msg["From"] == "rooms@example.com"
        body = msg.get_payload(decode=True).decode()
        code = re.search(r"\b(\d{6})\b", body)
        assert code
        resp = await client.post("/api/auth/verify-code", json={"email": email, "code": code.group(1)})
        assert resp.status == 200
    finally:
        await client.close()
        smtpd.stop()


# ---------------------------------------------------------------- account


async def test_password_change_signs_out_other_devices(api: TestClient) -> None:
    email = new_email()
    _, laptop = await register(api, email)
    phone = (await (await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})).json())["token"]
    err = await error_of(
        await api.post("/api/me/password", headers=bearer(laptop), json={"current_password": "nope nope", "new_password": "a new password"}),
        403,
    )
    assert err["code"] == "invalid_credentials"
    err = await error_of(
        await api.post("/api/me/password", headers=bearer(laptop), json={"current_password": PASSWORD, "new_password": "short"}),
        400,
    )
    assert err["field"] == "new_password"
    resp = await api.post("/api/me/password", headers=bearer(laptop), json={"current_password": PASSWORD, "new_password": "a new password"})
    assert resp.status == 204
    assert (await api.get("/api/me", headers=bearer(laptop))).status == 200
    assert (await api.get("/api/me", headers=bearer(phone))).status == 401
    assert (await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})).status == 401
    assert (await api.post("/api/auth/login", json={"email": email, "password": "a new password"})).status == 200


async def test_profile_update_sets_session_defaults(api: TestClient) -> None:
    _, token = await register(api)
    resp = await api.patch(
        "/api/me",
        headers=bearer(token),
        json={"name": "Bea", "default_listen_language": "es-MX", "default_answer_language": "de", "default_instructions": "Be brief."},
    )
    assert resp.status == 200
    user = (await resp.json())["user"]
    assert (user["name"], user["default_listen_language"], user["default_answer_language"], user["default_instructions"]) == (
        "Bea",
        "es",
        "de",
        "Be brief.",
    )
    assert (await (await api.get("/api/me", headers=bearer(token))).json())["user"]["name"] == "Bea"
    err = await error_of(await api.patch("/api/me", headers=bearer(token), json={"default_answer_language": "auto"}), 400)
    assert err["code"] == "validation_error" and err["field"] == "default_answer_language"
    err = await error_of(await api.patch("/api/me", headers=bearer(token), json={"email": "x@y.z"}), 400)
    assert err["code"] == "unknown_field" and err["field"] == "email"


async def test_client_config(api: TestClient, infra: Any, pool: asyncpg.Pool, redis: Any) -> None:
    _, token = await register(api)
    conf = await (await api.get("/api/config", headers=bearer(token))).json()
    assert conf == {
        "ai_provider": "offline",
        "translation_available": False,
        "ice_servers": [],
        "payments_configured": False,
        "links": {},  # SOURCE_URL / SUPPORT_EMAIL unset: the pages show no such links
    }
    client = await _client(infra, pool, redis, openai_api_key="sk-test", ice_servers=["stun:127.0.0.1:3478"])
    try:
        _, token2 = await register(client)
        conf = await (await client.get("/api/config", headers=bearer(token2))).json()
        assert conf["ai_provider"] == "openai" and conf["translation_available"] is True
        assert conf["ice_servers"] == ["stun:127.0.0.1:3478"]
    finally:
        await client.close()


async def test_turn_credentials_are_short_lived_and_signed(infra: Any, pool: asyncpg.Pool, redis: Any) -> None:
    """coturn's use-auth-secret scheme: the browser gets <expiry>:<user> and HMAC-SHA1 of it, never the secret."""
    import base64
    import hashlib
    import hmac
    import time

    secret = "turn-secret-for-tests"
    client = await _client(
        infra, pool, redis, ice_servers=["stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp"], turn_secret=secret
    )
    try:
        user, token = await register(client)
        conf = await (await client.get("/api/config", headers=bearer(token))).json()
        stun, turn = conf["ice_servers"]
        assert stun == "stun:127.0.0.1:3478"
        assert turn["urls"] == "turn:127.0.0.1:3478?transport=udp"
        expiry, who = turn["username"].split(":", 1)
        assert who == user["id"] and time.time() < int(expiry) <= time.time() + 6 * 3600 + 5
        expected = base64.b64encode(hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1).digest()).decode()
        assert turn["credential"] == expected and secret not in str(conf)
    finally:
        await client.close()


def _pdf_with_text(text: str) -> bytes:
    """A minimal one-page PDF whose page draws ``text`` in Helvetica."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _docx_with_text(text: str) -> bytes:
    import docx

    doc = docx.Document()
    doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("resume.txt", lambda t: t.encode()),
        ("resume.pdf", _pdf_with_text),
        ("resume.docx", _docx_with_text),
    ],
)
async def test_resume_text_extraction(api: TestClient, filename: str, make: Any) -> None:
    _, token = await register(api)
    form = aiohttp.FormData()
    form.add_field("file", make("Senior engineer at Acme, 8 years of Python"), filename=filename)
    resp = await api.post("/api/resume/extract", headers=bearer(token), data=form)
    assert resp.status == 200, await resp.text()
    assert "Senior engineer at Acme, 8 years of Python" in (await resp.json())["text"]
