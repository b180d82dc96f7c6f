"""Whatever a client sends, the answer is docs/protocol.md's error JSON with a 4xx (never a stack trace),
nothing changes, and the server goes on serving."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conftest import verified
from test_sessions import app_config

from interview_room import bus
from web.app import create_app
from web.common.context import SERVICES

MAX_BODY = 16 * 1024
PASSWORD = "correct horse battery"


@pytest_asyncio.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web")
    (root / "index.html").write_text("<!doctype html><title>Interview room</title>")
    (root / "history.html").write_text("<!doctype html><title>History</title>")
    (root / "js").mkdir()
    (root / "js" / "app.js").write_text("export const ok = true;\n")
    (root / ".env").write_text("SECRET=1")
    (root.parent / "outside.txt").write_text("outside the web root")
    (root / "linked.txt").symlink_to(root.parent / "outside.txt")
    return root


@pytest_asyncio.fixture(scope="module")
async def api(infra: Any, pool: asyncpg.Pool, site: Path) -> AsyncIterator[TestClient]:
    cfg = app_config(infra, "signaling-bad-input", max_body_bytes=MAX_BODY)
    redis = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/1")
    app = create_app(cfg, pool, redis, web_root=site)

    async def boom(_: web.Request) -> web.Response:
        raise RuntimeError("database password is hunter2")

    app.router.add_get("/api/test-boom", boom)  # a handler that fails unexpectedly
    client = TestClient(TestServer(app), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    yield client
    await client.close()
    await redis.aclose()


@pytest_asyncio.fixture(scope="module")
async def auth(api: TestClient) -> dict[str, str]:
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    resp = await api.post("/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Ann"})
    assert resp.status == 201
    body = await resp.json()
    await verified(api.server.app[SERVICES].pool, body["user"]["id"])
    return {"Authorization": f"Bearer {body['token']}"}


async def error_of(resp: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/json", text
    assert "Traceback" not in text and "<html" not in text.lower()
    err: dict[str, Any] = (await resp.json())["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"]
    return err


async def still_serving(api: TestClient, auth: dict[str, str]) -> None:
    assert (await api.get("/health")).status == 200
    assert (await api.get("/api/me", headers=auth)).status == 200


async def session_count(pool: asyncpg.Pool, auth: dict[str, str], api: TestClient) -> int:
    me = await (await api.get("/api/me", headers=auth)).json()
    return int(await pool.fetchval("SELECT count(*) FROM sessions WHERE user_id = $1", uuid.UUID(me["user"]["id"])))


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"title": "x",}', b"[1, 2]", b'"just a string"', b"\xff\xfe{}", b'{"title": NaN}'],
)
async def test_malformed_json(api: TestClient, auth: dict[str, str], pool: asyncpg.Pool, raw: bytes) -> None:
    before = await session_count(pool, auth, api)
    resp = await api.post("/api/sessions", data=raw, headers={**auth, "Content-Type": "application/json"})
    err = await error_of(resp, 400)
    assert err["code"] == "invalid_json"
    assert await session_count(pool, auth, api) == before
    await still_serving(api, auth)


async def test_oversize_body(api: TestClient, auth: dict[str, str], pool: asyncpg.Pool) -> None:
    before = await session_count(pool, auth, api)
    big = {"title": "x", "resume_text": "a" * (MAX_BODY + 10)}
    err = await error_of(await api.post("/api/sessions", json=big, headers=auth), 413)
    assert err["code"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"title": "'
        for _ in range(8):
            yield b"b" * 4096
        yield b'"}'

    err = await error_of(await api.post("/api/sessions", data=chunks(), headers={**auth, "Content-Type": "application/json"}), 413)
    assert err["code"] == "body_too_large"
    err = await error_of(await api.post("/api/auth/login", json={"email": "a@b.cd", "password": "p" * MAX_BODY}), 413)
    assert err["code"] == "body_too_large"
    assert await session_count(pool, auth, api) == before
    await still_serving(api, auth)


async def test_unknown_fields_are_named(api: TestClient, auth: dict[str, str]) -> None:
    err = await error_of(await api.post("/api/sessions", json={"title": "x", "titel": "typo"}, headers=auth), 400)
    assert err["code"] == "unknown_field" and err["field"] == "titel" and "titel" in err["message"]
    err = await error_of(await api.post("/api/auth/login", json={"email": "a@b.cd", "password": "x", "remember": True}), 400)
    assert err["code"] == "unknown_field" and err["field"] == "remember"
    await still_serving(api, auth)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 123}, "title"),
        ({"title": None}, "title"),
        ({"mode": ["assistant"]}, "mode"),
        ({"listen_language": "english please"}, "listen_language"),
        ({"answer_language": "auto"}, "answer_language"),
        ({"listen_language": "xx-nonsense"}, "listen_language"),  # no such language: Whisper would fail on it
        ({"answer_language": "qq"}, "answer_language"),
        ({"hints": {"a": 1}}, "hints"),
        ({"hangover": "forever"}, "hangover"),
        ({"title": "t" * 201}, "title"),
        ({"mode": "mock", "mock": "hard"}, "mock"),
        ({"mode": "mock", "mock": {"focus_areas": "caching"}}, "mock.focus_areas"),
        ({"mode": "mock", "mock": {"duration_minutes": True}}, "mock.duration_minutes"),
    ],
)
async def test_wrong_types_name_the_field(api: TestClient, auth: dict[str, str], body: dict[str, Any], field: str) -> None:
    err = await error_of(await api.post("/api/sessions", json=body, headers=auth), 400)
    assert err["code"] == "validation_error" and err["field"] == field and field in err["message"]


async def test_regional_language_tags_are_stored_as_their_language(api: TestClient, auth: dict[str, str]) -> None:
    r = await api.post("/api/sessions", json={"title": "t", "listen_language": "en-US", "answer_language": "pt_BR"}, headers=auth)
    assert r.status == 201, await r.text()
    s = await r.json()
    assert (s["listen_language"], s["answer_language"]) == ("en", "pt")


async def test_wrong_types_in_auth_and_query(api: TestClient, auth: dict[str, str]) -> None:
    err = await error_of(await api.post("/api/auth/login", json={"email": 5, "password": "x"}), 400)
    assert (err["code"], err["field"]) == ("validation_error", "email")
    err = await error_of(await api.post("/api/auth/verify-code", json={"email": "a@b.cd", "code": 123456}), 400)
    assert (err["code"], err["field"]) == ("validation_error", "code")
    for query, field in (("limit=abc", "limit"), ("limit=0", "limit"), ("limit=1000", "limit"), ("before=%%%", "before"), ("before=bm9wZQ", "before")):
        err = await error_of(await api.get(f"/api/sessions?{query}", headers=auth), 400)
        assert (err["code"], err["field"]) == ("validation_error", field)
    await still_serving(api, auth)


@pytest.mark.parametrize("sid", [str(uuid.uuid4()), "not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "%20"])
async def test_unknown_or_malformed_session_id(api: TestClient, auth: dict[str, str], sid: str) -> None:
    for method, suffix in (
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/offer"),
        ("POST", "/end"),
        ("GET", "/recording"),
        ("GET", "/captions.vtt"),
    ):
        kw: dict[str, Any] = {"json": {"sdp": "v=0\r\n", "type": "offer"}} if suffix == "/offer" else {}
        err = await error_of(await api.request(method, f"/api/sessions/{sid}{suffix}", headers=auth, **kw), 404)
        assert err["code"] == "not_found"
    await still_serving(api, auth)


async def test_unknown_routes_and_methods(api: TestClient, auth: dict[str, str]) -> None:
    err = await error_of(await api.get("/api/no-such-thing", headers=auth), 404)
    assert err["code"] == "not_found"
    err = await error_of(await api.put("/api/sessions", headers=auth, json={}), 405)
    assert err["code"] == "method_not_allowed"
    err = await error_of(await api.post("/api/me", headers=auth, json={}), 405)
    assert err["code"] == "method_not_allowed"
    err = await error_of(await api.get("/no-such-page.html"), 404)
    assert err["code"] == "not_found"
    await still_serving(api, auth)


async def test_unexpected_failure_is_a_500_without_details(
    api: TestClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="signaling.http")
    resp = await api.get("/api/test-boom", headers=auth)
    err = await error_of(resp, 500)
    assert err["code"] == "internal_error"
    assert "hunter2" not in await resp.text()
    assert "hunter2" in caplog.text and "Traceback" in caplog.text  # the log keeps the traceback
    await still_serving(api, auth)


async def test_resume_upload_errors(api: TestClient, auth: dict[str, str]) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"\x00\x01\x02binary", filename="photo.png")
    err = await error_of(await api.post("/api/resume/extract", headers=auth, data=form), 400)
    assert err["code"] == "unsupported_file_type"
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 this is not really a pdf", filename="cv.pdf")
    err = await error_of(await api.post("/api/resume/extract", headers=auth, data=form), 400)
    assert err["code"] == "unreadable_file"
    form = aiohttp.FormData()
    form.add_field("file", b"x" * (MAX_BODY + 1), filename="cv.txt")
    err = await error_of(await api.post("/api/resume/extract", headers=auth, data=form), 413)
    assert err["code"] == "body_too_large"
    err = await error_of(await api.post("/api/resume/extract", headers=auth, json={"text": "x"}), 400)
    assert err["field"] == "file"
    form = aiohttp.FormData()
    form.add_field("resume", b"text", filename="cv.txt")
    err = await error_of(await api.post("/api/resume/extract", headers=auth, data=form), 400)
    assert (err["code"], err["field"]) == ("unknown_field", "resume")
    await still_serving(api, auth)


async def test_static_files_stay_inside_the_web_root(api: TestClient, site: Path) -> None:
    resp = await api.get("/")
    assert resp.status == 200 and "Interview room" in await resp.text()
    resp = await api.get("/history")
    assert resp.status == 200 and "History" in await resp.text()
    resp = await api.get("/js/app.js")
    assert resp.status == 200 and "javascript" in resp.content_type
    for path in ("/.env", "/js/", "/js", "/%2e%2e/outside.txt", "/..%2foutside.txt", "/js/..%2f..%2foutside.txt", "/linked.txt", "/api"):
        resp = await api.get(path)
        assert resp.status in (401, 404), path
        text = await resp.text()
        assert "SECRET" not in text and "outside the web root" not in text, path
    resp = await api.get("/docs/internals.md")
    assert resp.status == 200 and "Internals" in await resp.text()
