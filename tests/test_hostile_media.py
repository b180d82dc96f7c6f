"""Hostile users against the media side: the internal API, resource caps, placement when a node is full.

What a user of the service cares about: a logged-in user who reaches a media node's port (TURN relay,
host network) can neither drain it, end another user's session nor attach a peer to it; one user
cannot tie up a node with many tracks, duplicate peer connections, troubleshooting peers or live
sessions; a full node hands new sessions to another one. After each attack a normal user's session
still gets its captions.

Its own small cluster (Redis database /6, DATA_DIR apart): signaling, one stt worker and media nodes
as separate processes; INTERNAL_TOKEN is not set, so every process reads the one generated in DATA_DIR.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from conftest import Infra, Part, Stack, stack_env, start_stack, until, verified_client

from interview_room import bus
from interview_room import registry as node_registry
from interview_room.config import Config
from interview_room.embedded import free_port
from interview_room.internal_api import auth_headers, check_authorization, internal_token, troubleshoot_peers_key
from interview_room.loopback_ice import filter_sdp_candidates, restrict_ice_hosts
from loadtests.client import FIXTURES, ApiError, RoomClient, WavTrack
from loadtests.video_cpu import CameraTrack
from signaling import media_nodes
from web.common.errors import ApiError as SignalingApiError

PASSWORD = "hostile password 123"
SPEECH = FIXTURES / "q_hash_map.wav"
MAX_LIVE = 2
TROUBLESHOOT_AT_ONCE = 2
TROUBLESHOOT_PER_MINUTE = 5
NODE_TROUBLESHOOT = 4


@dataclass
class Cluster:
    stack: Stack
    redis_url: str
    data_dir: Path
    media: dict[str, str]  # process name -> url

    @property
    def base(self) -> str:
        return self.stack.base_url

    @property
    def token(self) -> str:
        return internal_token(Config(data_dir=self.data_dir, internal_token=""))


def _start_media(c: Cluster, name: str, **env: str) -> str:
    c.stack.start_part("media", name, MEDIA_PORT=str(free_port()), MEDIA_URL="", **env)
    c.stack.wait_healthy(name)
    c.media[name] = c.stack.url_of(name)
    return c.media[name]


@pytest.fixture(scope="module")
def cluster(infra: Infra) -> Iterator[Cluster]:
    redis_url = infra.redis_url.rsplit("/", 1)[0] + "/6"
    data_dir = infra.data_dir / "hostile"
    env = stack_env(
        Infra(data_dir, infra.database_url, redis_url),
        ports=("HTTP_PORT", "STT_METRICS_PORT"),
        INTERNAL_TOKEN="",  # generated in DATA_DIR and shared by every process
        STT_THREADS="1",
        MAX_LIVE_SESSIONS_PER_USER=str(MAX_LIVE),
        TROUBLESHOOT_PER_USER=str(TROUBLESHOOT_AT_ONCE),
        TROUBLESHOOT_PER_MINUTE=str(TROUBLESHOOT_PER_MINUTE),
        MEDIA_MAX_TROUBLESHOOT=str(NODE_TROUBLESHOOT),
    )
    with start_stack(infra, env, Part("signaling", "h-signaling"), Part("stt", "h-stt", wait=False)) as s:
        c = Cluster(s, redis_url, data_dir, {})
        _start_media(c, "h-media-a")
        s.wait_healthy("h-stt")
        yield c


@pytest_asyncio.fixture
async def redis(cluster: Cluster) -> AsyncIterator[aioredis.Redis]:
    r = bus.connect(cluster.redis_url)
    yield r
    await r.aclose()


async def registry(r: aioredis.Redis) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    async for key in r.scan_iter(match="media:node:*"):
        raw = await r.get(key)
        if raw:
            entry = json.loads(raw)
            out.setdefault(entry["url"], entry)
    return out


async def registered(r: aioredis.Redis, url: str) -> None:
    async def up() -> bool:
        return url in await registry(r)

    await until(up, 60, f"{url} did not register", 0.2)


async def new_user(cluster: Cluster, token: str | None = None) -> RoomClient:
    """A new account, marked verified in the database as entering the e-mailed code does (``token``: that account)."""
    url = cluster.stack.env["DATABASE_URL"]
    return await verified_client(cluster.base, "hostile", PASSWORD, "Hostile", token=token, database_url=url)


def finals(c: RoomClient) -> list[dict[str, Any]]:
    return [e for e in c.received if e.get("type") == "caption" and e.get("final")]


async def wait_caption(c: RoomClient, timeout: float = 90) -> None:
    async def captioned() -> bool:
        return bool(finals(c))

    await until(captioned, timeout, "no final caption", 0.2)


async def normal_user_gets_captions(cluster: Cluster) -> None:
    """A new user speaks a recorded question and gets its caption; the session is ended after."""
    c = await new_user(cluster)
    try:
        s = await c.create_session(title="normal")
        await c.connect(s["id"], [("interviewer", WavTrack(SPEECH))])
        await wait_caption(c)
        assert any("hash" in cap["text"].lower() for cap in finals(c)), finals(c)
        assert (await c.end())["status"] == "ended"
    finally:
        await c.close()


async def session_row(pool: asyncpg.Pool, sid: str) -> asyncpg.Record:
    return await pool.fetchrow("SELECT status, media_node, media_seconds FROM sessions WHERE id = $1", uuid.UUID(sid))


async def peer_gauge(url: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as r:
        assert r.status == 200
        text = await r.text()
    for line in text.splitlines():
        if line.startswith("ir_peer_connections "):
            return float(line.split()[1])
    raise AssertionError("ir_peer_connections missing")


async def call(url: str, headers: dict[str, str] | None = None, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers or {}) as r:
        return r.status, await r.json(content_type=None)


# ---------------------------------------------------------------- 0. the credential itself


def test_the_token_is_generated_once_in_data_dir_and_the_environment_wins(tmp_path: Path) -> None:
    generated = internal_token(Config(data_dir=tmp_path, internal_token=""))
    assert len(generated) >= 32 and (tmp_path / "internal_token").read_text().strip() == generated
    assert internal_token(Config(data_dir=tmp_path, internal_token="")) == generated  # every process reads the same
    assert internal_token(Config(data_dir=tmp_path, internal_token="from-env")) == "from-env"
    assert check_authorization(None, generated) == 401
    assert check_authorization(f"Basic {generated}", generated) == 401
    assert check_authorization("Bearer ", generated) == 401
    assert check_authorization("Bearer wrong", generated) == 403
    assert check_authorization(f"Bearer {generated}", "") == 403  # a node without a token accepts nothing
    assert check_authorization(auth_headers(generated)["Authorization"], generated) is None


async def test_signaling_sends_the_token_and_skips_a_node_that_refuses_it() -> None:
    """Two local servers standing in for media nodes: one with another INTERNAL_TOKEN (403), one taking
    the offer. The user gets the second's answer, never the first's 403."""
    seen: list[tuple[str, str | None]] = []

    def node(name: str, status: int, body: dict[str, Any]) -> web.Application:
        async def offer(request: web.Request) -> web.Response:
            seen.append((name, request.headers.get("Authorization")))
            return web.json_response(body, status=status)

        app = web.Application()
        app.router.add_post("/internal/offer", offer)
        return app

    runners = []
    nodes = []
    refused = {"error": {"code": "forbidden", "message": "wrong token"}}
    for name, status, body in (("a", 403, refused), ("b", 200, {"sdp": "v=0", "type": "answer"})):
        runner = web.AppRunner(node(name, status, body))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        nodes.append(media_nodes.MediaNode(name, f"http://127.0.0.1:{port}", 0, 0.0, False))
    try:
        async with aiohttp.ClientSession() as http:
            chosen, status, body = await media_nodes.post_to_placed_node(http, nodes, "/internal/offer", {}, "tok-1")
            assert (chosen.node_id, status, body["sdp"]) == ("b", 200, "v=0")
            with pytest.raises(SignalingApiError) as e:
                await media_nodes.post_to_placed_node(http, nodes[:1], "/internal/offer", {}, "tok-1")
            assert (e.value.status, e.value.code) == (503, "no_media_node")
        assert seen == [("a", "Bearer tok-1"), ("b", "Bearer tok-1"), ("a", "Bearer tok-1")]
    finally:
        for runner in runners:
            await runner.cleanup()


def test_placement_tries_a_full_node_last() -> None:
    full = media_nodes.MediaNode("a", "http://a", 0, 0.0, False, full=True)
    busy = media_nodes.MediaNode("b", "http://b", 5, 0.0, False)
    draining = media_nodes.MediaNode("c", "http://c", 0, 0.0, True)
    assert [n.node_id for n in media_nodes.placement_order([full, busy, draining])] == ["b", "a"]
    # the session's own node first, full or not: it serves a re-offer of a session it holds
    assert [n.node_id for n in media_nodes.placement_order([full, busy], "http://a")] == ["a", "b"]


# ---------------------------------------------------------------- 1. the internal API needs the token


async def test_internal_calls_without_the_token_are_refused_and_change_nothing(
    cluster: Cluster, redis: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    url = cluster.media["h-media-a"]
    await registered(redis, url)
    victim = await new_user(cluster)
    attacker_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        s = await victim.create_session(title="victim")
        sid = str(s["id"])
        track = WavTrack([SPEECH, FIXTURES / "q_weakness.wav"], gap=3.0, lead_silence=6.0)
        await victim.connect(sid, [("interviewer", track)])
        peers = await peer_gauge(url)

        # the attacker's own offer, to attach to the victim's session and get its captions
        restrict_ice_hosts(["127.0.0.1"])
        attacker_pc.createDataChannel("events")
        attacker_pc.addTrack(WavTrack(None))
        await attacker_pc.setLocalDescription(await attacker_pc.createOffer())
        offer = {"session_id": sid, "user_id": str(uuid.uuid4()), "sdp": attacker_pc.localDescription.sdp, "type": "offer"}
        calls = [
            (f"{url}/internal/drain", None),
            (f"{url}/internal/sessions/{sid}/end", None),
            (f"{url}/internal/offer", offer),
            (f"{url}/internal/troubleshoot/offer", {"sdp": attacker_pc.localDescription.sdp, "type": "offer"}),
        ]
        for target, body in calls:
            st, err = await call(target, None, body)
            assert (st, err["error"]["code"]) == (401, "unauthorized"), (target, st, err)
            st, err = await call(target, {"Authorization": "Basic c2lnbmFsaW5n"}, body)
            assert (st, err["error"]["code"]) == (401, "unauthorized"), (target, st, err)
            st, err = await call(target, auth_headers("not-the-token"), body)
            assert (st, err["error"]["code"]) == (403, "forbidden"), (target, st, err)
            st, err = await call(target, auth_headers(cluster.token + "x"), body)
            assert (st, err["error"]["code"]) == (403, "forbidden"), (target, st, err)

        # nothing changed: the node is not draining, the session is live with its one peer
        entry = (await registry(redis))[url]
        assert entry["draining"] is False
        assert (await session_row(pool, sid))["status"] == "live"
        assert await peer_gauge(url) == peers
        async with aiohttp.ClientSession() as http:  # probes and Prometheus need no token
            for path in ("/health", "/metrics"):
                async with http.get(url + path) as r:
                    assert r.status == 200, path

        # the victim's session goes on: its speech is captioned after the attack
        await wait_caption(victim)
        assert (await victim.end())["status"] == "ended"
    finally:
        await attacker_pc.close()
        await victim.close()
    await normal_user_gets_captions(cluster)


# ---------------------------------------------------------------- 2. caps on what one offer may hold


async def raw_offer(cluster: Cluster, token: str | None, sid: str, audio: int, video: int) -> tuple[int, Any]:
    """POST an offer with ``audio`` + ``video`` tracks to the session's offer route."""
    restrict_ice_hosts(["127.0.0.1"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tracks: list[Any] = [WavTrack(None) for _ in range(audio)] + [CameraTrack() for _ in range(video)]
    try:
        for t in tracks:
            pc.addTrack(t)
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"Authorization": f"Bearer {token}"}
        return await call(f"{cluster.base}/api/sessions/{sid}/offer", headers, {"sdp": pc.localDescription.sdp, "type": "offer"})
    finally:
        for t in tracks:
            t.stop()
        await pc.close()


async def test_an_offer_with_too_many_tracks_is_refused_and_a_browser_offer_works(
    cluster: Cluster, pool: asyncpg.Pool
) -> None:
    url = cluster.media["h-media-a"]
    ok = await new_user(cluster)
    try:
        s = await ok.create_session(title="tracks")
        sid = str(s["id"])
        peers = await peer_gauge(url)
        for audio, video in ((8, 0), (3, 0), (1, 2), (2, 2)):
            st, err = await raw_offer(cluster, ok.token, sid, audio, video)
            assert (st, err["error"]["code"]) == (400, "too_many_tracks"), (audio, video, err)
            assert "at most 2 audio" in err["error"]["message"]
        assert (await session_row(pool, sid))["status"] == "created"
        assert await peer_gauge(url) == peers

        # microphone + meeting audio + camera: what the room page sends
        await ok.connect(sid, [("candidate", WavTrack(None)), ("interviewer", WavTrack(SPEECH))], video=CameraTrack())
        assert (await session_row(pool, sid))["status"] == "live"
        await wait_caption(ok)
        assert (await ok.end())["status"] == "ended"
    finally:
        await ok.close()
    await normal_user_gets_captions(cluster)


async def test_a_reoffer_replaces_the_sessions_peer_connection(cluster: Cluster, pool: asyncpg.Pool) -> None:
    url = cluster.media["h-media-a"]
    first = await new_user(cluster)
    again: list[RoomClient] = []
    try:
        s = await first.create_session(title="re-offer")
        sid = str(s["id"])
        base = await peer_gauge(url)
        t0 = time.monotonic()
        await first.connect(sid, [("interviewer", WavTrack(None))])
        assert await peer_gauge(url) == base + 1
        # the same user offers the same session again and again (a reconnect, or a flood)
        for i in range(3):
            c = await new_user(cluster, first.token)
            again.append(c)
            await c.connect(sid, [("interviewer", WavTrack(SPEECH if i == 2 else None))])
            assert await peer_gauge(url) == base + 1, f"after re-offer {i + 1}"
        await wait_caption(again[-1])
        await asyncio.sleep(2)
        final = await again[-1].end()
        elapsed = time.monotonic() - t0
        # billed = decoded: one connection at a time, so never more media than the session lasted
        assert 0 < final["duration_seconds"] <= elapsed + 1.0, (final["duration_seconds"], elapsed)
        row = await session_row(pool, sid)
        debited = await pool.fetchval(
            "SELECT -sum(seconds) FROM credit_ledger WHERE session_id = $1 AND kind = 'debit'", uuid.UUID(sid)
        )
        assert debited == pytest.approx(float(row["media_seconds"]), abs=0.05)
        assert row["media_seconds"] <= elapsed + 1.0
        assert await peer_gauge(url) == base
    finally:
        await asyncio.gather(first.close(), *(c.close() for c in again), return_exceptions=True)
    await normal_user_gets_captions(cluster)


# ---------------------------------------------------------------- 3. troubleshooting peers


@dataclass
class Probe:
    status: int
    body: Any
    pc: RTCPeerConnection
    channel: RTCDataChannel


async def troubleshoot_offer(cluster: Cluster, token: str | None, direct: bool = False) -> Probe:
    """A troubleshooting peer through signaling (``token`` = the user's) or straight to the node (with
    the INTERNAL_TOKEN); its answer is applied when it was accepted."""
    restrict_ice_hosts(["127.0.0.1"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("events")
    await pc.setLocalDescription(await pc.createOffer())
    body = {"sdp": pc.localDescription.sdp, "type": "offer"}
    if direct:
        url = f"{cluster.media['h-media-a']}/internal/troubleshoot/offer"
        headers = auth_headers(cluster.token)
    else:
        url, headers = f"{cluster.base}/api/troubleshoot/offer", {"Authorization": f"Bearer {token}"}
    st, answer = await call(url, headers, body)
    if st == 200:
        await pc.setRemoteDescription(RTCSessionDescription(filter_sdp_candidates(answer["sdp"], ["127.0.0.1"]), "answer"))
    return Probe(st, answer, pc, channel)


async def test_a_troubleshoot_flood_is_limited_per_user_and_per_node(
    cluster: Cluster, redis: aioredis.Redis
) -> None:
    flooder = await new_user(cluster)
    other = await new_user(cluster)
    pcs: list[RTCPeerConnection] = []
    try:
        # twelve at once from one user: two are let through, the rest get a clear 429
        results = await asyncio.gather(*(troubleshoot_offer(cluster, flooder.token) for _ in range(12)))
        pcs += [r.pc for r in results]
        statuses = sorted(r.status for r in results)
        assert statuses == [200] * TROUBLESHOOT_AT_ONCE + [429] * (12 - TROUBLESHOOT_AT_ONCE), statuses
        refused = [r.body["error"] for r in results if r.status == 429]
        assert {e["code"] for e in refused} <= {"too_many_troubleshoot_peers", "troubleshoot_rate_limited"}
        assert all(e["retry_after_seconds"] >= 1 for e in refused)
        assert await redis.zcard(troubleshoot_peers_key(str(flooder.user["id"]))) == TROUBLESHOOT_AT_ONCE  # type: ignore[index]
        # and the minute's attempts are used up
        probe = await troubleshoot_offer(cluster, flooder.token)
        pcs.append(probe.pc)
        assert (probe.status, probe.body["error"]["code"]) == (429, "troubleshoot_rate_limited")

        # another user is served, and an accepted peer answers ping
        probe = await troubleshoot_offer(cluster, other.token)
        pcs.append(probe.pc)
        assert probe.status == 200, probe.body
        pong: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        probe.channel.on("message", lambda m: pong.done() or pong.set_result(json.loads(m)))

        async def opened() -> bool:
            return probe.channel.readyState == "open"

        await until(opened, 30, "the troubleshooting channel did not open", 0.05)
        probe.channel.send(json.dumps({"type": "ping", "id": "p1"}))
        assert (await asyncio.wait_for(pong, 10))["id"] == "p1"

        # the node caps its own troubleshooting peers whoever asks (3 open now)
        probe = await troubleshoot_offer(cluster, None, direct=True)
        pcs.append(probe.pc)
        assert probe.status == 200, probe.body
        probe = await troubleshoot_offer(cluster, None, direct=True)
        pcs.append(probe.pc)
        assert (probe.status, probe.body["error"]["code"]) == (503, "node_full")
    finally:
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        await flooder.close()
        await other.close()
    await normal_user_gets_captions(cluster)


# ---------------------------------------------------------------- 4. live sessions per user


async def test_live_sessions_per_user_are_capped(cluster: Cluster, pool: asyncpg.Pool) -> None:
    owner = await new_user(cluster)
    clients: list[RoomClient] = []
    try:
        sids = [str((await owner.create_session(title=f"live {i}"))["id"]) for i in range(MAX_LIVE + 1)]
        for sid in sids[:MAX_LIVE]:
            c = await new_user(cluster, owner.token)
            clients.append(c)
            await c.connect(sid, [("interviewer", WavTrack(None))])
        extra = await new_user(cluster, owner.token)
        clients.append(extra)
        with pytest.raises(ApiError) as e:
            await extra.connect(sids[-1], [("interviewer", WavTrack(None))])
        assert (e.value.status, e.value.code) == (409, "too_many_live_sessions")
        assert (await session_row(pool, sids[-1]))["status"] == "created"
        # a live session may still reconnect
        back = await new_user(cluster, owner.token)
        clients.append(back)
        await back.connect(sids[0], [("interviewer", WavTrack(None))])
        # one ended: the next one may go live
        await owner.request("POST", f"/api/sessions/{sids[1]}/end")
        late = await new_user(cluster, owner.token)
        clients.append(late)
        await late.connect(sids[-1], [("interviewer", WavTrack(None))])
        assert (await session_row(pool, sids[-1]))["status"] == "live"
        for sid in (sids[0], sids[-1]):
            await owner.request("POST", f"/api/sessions/{sid}/end")

        # simultaneous offers for many new sessions: no more than the cap go live
        racer = await new_user(cluster)
        clients.append(racer)
        race = [str((await racer.create_session(title=f"race {i}"))["id"]) for i in range(5)]
        peers = [await new_user(cluster, racer.token) for _ in race]
        clients += peers
        results = await asyncio.gather(
            *(p.connect(sid, [("interviewer", WavTrack(None))]) for p, sid in zip(peers, race, strict=True)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, ApiError)]
        assert len(refused) == len(race) - MAX_LIVE, results
        assert {(r.status, r.code) for r in refused} == {(409, "too_many_live_sessions")}
        live = await pool.fetchval(
            "SELECT count(*) FROM sessions WHERE user_id = $1 AND status = 'live'", uuid.UUID(racer.user["id"])  # type: ignore[index]
        )
        assert live == MAX_LIVE
        for sid in race:
            await racer.request("POST", f"/api/sessions/{sid}/end")
    finally:
        await asyncio.gather(owner.close(), *(c.close() for c in clients), return_exceptions=True)
    await normal_user_gets_captions(cluster)


# ---------------------------------------------------------------- 5. a full node


async def test_a_full_node_sends_new_sessions_to_another_and_503_when_none(
    cluster: Cluster, redis: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    """Runs last: it replaces node A by a node B that takes one session, then adds a node C."""
    cluster.stack.stop_part("h-media-a")
    url_a = cluster.media.pop("h-media-a")
    url_b = _start_media(cluster, "h-media-b", MEDIA_MAX_SESSIONS="1")

    async def a_gone() -> bool:
        return url_a not in await registry(redis)

    await until(a_gone, 20, "node A still registered", 0.2)
    await registered(redis, url_b)
    clients: list[RoomClient] = []
    try:
        first = await new_user(cluster)
        clients.append(first)
        s1 = await first.create_session(title="fills B")
        await first.connect(str(s1["id"]), [("interviewer", WavTrack(None))])
        assert (await session_row(pool, str(s1["id"])))["media_node"] == url_b

        async def b_full() -> bool:
            return bool((await registry(redis))[url_b].get("full"))

        await until(b_full, 10, "node B does not announce it is full", 0.2)

        # the only node is full: a clear 503, the session unchanged
        second = await new_user(cluster)
        clients.append(second)
        s2 = await second.create_session(title="no room")
        with pytest.raises(ApiError) as e:
            await second.connect(str(s2["id"]), [("interviewer", WavTrack(None))])
        assert (e.value.status, e.value.code) == (503, "no_media_node")
        assert (await session_row(pool, str(s2["id"])))["status"] == "created"
        assert "node full" in cluster.stack.log_of("h-media-b")

        # another node comes up; a stale registry entry still calls B the least loaded: B answers
        # 503 node_full and signaling goes on to C
        url_c = _start_media(cluster, "h-media-c")
        await registered(redis, url_c)
        stale = {"url": url_b, "sessions": -1, "cpu": 0.0, "draining": False, "full": False, "heartbeat": time.time()}
        await node_registry.register(redis, "0-stale-b", json.dumps(stale), 60)
        refusals = cluster.stack.log_of("h-media-b").count("node full")
        retry = await new_user(cluster, second.token)
        clients.append(retry)
        await retry.connect(str(s2["id"]), [("interviewer", WavTrack(SPEECH))])
        assert (await session_row(pool, str(s2["id"])))["media_node"] == url_c
        assert cluster.stack.log_of("h-media-b").count("node full") == refusals + 1
        await wait_caption(retry)
        await redis.delete("media:node:0-stale-b")
        await first.end()
        await retry.end()
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    await normal_user_gets_captions(cluster)
