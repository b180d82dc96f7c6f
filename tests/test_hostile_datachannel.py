"""Hostile data-channel use on the real stack (signaling, media, stt, llm as processes; real WebRTC
over loopback): an ask flood is cut to a handful and told ``rate_limited`` while another session is
served; a regional listening language is adopted as its language and captions go on; an unknown
one is an ``invalid_settings`` error that changes nothing; an oversized message is refused and the
connection stays up. Plus the llm worker's own per-session cap, in-process on real Redis/Postgres.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from conftest import verified_client

from ai_sidecar.llm.offline import OfflineProvider
from ai_sidecar.llm_worker import LlmWorker
from interview_room import bus
from interview_room.messages import LlmJob, parse_event
from loadtests.client import FIXTURES, RoomClient, WavTrack
from tests.test_llm_worker import Harness, done_count, has, new_session

AI_TIMEOUT = 90.0
BURST = 8  # CLIENT_MSG_BURST default
RATE = 1.0  # CLIENT_MSG_RATE default


async def _user(stack: Any, name: str) -> RoomClient:
    """A new account, marked verified in the database as entering the e-mailed code does."""
    url = stack.infra.database_url
    return await verified_client(stack.base_url, name, "correct horse battery", name, database_url=url)


def _count(c: RoomClient, kind: str, **match: Any) -> int:
    return sum(1 for e in c.received if e.get("type") == kind and all(e.get(k) == v for k, v in match.items()))


async def _quiet(c: RoomClient, kind: str, quiet: float = 4.0, timeout: float = 120.0) -> None:
    """Until no new ``kind`` event arrived for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    n, since = _count(c, kind), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        m = _count(c, kind)
        if m != n:
            n, since = m, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


async def test_ask_flood_is_cut_and_another_session_is_served(stack: Any) -> None:
    a = await _user(stack, "flood")
    b = await _user(stack, "victim")
    try:
        sa = await a.create_session(title="flood", mode="assistant")
        await a.connect(sa["id"], [("interviewer", None)])
        sb = await b.create_session(title="victim", mode="assistant")
        track = WavTrack(None)
        await b.connect(sb["id"], [("interviewer", track)])

        t0 = time.monotonic()
        for i in range(300):  # 300 asks in about a second
            await a.send({"type": "ask", "text": f"Flood question number {i}: what is a hash map?"})
            await asyncio.sleep(1 / 300)
        sent_in = time.monotonic() - t0
        track.enqueue(FIXTURES / "q_process_thread.wav", gap=0.2)

        notice = await a.wait_for(lambda e: e["type"] == "notice" and e.get("code") == "rate_limited", 30)
        assert notice["level"] == "warning"
        q = await b.wait_for(lambda e: e["type"] == "question", AI_TIMEOUT)
        assert "process" in q["text"].lower()
        await b.wait_for(lambda e: e["type"] == "answer.done" and e["question_id"] == q["id"], AI_TIMEOUT)

        await _quiet(a, "answer.done")
        answered = _count(a, "answer.done")
        allowed = BURST + math.ceil(RATE * sent_in) + 1
        assert 1 <= answered <= allowed, (answered, allowed, sent_in)
        assert _count(a, "question") == answered
        # one notice per few seconds, not one per dropped ask
        assert _count(a, "notice", code="rate_limited") <= math.ceil(sent_in / 5.0) + 1
        assert _count(b, "notice", code="rate_limited") == 0
        detail = await a.get_session()
        assert len([x for x in detail["questions"] if x["source"] == "typed"]) == answered
    finally:
        await a.close()
        await b.close()


async def test_regional_language_is_adopted_and_unknown_changes_nothing(stack: Any, r: aioredis.Redis) -> None:
    c = await _user(stack, "lang")
    try:
        s = await c.create_session(title="lang", mode="assistant", listen_language="en", answer_language="en")
        track = WavTrack(None)
        await c.connect(s["id"], [("interviewer", track)])

        await c.send({"type": "settings", "listen_language": "en-US"})
        settings_key = f"llm:settings:{s['id']}"

        async def stored() -> dict[str, Any] | None:
            raw = await r.get(settings_key)
            return json.loads(raw) if raw else None

        deadline = time.monotonic() + 30
        while (await stored()) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert (await stored()) == {"listen_language": "en", "answer_language": "en", "translate": False}

        track.enqueue(FIXTURES / "q_why_company.wav", gap=0.2)
        cap = await c.wait_for(lambda e: e["type"] == "caption" and e.get("final"), AI_TIMEOUT)
        assert cap["lang"] == "en" and "company" in cap["text"].lower()

        await c.send({"type": "settings", "listen_language": "xx-nonsense", "answer_language": "de"})
        err = await c.wait_for(lambda e: e["type"] == "error", 30)
        assert err["code"] == "invalid_settings" and "listen_language" in err["message"]

        track.enqueue(FIXTURES / "q_hash_map.wav", gap=0.2)
        cap2 = await c.wait_for(lambda e: e["type"] == "caption" and e.get("final") and e["id"] != cap["id"], AI_TIMEOUT)
        assert cap2["lang"] == "en" and "hash" in cap2["text"].lower()
        # nothing changed on the llm worker either (answer_language stays en), and one error only
        assert (await stored()) == {"listen_language": "en", "answer_language": "en", "translate": False}
        assert [e["code"] for e in c.received if e["type"] == "error"] == ["invalid_settings"]
    finally:
        await c.close()


async def test_oversized_message_is_refused_and_the_connection_stays_up(stack: Any) -> None:
    c = await _user(stack, "big")
    try:
        s = await c.create_session(title="big", mode="assistant")
        await c.connect(s["id"], [("interviewer", None)])
        await c.send({"type": "ask", "text": "x" * 20_000})
        err = await c.wait_for(lambda e: e["type"] == "error", 30)
        assert err["code"] == "message_too_large"
        await c.send({"type": "ping", "id": "still-there"})
        pong = await c.wait_for(lambda e: e["type"] == "pong", 30)
        assert pong["id"] == "still-there"
        await c.send({"type": "ask", "text": "How does a hash map handle collisions?"})
        q = await c.wait_for(lambda e: e["type"] == "question", AI_TIMEOUT)
        await c.wait_for(lambda e: e["type"] == "answer.done" and e["question_id"] == q["id"], AI_TIMEOUT)
        assert not any(e["type"] == "question" and e["text"].startswith("xxx") for e in c.received)
    finally:
        await c.close()


async def test_llm_worker_caps_one_sessions_asks(infra: Any, r: aioredis.Redis, pool: asyncpg.Pool) -> None:
    """300 asks straight into the worker (as from a node without limits): the session keeps at most
    LLM_SESSION_JOBS of them in the worker, the rest are acked unanswered with one notice, and
    another session's spoken question is answered."""
    flood, other = await new_session(pool), await new_session(pool)
    stream = f"llm:jobs:test:{uuid.uuid4().hex[:8]}"
    # one read takes all 300 (as a worker with free slots does), so the cap alone decides what runs;
    # a pool as large as those slots, as the worker's own (llm_worker.run)
    wr = aioredis.from_url(infra.redis_url, decode_responses=False, max_connections=600)
    worker = LlmWorker(r=wr, pool=pool, provider=OfflineProvider(), question_pause_s=0.4, session_jobs=4)
    consumer = bus.StreamConsumer(wr, stream, bus.LLM_GROUP, "test-llm", worker.handle, concurrency=512, block_ms=100)
    h = Harness(r, pool, stream)
    async with r.pipeline(transaction=False) as p:
        for i in range(300):
            p.xadd(stream, LlmJob("ask", flood, {"type": "ask", "text": f"What is a hash map? ({i})"}).to_fields())
        await p.execute()
    task = asyncio.create_task(consumer.run())
    try:
        await h.caption(other, "interviewer", "What is the difference between a process and a thread?")
        await h.events(other, done_count(), timeout=60)
        evs = await h.events(flood, lambda evs: done_count(4)(evs) and has("notice", code="rate_limited")(evs))
        await asyncio.sleep(2.0)
        evs = [parse_event(f[b"data"]) for _, f in await r.xrange(bus.events_stream(flood))]
        assert [e.type for e in evs].count("answer.done") == 4
        assert [getattr(e, "code", None) for e in evs].count("rate_limited") == 1
        assert worker.dropped_asks == 296
        assert worker.in_flight == {}
    finally:
        await asyncio.wait_for(consumer.stop(), 10)
        await asyncio.wait_for(task, 10)
        await worker.close()
        await wr.aclose()
