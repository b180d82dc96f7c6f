"""Scale-out on one machine: 2 media nodes, 2 stt workers, 1 llm worker, 1 signaling, all separate processes.

What a user of a cluster cares about: sessions spread over the media nodes; when an stt worker and a
media node die mid-interview, the sessions on the surviving node get every caption exactly once;
the clients of the dead node see their connection fail and can start again on the surviving node;
a dead node leaves placement by itself; a drained node takes no new sessions, keeps serving the
ones it holds and exits when the last one ends. A session that moved to the surviving node keeps one
clock (its captions there come after the first node's) and plays back as one recording.

The cluster has its own Redis database (``/2`` of the embedded server) so the media nodes and
workers of the other tests' stack never mix with these.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import av
import numpy as np
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from conftest import Infra, Part, Stack, stack_env, start_stack, until, verified_client

from interview_room import bus
from interview_room.config import Config
from interview_room.embedded import free_port
from interview_room.internal_api import auth_headers, internal_token
from loadtests.client import FIXTURES, RoomClient, Utterance, WavTrack

pytestmark = pytest.mark.whisper  # transcribes speech with the Whisper model (not in make test-fast)

SCRIPT = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav", "q_url_shortener.wav", "q_weakness.wav"]
PASSWORD = "cluster password 123"


@dataclass
class Cluster:
    stack: Stack
    redis_url: str
    media: dict[str, str]  # process name -> the url it registers
    notes: dict[str, Any] = field(default_factory=dict)  # what one test leaves for the next to check

    def pid(self, name: str) -> int:
        return self.stack.procs[name].pid


def _media(name: str) -> Part:
    return Part("media", name, {"MEDIA_PORT": str(free_port()), "MEDIA_URL": ""})


def _start_media(s: Stack, name: str) -> str:
    p = _media(name)
    s.start_part(p.part, p.name, **p.env)
    return s.url_of(name)


@pytest.fixture(scope="module")
def cluster(infra: Infra) -> Iterator[Cluster]:
    redis_url = infra.redis_url.rsplit("/", 1)[0] + "/2"
    env = stack_env(
        infra,
        ports=("HTTP_PORT", "LLM_METRICS_PORT"),
        REDIS_URL=redis_url,
        STT_THREADS="1",
        STT_CLAIM_IDLE_MS="3000",  # a dead worker's segment is taken over after 3 s
    )
    media = [_media("c-media-a"), _media("c-media-b")]
    stt = [Part("stt", f"c-stt-{i}", {"STT_METRICS_PORT": str(free_port())}) for i in (1, 2)]
    with start_stack(infra, env, Part("signaling", "c-signaling"), *media, *stt, Part("llm", "c-llm", wait=False)) as s:
        yield Cluster(s, redis_url, {p.name: s.url_of(p.name) for p in media})


@pytest_asyncio.fixture
async def redis(cluster: Cluster) -> AsyncIterator[aioredis.Redis]:
    r = bus.connect(cluster.redis_url)
    yield r
    await r.aclose()


async def registry(r: aioredis.Redis) -> dict[str, dict[str, Any]]:
    """url -> registry entry of every live media node."""
    out: dict[str, dict[str, Any]] = {}
    async for key in r.scan_iter(match="media:node:*"):
        raw = await r.get(key)
        if raw:
            entry = json.loads(raw)
            out[entry["url"]] = entry
    return out


async def new_client(base_url: str, token: str | None = None) -> RoomClient:
    """A new account verified with the e-mailed code (``token``: that account)."""
    return await verified_client(base_url, "cluster", PASSWORD, "Cluster", token=token)


async def node_of(pool: asyncpg.Pool, session_id: str) -> str:
    return str(await pool.fetchval("SELECT media_node FROM sessions WHERE id = $1", uuid.UUID(session_id)))


def finals(c: RoomClient) -> list[dict[str, Any]]:
    return [e for e in c.received if e.get("type") == "caption" and e.get("final")]


def overlap_match(utts: list[Utterance], cap: dict[str, Any]) -> Utterance | None:
    """The utterance a caption overlaps most on the session clock."""
    best, best_ov = None, 0.0
    for u in utts:
        if u.t0 is None or u.t1 is None:
            continue
        ov = min(u.t1, cap["t1"]) - max(u.t0, cap["t0"])
        if ov > best_ov:
            best, best_ov = u, ov
    return best


def captions_per_utterance(
    c: RoomClient, track: WavTrack, offset: float = 0.0, caps: list[dict[str, Any]] | None = None
) -> dict[int, list[str]]:
    """utterance index -> ids of the final captions (``caps``, else all the client got) matched to it (-1:
    matched to none); ``offset``: the session time of the track's first frame (a session that moved to another
    node goes on)."""
    utts = [
        dataclasses.replace(u, t0=u.t0 + offset, t1=u.t1 + offset) if u.t0 is not None and u.t1 is not None else u
        for u in track.utterances
    ]
    out: dict[int, list[str]] = {u.index: [] for u in track.utterances}
    for cap in finals(c) if caps is None else caps:
        u = overlap_match(utts, cap)
        out.setdefault(u.index if u else -1, []).append(cap["id"])
    return out


async def pending_segment_of(r: aioredis.Redis, consumer: str, session_ids: set[str]) -> str | None:
    """The id of a segment of one of ``session_ids`` that ``consumer`` holds unacked, if any."""
    rows = await r.xpending_range(bus.STT_SEGMENTS, bus.STT_GROUP, min="-", max="+", count=20, consumername=consumer)
    for row in rows:
        entries = await r.xrange(bus.STT_SEGMENTS, min=row["message_id"], max=row["message_id"])
        if entries and entries[0][1].get(b"session_id", b"").decode() in session_ids:
            return str(row["message_id"].decode())
    return None


async def wait_pc_down(c: RoomClient, timeout: float) -> str:
    assert c.pc is not None
    pc = c.pc
    async with asyncio.timeout(timeout):
        while pc.connectionState not in ("failed", "closed"):
            await asyncio.sleep(0.2)
    return str(pc.connectionState)


async def wait_all_captions(c: RoomClient, track: WavTrack, timeout: float) -> None:
    await c.wait_played(timeout=timeout)

    async def enough() -> bool:
        return len(finals(c)) >= len(track.utterances)

    await until(enough, timeout, f"fewer final captions than the {len(track.utterances)} utterances sent", 0.2)


async def test_sessions_spread_and_survive_a_dead_stt_worker_and_media_node(
    cluster: Cluster, redis: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    base = cluster.stack.base_url
    url_a, url_b = cluster.media["c-media-a"], cluster.media["c-media-b"]

    async def both_registered() -> bool:
        return {url_a, url_b} <= set(await registry(redis))

    await until(both_registered, 60, "media nodes did not register")
    reg = await registry(redis)
    for url in (url_a, url_b):  # the heartbeat carries the load signaling places by
        assert {"sessions", "cpu", "draining"} <= set(reg[url]) and reg[url]["draining"] is False

    # four interviews, offered one after another: least-loaded placement alternates the nodes
    clients: list[RoomClient] = []
    tracks: list[WavTrack] = []
    placed: list[str] = []
    try:
        for _ in range(4):
            c = await new_client(base)
            s = await c.create_session(title="cluster", mode="assistant", listen_language="en")
            track = WavTrack([FIXTURES / f for f in SCRIPT], gap=2.0, loop_seconds=45)
            await c.connect(s["id"], [("interviewer", track)])
            clients.append(c)
            tracks.append(track)
            placed.append(await node_of(pool, s["id"]))
        assert sorted(placed) == sorted([url_a, url_a, url_b, url_b]), placed
        survivors = [i for i, u in enumerate(placed) if u == url_a]
        doomed = [i for i, u in enumerate(placed) if u == url_b]
        survivor_sessions = {str(clients[i].session_id) for i in survivors}

        # mid-run (every session has had a caption): SIGKILL the stt worker while it holds a segment
        # of a surviving session, then node B
        async def all_captioned() -> bool:
            return all(finals(c) for c in clients)

        await until(all_captioned, 90, "not every session got its first caption")
        consumer = f"stt-{socket.gethostname()}-{cluster.pid('c-stt-1')}"

        async def stt1_busy() -> tuple[str, dict[bytes, bytes]] | None:
            entry = await pending_segment_of(redis, consumer, survivor_sessions)
            # read it now: once a worker has acked it, the entry is deleted (its PCM is big)
            got = await redis.xrange(bus.STT_SEGMENTS, min=entry, max=entry) if entry else []
            return (entry, got[0][1]) if got else None

        in_hand, held = await until(stt1_busy, 60, "stt-1 never took a segment of a surviving session", 0.02)
        os.kill(cluster.pid("c-stt-1"), signal.SIGKILL)
        os.kill(cluster.pid("c-media-b"), signal.SIGKILL)
        cluster.stack.procs.pop("c-stt-1").wait(10)
        cluster.stack.procs.pop("c-media-b").wait(10)

        # the dead node leaves placement by itself (its heartbeat key expires)
        async def b_gone() -> bool:
            return url_b not in await registry(redis)

        await until(b_gone, 20, "the dead media node is still registered")

        # clients of the dead node: their peer connection fails (ICE consent expires) ...
        down = await asyncio.gather(*(wait_pc_down(clients[i], 90) for i in doomed))
        assert all(state in ("failed", "closed") for state in down), down
        # ... and they start again: one in a new session, one by a new offer for the same session
        # (what the web client does on a failed connection); both land on the surviving node
        restart_new = await new_client(base, clients[doomed[0]].token)
        s_new = await restart_new.create_session(title="again", mode="assistant", listen_language="en")
        track_new = WavTrack([FIXTURES / f for f in SCRIPT[:3]], gap=2.0)
        await restart_new.connect(s_new["id"], [("interviewer", track_new)])
        clients.append(restart_new)
        assert await node_of(pool, s_new["id"]) == url_a
        reoffer = await new_client(base, clients[doomed[1]].token)
        track_re = WavTrack([FIXTURES / f for f in SCRIPT[:3]], gap=2.0)
        await reoffer.connect(str(clients[doomed[1]].session_id), [("interviewer", track_re)])
        clients.append(reoffer)
        assert await node_of(pool, str(clients[doomed[1]].session_id)) == url_a

        # the surviving node's sessions: every utterance captioned exactly once, the claimed one too
        for i in survivors:
            await wait_all_captions(clients[i], tracks[i], 120)
        await wait_all_captions(restart_new, track_new, 120)
        await reoffer.wait_played(timeout=60)
        await asyncio.sleep(5)  # past the claim delay: a doubled caption would have arrived by now
        for c, track in [*((clients[i], tracks[i]) for i in survivors), (restart_new, track_new)]:
            per_utt = captions_per_utterance(c, track)
            assert per_utt.get(-1, []) == [], f"captions matching no utterance: {per_utt}"
            assert all(len(ids) == 1 for ids in per_utt.values()), per_utt
            ids = [e["id"] for e in finals(c)]
            assert len(ids) == len(set(ids)) == len(track.utterances)
            stored = await c.get_session()
            assert [t["id"] for t in stored["transcript"]] == ids
        claimed_id = "{}:{}:{}".format(*(held[k].decode() for k in (b"session_id", b"role", b"seq")))
        assert not await redis.xrange(bus.STT_SEGMENTS, min=in_hand, max=in_hand)  # acked and deleted
        assert any(claimed_id in [e["id"] for e in finals(clients[i])] for i in survivors)
        # nothing is left pending in the stt group (the dead worker's entry was claimed and acked)
        assert (await redis.xpending(bus.STT_SEGMENTS, bus.STT_GROUP))["pending"] == 0
        # the reconnected session gets captions on its new node (whether all of them: the test below)
        assert finals(reoffer)
        cluster.notes["moved"] = (clients[doomed[1]], reoffer, track_re)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def decoded_audio(path: Path) -> np.ndarray:
    """Mono 48 kHz samples of a recording, each frame at its timestamp (holes stay zero)."""
    pieces: list[tuple[int, np.ndarray]] = []
    with av.open(str(path)) as c:
        try:
            for f in c.decode(audio=0):
                x = f.to_ndarray().astype(np.float32).reshape(len(f.layout.channels), -1).mean(axis=0)
                pieces.append((max(0, round(float(f.pts * f.time_base) * 48000)), x))
        except av.FFmpegError:  # the dead node's part ends in a torn cluster
            pass
    out = np.zeros(max((s + len(x) for s, x in pieces), default=0), np.float32)
    for s, x in pieces:
        out[s : s + len(x)] = x
    return out


def loudness(samples: np.ndarray, t0: float, t1: float) -> float:
    x = samples[int(t0 * 48000) : int(t1 * 48000)]
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


async def test_a_session_moved_to_another_node_keeps_one_timeline_and_recording(
    cluster: Cluster, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    assert "moved" in cluster.notes, "needs the node-death test above (the file runs in order)"
    first, reoffer, track = cluster.notes["moved"]  # played in full and given the same time as the others
    sid = str(reoffer.session_id)
    parts = await pool.fetch(
        "SELECT path, offset_s FROM recording_parts WHERE session_id = $1 ORDER BY part", uuid.UUID(sid)
    )
    assert len(parts) == 2 and parts[0]["offset_s"] == 0, parts
    offset = float(parts[1]["offset_s"])
    before, received = finals(first), finals(reoffer)
    # captions of speech before the node died that were finished while the client reconnected: the new node
    # relays them from the dead node's last delivered event (none lost live, none twice)
    caught_up = [c for c in received if c["t0"] < offset]
    after = [c for c in received if c["t0"] >= offset]
    assert before and after
    assert not {c["id"] for c in before} & {c["id"] for c in received}
    assert len({c["id"] for c in received}) == len(received)
    stored = await reoffer.get_session()
    assert {t["id"] for t in stored["transcript"]} == {c["id"] for c in before + received}
    # one clock: the second node's captions come after the first node's, the reconnect gap included
    assert min(c["t0"] for c in after) >= offset > max(c["t1"] for c in before + caught_up)
    per_utt = captions_per_utterance(reoffer, track, offset, after)  # every utterance there, once, at its time
    assert per_utt.get(-1, []) == [] and all(len(ids) == 1 for ids in per_utt.values()), per_utt

    # one recording: both parts on that clock, silence between them
    assert (await reoffer.end())["status"] == "ended"
    headers = {"Authorization": f"Bearer {reoffer.token}"}
    url = f"{cluster.stack.base_url}/api/sessions/{sid}/recording"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        assert r.status == 200 and r.content_type == "audio/webm"
        (tmp_path / "played.webm").write_bytes(await r.read())
    played = decoded_audio(tmp_path / "played.webm")
    first_part, last_part = (decoded_audio(Path(p["path"])) for p in parts)
    assert len(played) / 48000 == pytest.approx(offset + len(last_part) / 48000, abs=0.5)
    first_end = len(first_part) / 48000  # the dead node's last second or so never reached its file
    recorded = [c for c in before if c["t1"] <= first_end] + after
    assert len(recorded) > len(after)
    for cap in recorded:  # every caption's speech is where the caption says
        assert loudness(played, cap["t0"], cap["t1"]) > 0.02, cap
    gap = (first_end + 0.3, offset - 0.3)
    assert gap[1] - gap[0] > 1 and loudness(played, *gap) < 0.001


async def test_a_drained_node_takes_no_new_sessions_and_exits_after_its_last(
    cluster: Cluster, redis: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    base = cluster.stack.base_url
    url_c = _start_media(cluster.stack, "c-media-c")
    proc = cluster.stack.procs["c-media-c"]

    async def c_registered() -> bool:
        return url_c in await registry(redis)

    await until(c_registered, 60, "media node C did not register")
    clients: list[RoomClient] = []
    try:
        # least-loaded placement puts one of at most (number of nodes) new sessions on the idle node C
        on_c: RoomClient | None = None
        for _ in range(len(await registry(redis))):
            c = await new_client(base)
            s = await c.create_session(title="drain", mode="assistant")
            await c.connect(s["id"], [("interviewer", WavTrack(None))])
            clients.append(c)
            if await node_of(pool, s["id"]) == url_c:
                on_c = c
                break
        assert on_c is not None, "no session was placed on the idle node"

        proc.send_signal(signal.SIGUSR1)

        async def c_draining() -> bool:
            return bool((await registry(redis)).get(url_c, {}).get("draining"))

        await until(c_draining, 10, "node C does not announce draining")
        token = internal_token(Config(data_dir=cluster.stack.infra.data_dir))  # generated in the shared DATA_DIR
        async with aiohttp.ClientSession() as http, http.post(f"{url_c}/internal/drain", headers=auth_headers(token)) as r:
            assert r.status == 202 and await r.json() == {"draining": True, "sessions": 1}

        # a new session goes elsewhere; a reconnect of the session C holds is still served by C
        other = await new_client(base)
        s = await other.create_session(title="after drain", mode="assistant")
        await other.connect(s["id"], [("interviewer", WavTrack(None))])
        clients.append(other)
        assert await node_of(pool, s["id"]) != url_c
        again = await new_client(base, on_c.token)
        await again.connect(str(on_c.session_id), [("interviewer", WavTrack(None))])
        clients.append(again)
        assert await node_of(pool, str(on_c.session_id)) == url_c
        assert proc.poll() is None, "a draining node must keep serving its live session"

        final = await on_c.end()
        assert final["status"] == "ended"
        assert await asyncio.to_thread(proc.wait, 30) == 0
        cluster.stack.procs.pop("c-media-c")
        assert url_c not in await registry(redis)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
