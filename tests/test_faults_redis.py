"""Redis faults, from outside, on a stack of its own: Redis SIGKILLed mid-session and started again
on the same port with its data; Redis losing its data; the stt backlog over its byte cap.

What a user cares about: the call stays up, every utterance spoken during the outage gets its
caption (stored and live), none twice; caption numbers never collide with stored ones; /health of
every part says 503 while Redis is away and 200 once it is back; no part dies.

The module starts its own ``redis-server`` (the other tests' Redis is never killed) and its own
four parts; PostgreSQL is the shared one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from conftest import Infra, Part, Stack, stack_env, start_stack, until
from test_cluster import captions_per_utterance, finals, new_client

from interview_room import bus, registry
from interview_room.embedded import EmbeddedRedis
from interview_room.messages import Caption, Segment
from interview_room.metrics import SEGMENTS_SHED
from loadtests.client import FIXTURES, RoomClient, WavTrack
from media_server.publisher import SegmentPublisher

SCRIPT = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav", "q_url_shortener.wav", "q_weakness.wav"]
OUTAGE_S = 6.0


@dataclass
class Faults:
    stack: Stack
    redis: EmbeddedRedis
    health: dict[str, str]  # part -> its /health URL

    def kill_redis(self) -> None:
        assert self.redis.proc is not None
        self.redis.proc.send_signal(signal.SIGKILL)
        self.redis.proc.wait(10)

    def start_redis(self) -> None:
        url = self.redis.start()  # same folder: same port file, same AOF
        assert url == self.stack.env["REDIS_URL"]


@pytest.fixture(scope="module")
def faults(infra: Infra) -> Iterator[Faults]:
    rd = EmbeddedRedis(infra.data_dir / "redis-faults")
    redis_url = rd.start()
    env = stack_env(infra, REDIS_URL=redis_url, STT_THREADS="1", STT_CLAIM_IDLE_MS="3000")
    try:
        parts = [Part(part, f"fr-{part}") for part in ("signaling", "media", "stt", "llm")]
        with start_stack(infra, env, *parts, timeout=180) as s:
            yield Faults(s, rd, {p.name: f"{s.url_of(p.name)}/health" for p in parts})
    finally:
        rd.stop()


@pytest_asyncio.fixture
async def r(faults: Faults) -> AsyncIterator[aioredis.Redis]:
    conn = bus.connect(faults.stack.env["REDIS_URL"])
    yield conn
    await conn.aclose()


async def health_status(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return resp.status, await resp.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError) as e:
        return 0, repr(e)


def alive(faults: Faults) -> dict[str, int | None]:
    return {name: p.poll() for name, p in faults.stack.procs.items()}


async def test_a_redis_outage_mid_session_loses_no_caption_and_health_tells_the_truth(
    faults: Faults, pool: asyncpg.Pool
) -> None:
    base = faults.stack.base_url
    c = await new_client(base)
    try:
        s = await c.create_session(title="redis outage", mode="assistant", listen_language="en")
        track = WavTrack([FIXTURES / f for f in SCRIPT], gap=2.0)
        await c.connect(s["id"], [("interviewer", track)])
        assert c.pc is not None

        async def first_caption() -> bool:
            return bool(finals(c))

        await until(first_caption, 120, "no first caption before the outage")
        faults.kill_redis()
        seen: dict[str, set[int]] = {name: set() for name in faults.health}
        problems: dict[str, Any] = {}
        async with aiohttp.ClientSession() as http:
            loop = asyncio.get_running_loop()
            end = loop.time() + OUTAGE_S
            while loop.time() < end:
                for name, url in faults.health.items():
                    status, body = await health_status(http, url)
                    seen[name].add(status)
                    if status == 503:
                        problems[name] = body
                await asyncio.sleep(0.3)
            faults.start_redis()
            # every part says what is wrong while Redis is away ...
            for name in faults.health:
                assert 503 in seen[name], f"{name} never answered 503 during the outage: {seen[name]}"
                assert "redis" in problems[name]["problems"], problems[name]

            # ... and is healthy again by itself afterwards (consumer loops reconnected, nothing restarted)
            async def all_healthy() -> bool:
                return all([(await health_status(http, u))[0] == 200 for u in faults.health.values()])

            await until(all_healthy, 60, "not every part is healthy after Redis came back", 0.5)

        await c.wait_played(timeout=120)

        async def all_captions() -> bool:
            return len(finals(c)) >= len(track.utterances)

        await until(all_captions, 180, f"fewer captions than the {len(track.utterances)} utterances", 0.3)
        await asyncio.sleep(5)  # past the claim delay: a doubled caption would have arrived by now
        per_utt = captions_per_utterance(c, track)
        assert per_utt.get(-1, []) == [], f"captions matching no utterance: {per_utt}"
        assert all(len(ids) == 1 for ids in per_utt.values()), per_utt
        ids = [e["id"] for e in finals(c)]
        assert len(ids) == len(set(ids)) == len(track.utterances)
        texts = [e["text"] for e in finals(c)]
        assert len(set(texts)) == len(texts)
        stored = await c.get_session()
        assert [t["id"] for t in stored["transcript"]] == ids
        # the call stayed up, no part died, and the outage really held segments back on the node
        assert c.pc.connectionState == "connected"
        assert all(code is None for code in alive(faults).values()), alive(faults)
        assert "holding segments" in faults.stack.log_of("fr-media")
    finally:
        await c.close()


async def test_redis_losing_its_data_does_not_reuse_caption_numbers(
    faults: Faults, r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    base = faults.stack.base_url
    first = await new_client(base)
    clients: list[RoomClient] = [first]
    try:
        s = await first.create_session(title="redis data loss", mode="assistant", listen_language="en")
        sid = s["id"]
        track1 = WavTrack([FIXTURES / f for f in SCRIPT[:2]], gap=2.0)
        await first.connect(sid, [("interviewer", track1)])
        await first.wait_played(timeout=60)

        async def two_stored() -> bool:
            return await pool.fetchval("SELECT count(*) FROM captions WHERE session_id = $1", uuid.UUID(sid)) >= 2

        await until(two_stored, 120, "the first two captions were not stored")
        before = {
            r_["id"]: r_["text"]
            for r_ in await pool.fetch("SELECT id, text FROM captions WHERE session_id = $1", uuid.UUID(sid))
        }
        await first.close()

        # Redis loses everything (a restart without persistence), and the session's node restarts too
        await r.flushall()
        os.kill(faults.stack.procs["fr-media"].pid, signal.SIGKILL)
        faults.stack.procs.pop("fr-media").wait(10)
        faults.stack.start_part("media", "fr-media")
        faults.stack.wait_healthy("fr-media", timeout=120)

        async def registered() -> bool:
            return bool(await registry.entries(r))

        await until(registered, 30, "the restarted media node did not register")

        # the client comes back to the same session and says two more things
        again = await new_client(base, first.token)
        clients.append(again)
        track2 = WavTrack([FIXTURES / f for f in SCRIPT[2:4]], gap=2.0)
        await again.connect(sid, [("interviewer", track2)])
        await again.wait_played(timeout=60)

        async def two_new() -> bool:
            return len(finals(again)) >= 2

        await until(two_new, 180, "the utterances after the data loss were not captioned", 0.3)
        await asyncio.sleep(3)
        rows = await pool.fetch("SELECT id, seq, text FROM captions WHERE session_id = $1 ORDER BY seq", uuid.UUID(sid))
        after = {row["id"]: row["text"] for row in rows}
        assert len(rows) == 4, rows
        assert {k: after[k] for k in before} == before  # the stored captions are untouched
        new_ids = [e["id"] for e in finals(again)]
        assert not set(new_ids) & set(before), "a caption number was reused"
        assert sorted(row["seq"] for row in rows) == [1, 2, 3, 4]
        assert len(new_ids) == len(set(new_ids)) == 2
        # what was said after the data loss is what is stored under the new numbers
        assert all(after[i] == e["text"] for i, e in zip(new_ids, finals(again), strict=True))
        assert not {e["text"] for e in finals(again)} & set(before.values())
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def _seg(session_id: str, seq: int, nbytes: int) -> Segment:
    return Segment(
        session_id=session_id, role="candidate", seq=seq, t0=0.0, t1=1.0, pcm=b"\1" * nbytes, lang="en",
        end_wall=0.0, speech_end=1.0, final=True,
    )  # fmt: skip


async def test_stt_backlog_is_capped_in_bytes_shedding_the_oldest_waiting(faults: Faults) -> None:
    r = bus.connect(faults.stack.env["REDIS_URL"].rsplit("/", 1)[0] + "/3")  # apart from the stack's streams
    try:
        await r.flushdb()
        await bus.ensure_group(r, bus.STT_SEGMENTS, bus.STT_GROUP)
        shed: list[tuple[str, str, int]] = []
        pub = SegmentPublisher(r, buffer_bytes=10_000, backlog_bytes=1000, on_shed=lambda *a: shed.append(a))
        before = SEGMENTS_SHED.labels(reason="backlog_full")._value.get()
        for i in range(1, 3):
            assert await pub.publish(_seg("a", i, 400))
        # a worker takes the oldest: delivered entries are never shed
        got = await r.xreadgroup(bus.STT_GROUP, "w", {bus.STT_SEGMENTS: ">"}, count=1)
        taken = got[0][1][0][0]
        assert await pub.publish(_seg("b", 3, 400))  # 1200 > 1000: the oldest *waiting* one (seq 2) goes
        assert shed == [("a", "backlog_full", 400)]
        left = [Segment.from_fields(f).seq for _, f in await r.xrange(bus.STT_SEGMENTS)]
        assert left == [1, 3]
        assert int(await r.get(bus.STT_BACKLOG_BYTES)) == 800
        assert SEGMENTS_SHED.labels(reason="backlog_full")._value.get() == before + 1
        # the worker's ack deletes the entry and takes its bytes off the counter
        consumer = bus.StreamConsumer(r, bus.STT_SEGMENTS, bus.STT_GROUP, "w", lambda *_: asyncio.sleep(0),
                                      delete_acked=True, bytes_key=bus.STT_BACKLOG_BYTES)  # fmt: skip
        await consumer._ack(taken)
        assert int(await r.get(bus.STT_BACKLOG_BYTES)) == 400
        assert [Segment.from_fields(f).seq for _, f in await r.xrange(bus.STT_SEGMENTS)] == [3]
    finally:
        await r.flushdb()
        await r.aclose()


async def test_event_streams_and_idempotency_keys_expire_and_nodes_are_found_without_scan(faults: Faults) -> None:
    r = bus.connect(faults.stack.env["REDIS_URL"].rsplit("/", 1)[0] + "/4")
    try:
        await r.flushdb()
        sid = str(uuid.uuid4())
        cap = Caption(id=f"{sid}:candidate:1", role="candidate", t0=0, t1=1, text="hi", lang="en")
        assert await bus.publish_once(r, sid, f"caption:{cap.id}", cap)
        assert 0 < await r.ttl(f"published:caption:{cap.id}") <= 12 * 3600  # hours, not days
        assert 0 < await r.ttl(bus.events_stream(sid)) <= bus.EVENTS_TTL_S
        await bus.expire_events(r, sid)
        assert 0 < await r.ttl(bus.events_stream(sid)) <= bus.EVENTS_ENDED_TTL_S
        await bus.publish_event(r, sid, cap)  # a late event does not keep an ended session's stream
        assert 0 < await r.ttl(bus.events_stream(sid)) <= bus.EVENTS_ENDED_TTL_S

        await registry.register(r, "n1", '{"url": "http://127.0.0.1:1"}', 5)
        await registry.register(r, "n2", '{"url": "http://127.0.0.1:2"}', 5)
        assert set(await registry.entries(r)) == {"n1", "n2"}
        await r.delete(registry.node_key("n2"))  # its TTL ran out
        assert set(await registry.entries(r)) == {"n1"}
        assert await r.smembers(registry.NODES) == {b"n1"}
        await registry.deregister(r, "n1")
        assert await registry.entries(r) == {}
    finally:
        await r.flushdb()
        await r.aclose()


async def test_a_job_meeting_an_outage_is_retried_until_it_passes_and_a_poison_one_is_dropped(infra: Infra) -> None:
    r = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/6")  # the shared Redis, a database of its own
    stream = f"t:jobs:{uuid.uuid4().hex[:8]}"
    calls: dict[str, int] = {"db_restart": 0, "poison": 0}
    done = asyncio.Event()

    async def handler(_: bytes, fields: dict[bytes, bytes]) -> None:
        kind = fields[b"kind"].decode()
        calls[kind] += 1
        if kind == "poison":
            raise ValueError("a bug")
        if calls[kind] <= 8:  # PostgreSQL restarting: more deliveries than max_deliveries
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        done.set()

    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    consumer = bus.StreamConsumer(
        r, stream, "g", "c1", handler, concurrency=2, claim_idle_ms=200, max_deliveries=3, block_ms=100, sleep=no_wait
    )
    task = asyncio.create_task(consumer.run())
    try:
        await r.xadd(stream, {"kind": "db_restart"})
        await r.xadd(stream, {"kind": "poison"})
        await asyncio.wait_for(done.wait(), 60)

        async def settled() -> bool:
            return (await r.xpending(stream, "g"))["pending"] == 0

        await until(settled, 30, "entries still pending")
        assert calls["db_restart"] == 9  # retried through the outage, handled once it passed
        assert calls["poison"] == 3  # a real failure: dropped after max_deliveries
        assert not task.done() and consumer.health() is None
    finally:
        await consumer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await r.delete(stream)
        await r.aclose()
