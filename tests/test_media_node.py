"""The media node in-process with real Redis + Postgres, driven by a real aiortc client peer on loopback.

What a user cares about: their speech becomes segments with the right role and times, events
reach their data channel, their requests reach the LLM queue, bad offers get clear errors, and
the recording lasts as long as what they sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import av
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from interview_room import bus
from interview_room.config import Config
from interview_room.embedded import free_port
from interview_room.internal_api import auth_headers
from interview_room.loopback_ice import filter_sdp_candidates, restrict_ice_hosts, sdp_candidate_addresses
from interview_room.messages import Caption, LlmJob, Notice, Segment, VoiceActivity
from loadtests.client import FIXTURES, WavTrack, load_references
from media_server.node import MediaNode
from media_server.peer import server_ice_urls

LOOPBACK = ["127.0.0.1"]
INTERNAL_TOKEN = "media-node-test-internal-token"
REFS = load_references()


@dataclass
class NodeUnderTest:
    node: MediaNode
    url: str
    redis: aioredis.Redis
    cfg: Config


@pytest_asyncio.fixture(scope="module")
async def media(
    infra: Any, pool: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[NodeUnderTest]:
    port = free_port()
    cfg = Config(
        data_dir=tmp_path_factory.mktemp("media-node"),
        database_url=infra.database_url,
        redis_url=infra.redis_url.rsplit("/", 1)[0] + "/3",
        media_host="127.0.0.1",
        media_port=port,
        media_url="",
        ice_servers=[],
        ice_hosts=LOOPBACK,
        internal_token=INTERNAL_TOKEN,
    )
    redis = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/3")
    node = MediaNode(cfg, redis, pool, node_id=f"test-{port}", end_grace=1.0)
    await node.start()
    from interview_room.service import start_site

    runner = await start_site(node.make_app(), cfg.media_host, port)
    try:
        yield NodeUnderTest(node, f"http://127.0.0.1:{port}", redis, cfg)
    finally:
        await node.shutdown()
        await runner.cleanup()
        await redis.aclose()
        restrict_ice_hosts([])


async def new_session(pool: asyncpg.Pool, mode: str = "assistant", credits: float = 3600.0) -> tuple[str, str]:
    uid, sid = uuid.uuid4(), uuid.uuid4()
    await pool.execute("INSERT INTO users (id, email, name) VALUES ($1, $2, 'Test')", uid, f"{uid}@example.com")
    await pool.execute(
        "INSERT INTO sessions (id, user_id, title, mode, listen_language) VALUES ($1, $2, 't', $3, 'en')",
        sid,
        uid,
        mode,
    )
    if credits:
        await pool.execute("INSERT INTO credit_ledger (user_id, seconds, kind) VALUES ($1, $2, 'grant')", uid, credits)
    return str(uid), str(sid)


@dataclass
class Client:
    pc: RTCPeerConnection
    channel: RTCDataChannel
    tracks: list[WavTrack]
    roles: dict[str, str]
    offer: str
    received: list[dict[str, Any]] = field(default_factory=list)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_event(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for e in self.received:
                    if pred(e):
                        return e
                await asyncio.sleep(0.05)

    def send(self, msg: dict[str, Any] | str) -> None:
        self.channel.send(msg if isinstance(msg, str) else json.dumps(msg))


async def make_client(tracks: list[tuple[str | None, WavTrack]], data_channel: bool = True) -> Client:
    """An offering peer like the browser: tracks + "events" before the offer, non-trickle."""
    restrict_ice_hosts(LOOPBACK)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for _, t in tracks:
        pc.addTrack(t)
    channel = pc.createDataChannel("events") if data_channel else None
    await pc.setLocalDescription(await pc.createOffer())
    roles = {}
    for tr in pc.getTransceivers():
        for role, t in tracks:
            if tr.sender.track is t and role is not None:
                roles[tr.mid] = role
    c = Client(pc, channel, [t for _, t in tracks], roles, pc.localDescription.sdp)  # type: ignore[arg-type]
    if channel is not None:
        channel.on("open", c.opened.set)
        channel.on("message", lambda m: c.received.append(json.loads(m)))
    return c


async def post(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s:
        kw = {"data": body} if isinstance(body, str) else {"json": body}
        async with s.post(url, headers=auth_headers(INTERNAL_TOKEN), **kw) as r:
            return r.status, await r.json(content_type=None)


async def offer(media: NodeUnderTest, c: Client, uid: str, sid: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    body = {"session_id": sid, "user_id": uid, "sdp": c.offer, "type": "offer", "roles": c.roles, **extra}
    return await post(f"{media.url}/internal/offer", body)


async def connect(c: Client, answer: dict[str, Any]) -> None:
    assert sdp_candidate_addresses(answer["sdp"]) and set(sdp_candidate_addresses(answer["sdp"])) <= set(LOOPBACK)
    await c.pc.setRemoteDescription(RTCSessionDescription(filter_sdp_candidates(answer["sdp"], LOOPBACK), "answer"))
    async with asyncio.timeout(20):
        await c.opened.wait()


async def stream_entries(r: aioredis.Redis, stream: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return await r.xrange(stream, "-", "+")


async def segments_of(r: aioredis.Redis, sid: str) -> list[Segment]:
    segs = [Segment.from_fields(f) for _, f in await stream_entries(r, bus.STT_SEGMENTS)]
    return [s for s in segs if s.session_id == sid]


async def jobs_of(r: aioredis.Redis, sid: str) -> list[LlmJob]:
    jobs = [LlmJob.from_fields(f) for _, f in await stream_entries(r, bus.LLM_JOBS)]
    return [j for j in jobs if j.session_id == sid]


async def until(fn: Callable[[], Any], timeout: float = 20) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            v = await fn()
            if v:
                return v
            await asyncio.sleep(0.1)


def recording_seconds(path: str) -> float:
    with av.open(path) as c:
        return sum(f.samples for f in c.decode(audio=0)) / 48000


async def test_bad_offers_get_protocol_errors(media: NodeUnderTest, pool: asyncpg.Pool) -> None:
    uid, sid = await new_session(pool)
    url = f"{media.url}/internal/offer"
    st, body = await post(url, {"session_id": sid, "user_id": uid, "sdp": "hello, not sdp", "type": "offer"})
    assert (st, body["error"]["code"]) == (400, "invalid_sdp")
    st, body = await post(
        url, {"session_id": sid, "sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "type": "offer"}
    )
    assert (st, body["error"]["code"]) == (400, "invalid_sdp")
    st, body = await post(url, "{not json")
    assert (st, body["error"]["code"]) == (400, "invalid_json")

    data_only = await make_client([])
    try:
        st, body = await offer(media, data_only, uid, sid)
        assert (st, body["error"]["code"]) == (400, "no_audio")
    finally:
        await data_only.pc.close()

    c = await make_client([("interviewer", WavTrack(None))])
    try:
        st, body = await offer(media, c, uid, str(uuid.uuid4()))
        assert (st, body["error"]["code"]) == (404, "session_not_found")
        st, body = await offer(media, c, uid, sid, roles={"0": "boss"})
        assert (st, body["error"]["code"]) == (400, "invalid_roles")
    finally:
        await c.pc.close()
    # none of it changed the session
    row = await pool.fetchrow("SELECT status, started_at FROM sessions WHERE id = $1", uuid.UUID(sid))
    assert row["status"] == "created" and row["started_at"] is None
    assert sid not in media.node.sessions

    st, body = await post(f"{media.url}/internal/sessions/{uuid.uuid4()}/end", {})
    assert (st, body["error"]["code"]) == (404, "session_not_found")


async def test_live_session_end_to_end(media: NodeUnderTest, pool: asyncpg.Pool) -> None:
    r = media.redis
    uid, sid = await new_session(pool, mode="mock")
    # interviewer named in roles; the second track is not named: "candidate" in mock mode
    questions = ["q_why_company.wav", "q_url_shortener.wav"]
    interviewer = WavTrack([FIXTURES / q for q in questions], gap=1.5, lead_silence=0.5)
    candidate = WavTrack(FIXTURES / "alsa_front_center.wav", lead_silence=1.0)
    c = await make_client([("interviewer", interviewer), (None, candidate)])
    try:
        st, answer = await offer(media, c, uid, sid, mode="mock", listen_language="en", hangover="balanced")
        assert st == 200, answer
        assert answer["type"] == "answer"
        # published before the client's channel is open: buffered, not lost
        await bus.publish_event(r, sid, Notice(level="info", code="early", message="before open"))
        await connect(c, answer)

        row = await pool.fetchrow("SELECT * FROM sessions WHERE id = $1", uuid.UUID(sid))
        assert row["status"] == "live" and row["started_at"] is not None
        assert row["recording_path"].endswith(f"{sid}.webm") and row["media_node"] == media.url
        reg = json.loads(await r.get(media.node.registry_key))
        assert reg["url"] == media.url and reg["sessions"] >= 1 and reg["draining"] is False

        await c.wait_event(lambda e: e.get("type") == "notice" and e.get("code") == "early")

        # speech -> segments with role, seq and times on the session clock
        async def first_question() -> list[Segment]:
            return [s for s in await segments_of(r, sid) if s.role == "interviewer" and s.final]

        segs = await until(first_question, 20)
        # listen_language change applies to what follows
        c.send({"type": "settings", "listen_language": "de", "answer_language": "en"})

        async def both() -> list[Segment] | None:
            s = await first_question()
            return s if len(s) >= 2 else None

        segs = await until(both, 25)
        q = interviewer.utterances
        for seg, utt, name in zip(segs, q, questions, strict=True):
            t0 = utt.t0 + REFS[name]["speech_t0"]
            t1 = utt.t0 + REFS[name]["speech_t1"]
            assert t0 - 0.3 - 0.25 <= seg.t0 <= t0 + 0.25, (seg.t0, t0)
            assert t1 - 0.3 <= seg.t1 <= t1 + 0.6, (seg.t1, t1)
            assert len(seg.pcm) == pytest.approx((seg.t1 - seg.t0) * 16000 * 2, abs=64)
            assert seg.end_wall > 0
        assert [s.seq for s in segs] == [1, 2]
        assert segs[0].lang == "en" and segs[1].lang == "de"

        cand_all = [s for s in await segments_of(r, sid) if s.role == "candidate"]
        cand = [s for s in cand_all if s.final]
        assert len(cand) == 1 and cand[0].seq == 1
        # the speculative partial sent after 100 ms of silence carries the final's audio (minus trailing silence)
        assert any(
            not s.final and s.seq == 1 and s.speech_end == cand[0].speech_end and cand[0].pcm.startswith(s.pcm)
            for s in cand_all
        )
        a0 = candidate.utterances[0].t0 + REFS["alsa_front_center.wav"]["speech_t0"]
        a1 = candidate.utterances[0].t0 + REFS["alsa_front_center.wav"]["speech_t1"]
        assert a0 - 0.55 <= cand[0].t0 <= a0 + 0.25 and a1 - 0.3 <= cand[0].t1 <= a1 + 0.6

        # the candidate's voice activity goes to the llm worker (it scores an answer once they stopped):
        # one start and one stop for the one utterance, on the session clock; none for the interviewer
        async def voice_jobs() -> list[LlmJob] | None:
            v = [j for j in await jobs_of(r, sid) if j.kind == "voice"]
            return v if len(v) >= 2 else None

        vj = [VoiceActivity.from_payload(j.payload) for j in await until(voice_jobs, 10)]
        assert [(v.role, v.speaking) for v in vj] == [("candidate", True), ("candidate", False)], vj
        assert cand[0].t0 <= vj[0].t <= cand[0].t0 + 1.0, (vj, cand[0].t0)
        assert cand[0].speech_end <= vj[1].t <= cand[0].speech_end + 1.5, (vj, cand[0].speech_end)

        # events stream -> data channel, verbatim
        cap = Caption(id=f"{sid}:interviewer:1", role="interviewer", t0=0.5, t1=3.0, text="Why?", lang="en")
        await bus.publish_event(r, sid, cap)
        got = await c.wait_event(lambda e: e.get("type") == "caption")
        assert got["id"] == cap.id and got["text"] == "Why?" and got["v"] == 1

        # client -> server
        c.send({"type": "ask", "text": "What is a hash map?"})
        c.send({"type": "ping", "id": "p1"})
        c.send("{oops")
        c.send({"type": "dance"})
        pong = await c.wait_event(lambda e: e.get("type") == "pong")
        assert pong["id"] == "p1"
        await c.wait_event(lambda e: len([x for x in c.received if x.get("type") == "error"]) >= 2)
        errors = [e for e in c.received if e.get("type") == "error"]
        assert {e["code"] for e in errors} == {"bad_message"}

        async def asked() -> list[LlmJob]:
            return [j for j in await jobs_of(r, sid) if j.kind in ("ask", "settings")]

        jobs = await until(lambda: _at_least(asked, 2), 10)
        assert [j.kind for j in jobs] == ["settings", "ask"]
        assert jobs[1].payload["text"] == "What is a hash map?"
        assert jobs[0].payload["listen_language"] == "de"

        # the end: recording as long as the audio sent
        await interviewer.wait_played(30)
        await asyncio.sleep(0.5)
        for t in c.tracks:
            t.stop()
        sent = max(t.sent_seconds for t in c.tracks)
        await asyncio.sleep(0.5)
        st, res = await post(f"{media.url}/internal/sessions/{sid}/end", {})
        assert st == 200, res
        assert res["media_seconds"] == pytest.approx(sent, rel=0.05)
        assert res["recording_path"] and Path(res["recording_path"]).is_file()
        assert recording_seconds(res["recording_path"]) == pytest.approx(sent, rel=0.05)
        st2, res2 = await post(f"{media.url}/internal/sessions/{sid}/end", {})
        assert (st2, res2) == (200, res)
        assert [j.kind for j in await jobs_of(r, sid)][-1] == "session_end"
        row = await pool.fetchrow("SELECT media_seconds FROM sessions WHERE id = $1", uuid.UUID(sid))
        assert row["media_seconds"] == pytest.approx(res["media_seconds"], abs=0.01)
        debited = await pool.fetchval(
            "SELECT -sum(seconds) FROM credit_ledger WHERE session_id = $1 AND kind = 'debit'", uuid.UUID(sid)
        )
        assert debited == pytest.approx(res["media_seconds"], abs=0.05)
        assert sid not in media.node.sessions

        # an ended session takes no new offer
        c2 = await make_client([("interviewer", WavTrack(None))])
        try:
            st, body = await offer(media, c2, uid, sid)
            assert (st, body["error"]["code"]) == (409, "session_ended")
        finally:
            await c2.pc.close()
    finally:
        for t in c.tracks:
            t.stop()
        await c.pc.close()

    async with aiohttp.ClientSession() as s:
        async with s.get(f"{media.url}/metrics") as resp:
            text = await resp.text()
    assert 'ir_segments_total{role="interviewer"}' in text and "ir_peer_connections" in text


async def _at_least(fn: Callable[[], Any], n: int) -> Any:
    v = await fn()
    return v if len(v) >= n else None


async def test_client_gone_ends_the_session_after_grace(media: NodeUnderTest, pool: asyncpg.Pool) -> None:
    uid, sid = await new_session(pool)
    c = await make_client([(None, WavTrack(FIXTURES / "alsa_front_left.wav", lead_silence=0.3))])
    st, answer = await offer(media, c, uid, sid)
    assert st == 200
    await connect(c, answer)
    await c.tracks[0].wait_played(20)
    await asyncio.sleep(0.8)
    await c.pc.close()  # the browser tab is gone

    async def ended() -> Any:
        return await pool.fetchrow(
            "SELECT status, media_seconds FROM sessions WHERE id = $1 AND status = 'ended'", uuid.UUID(sid)
        )

    row = await until(ended, 20)
    assert row["media_seconds"] > 1.0
    segs = await segments_of(media.redis, sid)
    assert [(s.role, s.seq) for s in segs if s.final] == [("interviewer", 1)]  # unnamed track, assistant mode
    assert any(j.kind == "session_end" for j in await jobs_of(media.redis, sid))
    st, res = await post(f"{media.url}/internal/sessions/{sid}/end", {})
    assert st == 200 and res["media_seconds"] == pytest.approx(row["media_seconds"], abs=0.01)


async def test_troubleshoot_peer_answers_ping(media: NodeUnderTest) -> None:
    c = await make_client([])  # data channel only is fine here
    try:
        st, answer = await post(f"{media.url}/internal/troubleshoot/offer", {"sdp": c.offer, "type": "offer"})
        assert st == 200, answer
        await connect(c, answer)
        c.send({"type": "ping", "id": 7})
        assert (await c.wait_event(lambda e: e.get("type") == "pong"))["id"] == 7
    finally:
        await c.pc.close()


async def test_sigterm_ends_sessions_and_finalizes_recordings(infra: Any, pool: asyncpg.Pool, tmp_path: Path) -> None:
    """`interview-room media` as its own process: SIGTERM must not lose the live session's recording."""
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": infra.database_url,
        "REDIS_URL": infra.redis_url.rsplit("/", 1)[0] + "/3",
        "MEDIA_HOST": "127.0.0.1",
        "MEDIA_PORT": str(port),
        "ICE_HOSTS": "127.0.0.1",
        "ICE_SERVERS": "",
        "INTERNAL_TOKEN": INTERNAL_TOKEN,
    }
    with open(tmp_path / "media.log", "wb") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "interview_room.cli", "media"], env=env, stdout=logf, stderr=logf
        )
    url = f"http://127.0.0.1:{port}"
    redis = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/3")
    c: Client | None = None
    try:

        async def healthy() -> bool:
            assert proc.poll() is None, (tmp_path / "media.log").read_text()
            try:
                async with aiohttp.ClientSession() as s, s.get(f"{url}/health") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await until(healthy, 60)
        uid, sid = await new_session(pool)
        c = await make_client([("candidate", WavTrack(FIXTURES / "alsa_front_left.wav", lead_silence=0.3))])
        st, answer = await post(
            f"{url}/internal/offer",
            {"session_id": sid, "user_id": uid, "sdp": c.offer, "type": "offer", "roles": c.roles},
        )
        assert st == 200, answer
        await connect(c, answer)
        await c.tracks[0].wait_played(20)
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        ended = await c.wait_event(lambda e: e.get("type") == "session.ended", timeout=20)
        assert ended["reason"] == "node_shutdown"
        code = await asyncio.to_thread(proc.wait, 30)
        assert code == 0, (tmp_path / "media.log").read_text()[-3000:]

        row = await pool.fetchrow(
            "SELECT status, media_seconds, recording_path FROM sessions WHERE id = $1", uuid.UUID(sid)
        )
        assert row["status"] == "ended" and row["media_seconds"] > 1.5
        with av.open(row["recording_path"]) as f:
            assert f.duration is not None  # the trailer was written: a finalized file, not a crash leftover
        assert recording_seconds(row["recording_path"]) == pytest.approx(row["media_seconds"], rel=0.05)
        assert [sg.seq for sg in await segments_of(redis, sid) if sg.role == "candidate" and sg.final] == [1]
        assert await redis.get(f"media:node:{socket.gethostname()}-{port}") is None
    finally:
        if c is not None:
            for t in c.tracks:
                t.stop()
            await c.pc.close()
        if proc.poll() is None:
            proc.kill()
        await redis.aclose()


def test_media_node_uses_stun_but_never_the_browsers_turn_urls() -> None:
    urls = ["stun:stun.example.com:3478", "turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"]
    assert server_ice_urls(urls) == ["stun:stun.example.com:3478"]
    assert server_ice_urls([]) == []


async def test_the_node_is_known_in_its_redis_for_the_orphan_reaper(media: NodeUnderTest) -> None:
    """The reaper of this Redis may end sessions this node leaves live; other Redis databases never learn of it."""
    known = {m.decode() for m in await media.redis.smembers(bus.KNOWN_MEDIA_NODES)}
    assert media.url in known
    other = bus.connect(media.cfg.redis_url.rsplit("/", 1)[0] + "/0")
    try:
        assert media.url not in {m.decode() for m in await other.smembers(bus.KNOWN_MEDIA_NODES)}
    finally:
        await other.aclose()
