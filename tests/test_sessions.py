"""Sessions and history: create, list (keyset pages), detail with what the workers wrote, end,
recording with Range, WebVTT, delete, and one user never reaching another's session."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from conftest import verified

from interview_room import bus, registry
from interview_room.bus import events_stream
from interview_room.config import Config
from interview_room.embedded import free_port
from interview_room.messages import Caption
from interview_room.store import captions as captions_store
from interview_room.store import credits, media
from web.app import create_app
from web.common.context import SERVICES

PASSWORD = "correct horse battery"
OFFER_SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def app_config(infra: Any, name: str, **kw: Any) -> Config:
    """The in-process signaling app's settings on the tests' PostgreSQL and Redis: no OpenAI, Stripe or SMTP."""
    return Config(
        data_dir=infra.data_dir / name,
        database_url=infra.database_url,
        redis_url=infra.redis_url,
        secret_key="test-secret-key",
        openai_api_key="",
        stripe_api_key="",
        smtp_host="",
        **kw,
    )


@pytest_asyncio.fixture(scope="module")
async def cfg(infra: Any) -> Config:
    return app_config(infra, "signaling-sessions")


@pytest_asyncio.fixture(scope="module")
async def redis(infra: Any) -> AsyncIterator[Any]:
    # database 1: media node entries written here stay apart from a running stack's nodes
    r = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/1")
    yield r
    await r.aclose()


@pytest_asyncio.fixture(scope="module")
async def api(cfg: Config, pool: asyncpg.Pool, redis: Any) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_app(cfg, pool, redis)), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    yield client
    await client.close()


@pytest_asyncio.fixture(autouse=True)
async def no_media_nodes(redis: Any) -> AsyncIterator[None]:
    async def clear() -> None:
        keys = [k async for k in redis.scan_iter(match="media:node:*")]
        if keys:
            await redis.delete(*keys)
        await redis.delete(registry.NODES)

    await clear()
    yield
    await clear()


class User:
    def __init__(self, api: TestClient, user: dict[str, Any], token: str) -> None:
        self.api = api
        self.id = uuid.UUID(user["id"])
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, status: int, **kw: Any) -> Any:
        resp = await self.api.request(method, path, headers=self.headers, **kw)
        assert resp.status == status, f"{method} {path}: {resp.status} {await resp.text()}"
        if resp.content_type == "application/json":
            return await resp.json()
        return await resp.read()

    async def new_session(self, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("POST", "/api/sessions", 201, json=body)
        return result


async def new_user(api: TestClient) -> User:
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    resp = await api.post("/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Ann"})
    assert resp.status == 201
    body = await resp.json()
    await verified(api.server.app[SERVICES].pool, body["user"]["id"])
    return User(api, body["user"], body["token"])


def write_webm(path: Path, video: bool) -> None:
    """A real WebM as the recorder writes it: Opus audio, VP8 video when the client sent some."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="webm") as c:
        a = c.add_stream("libopus", rate=48000)
        a.layout = "mono"
        v = c.add_stream("libvpx", rate=10) if video else None
        if v is not None:
            v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        for i in range(50):
            f = av.AudioFrame.from_ndarray(
                (np.sin(np.arange(960) / 10) * 8000).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
            )
            f.sample_rate, f.pts, f.time_base = 48000, i * 960, Fraction(1, 48000)
            for p in a.encode(f):
                c.mux(p)
        if v is not None:
            for i in range(10):
                vf = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 20, np.uint8), format="rgb24").reformat(
                    format="yuv420p"
                )
                vf.pts, vf.time_base = i, Fraction(1, 10)
                for p in v.encode(vf):
                    c.mux(p)
            for p in v.encode():
                c.mux(p)
        for p in a.encode():
            c.mux(p)


async def add_caption(pool: asyncpg.Pool, sid: str, role: str, seq: int, t0: float, t1: float, text: str) -> str:
    cap = Caption(id=f"{sid}:{role}:{seq}", role=role, t0=t0, t1=t1, text=text, lang="en")
    assert await captions_store.insert_caption(pool, cap, sid, seq)
    return cap.id


async def add_question(pool: asyncpg.Pool, sid: str, qid: str, caption_ids: list[str], text: str, t0: float) -> None:
    # TODO(lead): write through interview_room/store/insights.py once it exists (the llm worker's functions)
    await pool.execute(
        "INSERT INTO questions (id, session_id, caption_ids, text, lang, source, t0) VALUES ($1, $2, $3, $4, 'en', 'detected', $5)",
        qid,
        uuid.UUID(sid),
        caption_ids,
        text,
        t0,
    )


async def add_answer_and_score(pool: asyncpg.Pool, sid: str, qid: str, answer: str, score: int | None) -> None:
    # TODO(lead): store/insights.py
    await pool.execute(
        "INSERT INTO answers (question_id, session_id, text, lang, provider) VALUES ($1, $2, $3, 'en', 'offline')",
        qid,
        uuid.UUID(sid),
        answer,
    )
    if score is not None:
        await pool.execute(
            "INSERT INTO scores (question_id, session_id, score, rubric, feedback, delivery, candidate_text) "
            "VALUES ($1, $2, $3, $4, 'Clear and structured', $5, 'I would use a hash map')",
            qid,
            uuid.UUID(sid),
            score,
            {"clarity": score, "depth": score - 10},
            {"words_per_minute": 140},
        )


async def add_translation(pool: asyncpg.Pool, sid: str, ref: str, lang: str, text: str) -> None:
    # TODO(lead): store/insights.py
    await pool.execute(
        "INSERT INTO translations (session_id, ref, lang, text) VALUES ($1, $2, $3, $4)", uuid.UUID(sid), ref, lang, text
    )


async def debit(pool: asyncpg.Pool, user_id: uuid.UUID, session_id: uuid.UUID, seconds: float) -> None:
    """As the media node meters media time."""
    async with pool.acquire() as conn:
        await credits.debit(conn, user_id, session_id, seconds)


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """(start, end, payload) of each cue; fails on anything that is not WebVTT."""

    def seconds(ts: str) -> float:
        h, m, s = ts.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    blocks = text.replace("\r\n", "\n").split("\n\n")
    assert blocks[0].startswith("WEBVTT"), "missing WEBVTT header"
    cues = []
    for block in blocks[1:]:
        lines = [ln for ln in block.split("\n") if ln]
        if not lines:
            continue
        timing = next(i for i, ln in enumerate(lines) if "-->" in ln)
        m = re.fullmatch(r"(\d{2,}:\d{2}:\d{2}\.\d{3}) --> (\d{2,}:\d{2}:\d{2}\.\d{3})", lines[timing])
        assert m, f"bad cue timing {lines[timing]!r}"
        cues.append((seconds(m.group(1)), seconds(m.group(2)), "\n".join(lines[timing + 1 :])))
    return cues


# ---------------------------------------------------------------- create / list


async def test_create_takes_defaults_from_the_profile(api: TestClient) -> None:
    u = await new_user(api)
    await u.call(
        "PATCH",
        "/api/me",
        200,
        json={"default_listen_language": "es", "default_answer_language": "de", "default_instructions": "Short answers"},
    )
    s = await u.new_session()
    assert s["mode"] == "assistant" and s["status"] == "created" and s["title"]
    assert (s["listen_language"], s["answer_language"], s["instructions"]) == ("es", "de", "Short answers")
    assert s["hangover"] == "balanced" and s["mock"] is None
    assert s["transcript"] == [] and s["questions"] == [] and s["recording_url"] is None and s["has_video"] is False
    assert s["captions_url"] == f"/api/sessions/{s['id']}/captions.vtt"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s["created_at"])
    assert s["started_at"] is None and s["ended_at"] is None
    assert (s["duration_seconds"], s["credits_seconds"], s["average_score"]) == (0, 0, None)

    s2 = await u.new_session(
        title="Acme backend",
        listen_language="auto",
        answer_language="fr",
        hints="Kafka, Go",
        instructions="",
        resume_text="8 years Python",
        hangover="long",
    )
    assert (s2["title"], s2["listen_language"], s2["answer_language"], s2["hints"], s2["resume_text"], s2["hangover"]) == (
        "Acme backend",
        "auto",
        "fr",
        "Kafka, Go",
        "8 years Python",
        "long",
    )
    got = await u.call("GET", f"/api/sessions/{s2['id']}", 200)
    assert got["title"] == "Acme backend" and got["instructions"] == ""


async def test_mock_session_settings(api: TestClient) -> None:
    u = await new_user(api)
    s = await u.new_session(mode="mock", mock={"type": "system_design", "focus_areas": ["caching"], "duration_minutes": 45})
    assert s["mode"] == "mock"
    assert s["mock"] == {
        "type": "system_design",
        "difficulty": "medium",
        "focus_areas": ["caching"],
        "requirements": "",
        "duration_minutes": 45,
    }
    plain = await u.new_session(mode="mock")
    assert plain["mock"]["duration_minutes"] == 30
    err = (await u.call("POST", "/api/sessions", 400, json={"mode": "assistant", "mock": {"type": "x"}}))["error"]
    assert err["field"] == "mock"
    err = (await u.call("POST", "/api/sessions", 400, json={"mode": "mock", "mock": {"duration_minutes": "long"}}))["error"]
    assert (err["code"], err["field"]) == ("validation_error", "mock.duration_minutes")
    err = (await u.call("POST", "/api/sessions", 400, json={"mode": "mock", "mock": {"colour": "red"}}))["error"]
    assert (err["code"], err["field"]) == ("unknown_field", "mock.colour")
    err = (await u.call("POST", "/api/sessions", 400, json={"mode": "interrogation"}))["error"]
    assert err["field"] == "mode"


async def test_history_is_newest_first_in_keyset_pages(api: TestClient) -> None:
    u = await new_user(api)
    made = [(await u.new_session(title=f"Interview {i}"))["id"] for i in range(5)]
    other = await new_user(api)
    await other.new_session(title="not mine")

    seen: list[dict[str, Any]] = []
    page = await u.call("GET", "/api/sessions?limit=2", 200)
    pages = 1
    seen += page["sessions"]
    while page["next"]:
        assert len(page["sessions"]) == 2
        page = await u.call("GET", "/api/sessions", 200, params={"limit": "2", "before": page["next"]})
        seen += page["sessions"]
        pages += 1
    assert pages == 3 and page["next"] is None
    assert [s["id"] for s in seen] == list(reversed(made))
    assert set(seen[0]) >= {
        "id", "title", "mode", "listen_language", "answer_language", "status", "created_at",
        "started_at", "ended_at", "duration_seconds", "credits_seconds", "average_score",
    }  # fmt: skip
    everything = await u.call("GET", "/api/sessions", 200)
    assert [s["id"] for s in everything["sessions"]] == list(reversed(made)) and everything["next"] is None


# ---------------------------------------------------------------- detail


async def test_detail_shows_what_the_workers_wrote(api: TestClient, pool: asyncpg.Pool) -> None:
    u = await new_user(api)
    s = await u.new_session(title="Platform team")
    sid = s["id"]
    c1 = await add_caption(pool, sid, "interviewer", 0, 1.0, 3.5, "How would you design a URL shortener?")
    c2 = await add_caption(pool, sid, "candidate", 0, 4.0, 9.25, "I would start with a hash of the URL.")
    c0 = await add_caption(pool, sid, "interviewer", 1, 0.2, 0.9, "Hello!")
    await add_question(pool, sid, f"{sid}:q1", [c1], "How would you design a URL shortener?", 1.0)
    await add_answer_and_score(pool, sid, f"{sid}:q1", "Use a base62 id over a counter.", 80)
    await add_question(pool, sid, f"{sid}:q2", [], "Tell me about yourself", 10.0)
    await add_answer_and_score(pool, sid, f"{sid}:q2", "I build backends.", 60)
    await add_question(pool, sid, f"{sid}:q3", [], "Any questions?", 12.0)
    await add_translation(pool, sid, c1, "es", "¿Cómo diseñarías un acortador de URL?")
    await add_translation(pool, sid, f"{sid}:q1", "es", "¿Cómo diseñarías un acortador de URL?")
    await debit(pool, u.id, uuid.UUID(sid), 42.5)

    d = await u.call("GET", f"/api/sessions/{sid}", 200)
    assert [c["id"] for c in d["transcript"]] == [c0, c1, c2]
    assert d["transcript"][1] == {
        "id": c1,
        "role": "interviewer",
        "t0": 1.0,
        "t1": 3.5,
        "text": "How would you design a URL shortener?",
        "lang": "en",
        "translations": [{"lang": "es", "text": "¿Cómo diseñarías un acortador de URL?"}],
    }
    q1, q2, q3 = d["questions"]
    assert (q1["id"], q1["caption_ids"], q1["t0"], q1["source"]) == (f"{sid}:q1", [c1], 1.0, "detected")
    assert q1["answer"] == {"text": "Use a base62 id over a counter.", "lang": "en"}
    assert q1["translations"] == [{"lang": "es", "text": "¿Cómo diseñarías un acortador de URL?"}]
    assert q1["score"] == {
        "score": 80,
        "rubric": {"clarity": 80, "depth": 70},
        "feedback": "Clear and structured",
        "delivery": {"words_per_minute": 140},
        "candidate_text": "I would use a hash map",
    }
    assert q2["score"]["score"] == 60 and q3["answer"] is None and q3["score"] is None
    assert {"ref": c1, "lang": "es", "text": "¿Cómo diseñarías un acortador de URL?"} in d["translations"]
    assert d["average_score"] == 70.0 and d["credits_seconds"] == 42.5

    listed = (await u.call("GET", "/api/sessions", 200))["sessions"][0]
    assert (listed["id"], listed["average_score"], listed["credits_seconds"]) == (sid, 70.0, 42.5)


async def test_captions_vtt_lines_up_with_the_recording_clock(api: TestClient, pool: asyncpg.Pool) -> None:
    u = await new_user(api)
    sid = (await u.new_session())["id"]
    await add_caption(pool, sid, "candidate", 0, 65.25, 3671.5, "Use <b>tags</b> & more")
    await add_caption(pool, sid, "interviewer", 0, 1.0, 3.5, "Why this company?")
    vtt_resp = await u.api.get(f"/api/sessions/{sid}/captions.vtt", headers=u.headers)
    assert vtt_resp.status == 200 and vtt_resp.content_type == "text/vtt"
    cues = parse_vtt(await vtt_resp.text())
    assert cues == [
        (1.0, 3.5, "<v Interviewer>Why this company?"),
        (65.25, 3671.5, "<v Candidate>Use &lt;b&gt;tags&lt;/b&gt; &amp; more"),
    ]
    await add_translation(pool, sid, f"{sid}:interviewer:0", "es", "¿Por qué esta empresa?")
    es = parse_vtt((await u.call("GET", f"/api/sessions/{sid}/captions.vtt?lang=es", 200)).decode())
    assert es[0][2] == "<v Interviewer>¿Por qué esta empresa?"
    empty = await u.call("GET", f"/api/sessions/{(await u.new_session())['id']}/captions.vtt", 200)
    assert parse_vtt(empty.decode()) == []


# ---------------------------------------------------------------- recording, end, delete


async def test_recording_supports_range_requests(api: TestClient, pool: asyncpg.Pool, cfg: Config) -> None:
    u = await new_user(api)
    sid = (await u.new_session())["id"]
    err = (await u.call("GET", f"/api/sessions/{sid}/recording", 404))["error"]
    assert err["code"] == "no_recording"

    path = cfg.recordings_dir / f"{sid}.webm"
    write_webm(path, video=True)
    await media.mark_live(pool, uuid.UUID(sid), recording_path=str(path), media_node="http://127.0.0.1:1")
    data = path.read_bytes()

    d = await u.call("GET", f"/api/sessions/{sid}", 200)
    assert d["status"] == "live" and d["recording_url"] == f"/api/sessions/{sid}/recording" and d["has_video"] is True
    full = await u.api.get(d["recording_url"], headers=u.headers)
    assert full.status == 200 and full.content_type == "video/webm" and await full.read() == data
    part = await u.api.get(d["recording_url"], headers={**u.headers, "Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert await part.read() == data[100:200]
    tail = await u.api.get(d["recording_url"], headers={**u.headers, "Range": "bytes=-50"})
    assert tail.status == 206 and await tail.read() == data[-50:]

    audio_sid = (await u.new_session())["id"]
    audio_path = cfg.recordings_dir / f"{audio_sid}.webm"
    write_webm(audio_path, video=False)
    await media.mark_live(pool, uuid.UUID(audio_sid), recording_path=str(audio_path), media_node="http://127.0.0.1:1")
    resp = await u.api.get(f"/api/sessions/{audio_sid}/recording", headers=u.headers)
    assert resp.status == 200 and resp.content_type == "audio/webm"
    assert (await u.call("GET", f"/api/sessions/{audio_sid}", 200))["has_video"] is False


async def test_end_is_final_and_idempotent(api: TestClient, pool: asyncpg.Pool) -> None:
    u = await new_user(api)
    sid = (await u.new_session())["id"]
    # the media node that held it is gone: ending still works
    await media.mark_live(pool, uuid.UUID(sid), recording_path="/nonexistent.webm", media_node=f"http://127.0.0.1:{free_port()}")
    first = await u.call("POST", f"/api/sessions/{sid}/end", 200)
    assert first["status"] == "ended" and first["ended_at"] and first["started_at"]
    assert "transcript" in first and "questions" in first
    again = await u.call("POST", f"/api/sessions/{sid}/end", 200)
    assert again["ended_at"] == first["ended_at"]
    err = (await u.call("POST", f"/api/sessions/{sid}/offer", 409, json={"sdp": OFFER_SDP, "type": "offer"}))["error"]
    assert err["code"] == "session_ended"
    never_started = (await u.new_session())["id"]
    assert (await u.call("POST", f"/api/sessions/{never_started}/end", 200))["status"] == "ended"


async def test_delete_removes_recording_and_transcript_but_keeps_billing(
    api: TestClient, pool: asyncpg.Pool, redis: Any, cfg: Config
) -> None:
    u = await new_user(api)
    sid = (await u.new_session())["id"]
    keep = (await u.new_session())["id"]
    path = cfg.recordings_dir / f"{sid}.webm"
    write_webm(path, video=False)
    await media.mark_live(pool, uuid.UUID(sid), recording_path=str(path), media_node=f"http://127.0.0.1:{free_port()}")
    cap = await add_caption(pool, sid, "interviewer", 0, 0.5, 2.0, "Tell me about a conflict")
    await add_question(pool, sid, f"{sid}:q1", [cap], "Tell me about a conflict", 0.5)
    await add_answer_and_score(pool, sid, f"{sid}:q1", "Use STAR.", 75)
    await debit(pool, u.id, uuid.UUID(sid), 30)
    await redis.xadd(events_stream(sid), {"data": '{"type":"caption"}'})

    assert (await u.api.delete(f"/api/sessions/{sid}", headers=u.headers)).status == 204
    assert not path.exists()
    await u.call("GET", f"/api/sessions/{sid}", 404)
    await u.call("GET", f"/api/sessions/{sid}/recording", 404)
    for table in ("captions", "questions", "answers", "scores"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE session_id = $1", uuid.UUID(sid)) == 0
    assert await redis.exists(events_stream(sid)) == 0
    debits = await pool.fetch("SELECT seconds FROM credit_ledger WHERE session_id = $1 AND kind = 'debit'", uuid.UUID(sid))
    assert [r["seconds"] for r in debits] == [-30.0]
    assert (await u.call("GET", "/api/me", 200))["credits_seconds"] == 7170
    assert [s["id"] for s in (await u.call("GET", "/api/sessions", 200))["sessions"]] == [keep]
    await u.call("DELETE", f"/api/sessions/{sid}", 404)


# ---------------------------------------------------------------- isolation


async def test_another_users_session_is_not_found_everywhere(api: TestClient, pool: asyncpg.Pool, cfg: Config) -> None:
    a, b = await new_user(api), await new_user(api)
    sid = (await a.new_session(title="A's interview"))["id"]
    path = cfg.recordings_dir / f"{sid}.webm"
    write_webm(path, video=False)
    await media.mark_live(pool, uuid.UUID(sid), recording_path=str(path), media_node=f"http://127.0.0.1:{free_port()}")
    await add_caption(pool, sid, "interviewer", 0, 0.5, 2.0, "secret question")

    offer = {"sdp": OFFER_SDP, "type": "offer"}
    for method, suffix, kw in (
        ("GET", "", {}),
        ("POST", "/offer", {"json": offer}),
        ("POST", "/offer", {"json": {"sdp": 1}}),  # even a bad body: 404 comes first
        ("POST", "/end", {}),
        ("GET", "/recording", {}),
        ("GET", "/recording", {"headers": {**b.headers, "Range": "bytes=0-10"}}),
        ("GET", "/captions.vtt", {}),
        ("DELETE", "", {}),
    ):
        kw = {"headers": b.headers, **kw}
        resp = await api.request(method, f"/api/sessions/{sid}{suffix}", **kw)
        assert resp.status == 404, f"{method} {suffix}: {resp.status}"
        body = await resp.json()
        assert body["error"]["code"] == "not_found" and "secret" not in await resp.text()
    assert all(s["id"] != sid for s in (await b.call("GET", "/api/sessions", 200))["sessions"])
    d = await a.call("GET", f"/api/sessions/{sid}", 200)
    assert d["status"] == "live" and d["transcript"][0]["text"] == "secret question" and path.exists()


# ---------------------------------------------------------------- offers and placement


async def test_offer_body_is_validated(api: TestClient) -> None:
    u = await new_user(api)
    sid = (await u.new_session())["id"]
    url = f"/api/sessions/{sid}/offer"
    err = (await u.call("POST", url, 400, json={"sdp": "hello", "type": "offer"}))["error"]
    assert err["code"] == "invalid_sdp"
    err = (await u.call("POST", url, 400, json={"sdp": OFFER_SDP, "type": "answer"}))["error"]
    assert (err["code"], err["field"]) == ("validation_error", "type")
    err = (await u.call("POST", url, 400, json={"sdp": OFFER_SDP, "type": "offer", "roles": {"0": "boss"}}))["error"]
    assert (err["code"], err["field"]) == ("validation_error", "roles")
    err = (await u.call("POST", url, 400, json={"type": "offer"}))["error"]
    assert (err["code"], err["field"]) == ("validation_error", "sdp")


async def test_offer_without_a_usable_media_node_is_503(api: TestClient, redis: Any) -> None:
    u = await new_user(api)
    sid = (await u.new_session())["id"]
    body = {"sdp": OFFER_SDP, "type": "offer", "roles": {"0": "interviewer", "1": "candidate"}}
    err = (await u.call("POST", f"/api/sessions/{sid}/offer", 503, json=body))["error"]
    assert err["code"] == "no_media_node"
    # a draining node takes no new sessions; a registered node that refuses connections is skipped
    await registry.register(redis, "draining", '{"url": "http://127.0.0.1:1", "sessions": 0, "cpu": 0, "draining": true}', 5)
    dead = f"http://127.0.0.1:{free_port()}"
    await registry.register(redis, "dead", f'{{"url": "{dead}", "sessions": 3, "cpu": 0.1, "draining": false}}', 5)
    err = (await u.call("POST", f"/api/sessions/{sid}/offer", 503, json=body))["error"]
    assert err["code"] == "no_media_node"
    d = await u.call("GET", f"/api/sessions/{sid}", 200)
    assert d["status"] == "created"
    err = (await u.call("POST", "/api/troubleshoot/offer", 503, json={"sdp": OFFER_SDP, "type": "offer"}))["error"]
    assert err["code"] == "no_media_node"


async def test_offer_without_credits_is_402(api: TestClient, pool: asyncpg.Pool) -> None:
    u = await new_user(api)
    sid = (await u.new_session())["id"]
    await debit(pool, u.id, uuid.UUID(sid), 7200)
    err = (await u.call("POST", f"/api/sessions/{sid}/offer", 402, json={"sdp": OFFER_SDP, "type": "offer"}))["error"]
    assert err["code"] == "no_credits"


# ---------------------------------------------------------------- with a real media node


@pytest_asyncio.fixture(scope="module")
async def media_node(infra: Any, cfg: Config) -> AsyncIterator[str]:
    """``interview-room media`` as its own process, registered in the same Redis as this signaling app.

    The tests that use it come last in this file: while it runs, offers have a node to go to.
    """
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(cfg.data_dir),
        "DATABASE_URL": infra.database_url,
        "REDIS_URL": infra.redis_url.rsplit("/", 1)[0] + "/1",
        "MEDIA_HOST": "127.0.0.1",
        "MEDIA_PORT": str(port),
        "MEDIA_URL": "",
        "ICE_HOSTS": "127.0.0.1",
        "ICE_SERVERS": "",
        "SECRET_KEY": "test-secret-key",
    }
    log = open(infra.data_dir / "signaling-test-media.log", "ab")  # noqa: SIM115 - kept for the process' life
    proc = subprocess.Popen([sys.executable, "-m", "interview_room.cli", "media"], env=env, stdout=log, stderr=log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def wait_registered(redis: Any, url: str, timeout: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for key in [k async for k in redis.scan_iter(match="media:node:*")]:
            raw = await redis.get(key)
            if raw and json.loads(raw).get("url") == url:
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"media node {url} did not register")


async def test_offer_goes_to_a_live_media_node_and_end_collects_the_recording(
    api: TestClient, pool: asyncpg.Pool, redis: Any, media_node: str
) -> None:
    from loadtests.client import FIXTURES, RoomClient

    await wait_registered(redis, media_node)
    # a draining node with fewer sessions must not be chosen
    await registry.register(redis, "old", '{"url": "http://127.0.0.1:1", "sessions": 0, "cpu": 0, "draining": true}', 30)
    room = RoomClient(str(api.make_url("")).rstrip("/"))
    try:
        await room.register(f"user-{uuid.uuid4().hex[:12]}@example.com", PASSWORD, "Ann")
        await verified(pool, room.user["id"])
        s = await room.create_session(title="Live one")
        await room.connect(s["id"], [("interviewer", FIXTURES / "q_weakness.wav")])
        assert room.answer_sdp and room.answer_sdp.startswith("v=0")
        assert await pool.fetchval("SELECT media_node FROM sessions WHERE id = $1", uuid.UUID(s["id"])) == media_node
        live = await room.get_session()
        assert live["status"] == "live" and live["started_at"]
        await asyncio.sleep(3)  # some audio reaches the node
        final = await room.end()
    finally:
        await room.close()
    assert final["status"] == "ended" and final["ended_at"]
    assert final["duration_seconds"] > 1
    assert final["recording_url"] == f"/api/sessions/{s['id']}/recording"
    headers = {"Authorization": f"Bearer {room.token}"}
    rec = await api.get(final["recording_url"], headers=headers)
    assert rec.status == 200 and rec.content_type == "audio/webm" and len(await rec.read()) > 1000
    again = await api.post(f"/api/sessions/{s['id']}/end", headers=headers)
    assert again.status == 200 and (await again.json())["ended_at"] == final["ended_at"]


async def test_troubleshoot_offer_reaches_a_media_node(api: TestClient, redis: Any, media_node: str) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from interview_room.loopback_ice import filter_sdp_candidates, restrict_ice_hosts

    await wait_registered(redis, media_node)
    u = await new_user(api)
    # the node's own verdict on an offer comes back as is
    err = (await u.call("POST", "/api/troubleshoot/offer", 400, json={"sdp": "v=0\r\ns=-\r\n", "type": "offer"}))["error"]
    assert err["code"] == "invalid_sdp"

    restrict_ice_hosts(["127.0.0.1"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        channel = pc.createDataChannel("events")
        opened = asyncio.Event()
        pong: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        channel.on("open", opened.set)
        channel.on("message", lambda m: pong.done() or pong.set_result(json.loads(m)))
        await pc.setLocalDescription(await pc.createOffer())
        answer = await u.call("POST", "/api/troubleshoot/offer", 200, json={"sdp": pc.localDescription.sdp, "type": "offer"})
        assert answer["type"] == "answer"
        await pc.setRemoteDescription(RTCSessionDescription(filter_sdp_candidates(answer["sdp"], ["127.0.0.1"]), "answer"))
        await asyncio.wait_for(opened.wait(), 30)
        channel.send(json.dumps({"type": "ping", "id": "p1"}))
        reply = await asyncio.wait_for(pong, 10)
        assert reply["type"] == "pong" and reply["id"] == "p1"
    finally:
        await pc.close()
