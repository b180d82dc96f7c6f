"""The stt worker as its own process on real Redis + Postgres: segment in, caption out, exactly once.

Workers are started as ``python -m interview_room.cli stt`` (what ``interview-room stt`` runs), so
a crash is a real SIGKILL and the claim is the real XAUTOCLAIM of another process.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from conftest import Infra

from interview_room import bus
from interview_room.embedded import free_port
from interview_room.messages import Caption, LlmJob, Segment, parse_event
from interview_room.store.captions import insert_caption, list_captions

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CLAIM_IDLE_MS = 1000

pytestmark = [pytest.mark.timeout(300), pytest.mark.whisper]


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def consumer(self) -> str:
        return f"stt-{socket.gethostname()}-{self.proc.pid}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def start_worker(infra: Infra, name: str, **extra_env: str) -> Worker:
    """Start a worker and wait for /health, which it answers once its default model is loaded."""
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(infra.data_dir),
        "DATABASE_URL": infra.database_url,
        "REDIS_URL": infra.redis_url.rsplit("/", 1)[0] + "/4",
        "HTTP_HOST": "127.0.0.1",
        "STT_METRICS_PORT": str(port),
        "STT_CLAIM_IDLE_MS": str(CLAIM_IDLE_MS),
        "STT_MODEL": "",
        "LOG_LEVEL": "INFO",
        **extra_env,
    }
    log = infra.data_dir / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "interview_room.cli", "stt"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    w = Worker(proc, port, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stt worker exited with {proc.returncode}:\n{w.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return w
        except OSError:
            pass
        time.sleep(0.2)
    w.stop()
    raise TimeoutError(f"stt worker not ready:\n{w.log_text()[-3000:]}")


def pcm_of(name: str) -> bytes:
    with wave.open(str(FIXTURES / name)) as w:
        return w.readframes(w.getnframes())


def segment(
    session_id: str, fixture: str, seq: int, *, role: str = "interviewer", final: bool = True, lang: str = "en"
) -> Segment:
    pcm = pcm_of(fixture)
    t0 = 10.0 * seq
    return Segment(
        session_id=session_id,
        role=role,
        seq=seq,
        t0=t0,
        t1=t0 + len(pcm) / 32000,
        pcm=pcm,
        lang=lang,
        end_wall=time.time(),
        final=final,
    )


async def new_session(pool: asyncpg.Pool) -> str:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    await pool.execute(
        "INSERT INTO users (id, email, name) VALUES ($1, $2, 'Test')", user_id, f"{user_id}@example.test"
    )
    await pool.execute(
        "INSERT INTO sessions (id, user_id, title, listen_language) VALUES ($1, $2, 'stt test', 'en')",
        session_id,
        user_id,
    )
    return str(session_id)


async def captions_on_stream(r: aioredis.Redis, session_id: str) -> list[Caption]:
    entries = await r.xrange(bus.events_stream(session_id))
    events = [parse_event(fields[b"data"]) for _, fields in entries]
    return [e for e in events if isinstance(e, Caption)]


async def llm_jobs_of(r: aioredis.Redis, session_id: str) -> list[LlmJob]:
    jobs = [LlmJob.from_fields(f) for _, f in await r.xrange(bus.LLM_JOBS)]
    return [j for j in jobs if j.session_id == session_id]


async def wait_until(cond: Callable[[], Awaitable[bool]], timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await cond():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(what)


def _sid(entry_id: bytes | str) -> tuple[int, int]:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = raw.partition("-")
    return int(ms), int(seq or 0)


async def handled(r: aioredis.Redis, entry_id: bytes) -> bool:
    """The stt group was given the entry and it is no longer pending (acked)."""
    groups = await r.xinfo_groups(bus.STT_SEGMENTS)
    group = next(g for g in groups if g["name"] in (bus.STT_GROUP, bus.STT_GROUP.encode()))
    if _sid(group["last-delivered-id"]) < _sid(entry_id):
        return False
    return not await r.xpending_range(bus.STT_SEGMENTS, bus.STT_GROUP, min=entry_id, max=entry_id, count=1)


async def add(r: aioredis.Redis, seg: Segment) -> bytes:
    return await r.xadd(bus.STT_SEGMENTS, seg.to_fields())


@pytest_asyncio.fixture
async def r(infra: Infra) -> AsyncIterator[aioredis.Redis]:
    client = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/4")
    await bus.ensure_group(client, bus.STT_SEGMENTS, bus.STT_GROUP)
    yield client
    await client.aclose()


@pytest.fixture(scope="class")
def worker(infra: Infra) -> Iterator[Worker]:
    w = start_worker(infra, "stt-one")
    yield w
    assert w.stop() == 0, w.log_text()[-3000:]


class TestOneWorker:
    async def test_segment_becomes_a_stored_published_caption_and_an_llm_job(
        self, worker: Worker, r: aioredis.Redis, pool: asyncpg.Pool
    ) -> None:
        sid = await new_session(pool)
        seg = segment(sid, "q_why_company.wav", 1)
        await add(r, seg)

        async def arrived() -> bool:
            return bool(await captions_on_stream(r, sid))

        await wait_until(arrived, what="caption on the events stream")
        [cap] = await captions_on_stream(r, sid)
        assert cap.id == seg.id == f"{sid}:interviewer:1"
        assert cap.final is True and cap.role == "interviewer" and cap.lang == "en"
        assert (cap.t0, cap.t1) == (seg.t0, seg.t1)
        assert "company" in cap.text.lower() and "work" in cap.text.lower()

        assert await list_captions(pool, sid) == [cap]

        await wait_until(lambda: _nonempty(llm_jobs_of(r, sid)), timeout=10, what="llm job")
        [job] = await llm_jobs_of(r, sid)
        assert job.kind == "caption"
        assert job.payload["type"] == "caption" and job.payload["id"] == cap.id and job.payload["text"] == cap.text

    def test_health_and_metrics(self, worker: Worker) -> None:
        base = f"http://127.0.0.1:{worker.port}"
        with urllib.request.urlopen(f"{base}/health", timeout=5) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        for name in ("ir_captions_total", "ir_caption_latency_seconds_bucket", "ir_stt_seconds_count"):
            assert name in text
        assert 'ir_stream_lag{stream="stt:segments"}' in text and 'ir_stream_lag{stream="llm:jobs"}' in text

    async def test_noise_and_missing_sessions_give_no_caption(
        self, worker: Worker, r: aioredis.Redis, pool: asyncpg.Pool
    ) -> None:
        sid = await new_session(pool)
        gone = await new_session(pool)
        await pool.execute("DELETE FROM sessions WHERE id = $1", gone)
        noise = segment(sid, "noise_typing_hum.wav", 1)
        speech = segment(sid, "alsa_front_left.wav", 2)
        ids = [
            await add(r, noise),
            await add(r, segment(gone, "q_hash_map.wav", 1)),
            await add(r, segment(str(uuid.uuid4()), "q_hash_map.wav", 1)),
            await add(r, segment("not-a-session", "q_hash_map.wav", 1)),
            await add(r, speech),
        ]

        async def all_handled() -> bool:
            return all([await handled(r, i) for i in ids])

        await wait_until(all_handled, what="every segment acked")
        assert [c.id for c in await captions_on_stream(r, sid)] == [speech.id]
        assert [c.id for c in await list_captions(pool, sid)] == [speech.id]
        assert await captions_on_stream(r, gone) == []
        assert await pool.fetchval("SELECT count(*) FROM captions WHERE session_id = $1", gone) == 0
        assert [j.payload["id"] for j in await llm_jobs_of(r, sid)] == [speech.id]

    async def test_final_with_the_audio_of_an_early_partial_reuses_its_transcript(
        self, worker: Worker, r: aioredis.Redis, pool: asyncpg.Pool
    ) -> None:
        """Speculative decoding: the segmenter sends the utterance as a partial once the silence
        covers the tail; the final with the same audio is published without a second Whisper call."""

        def whisper_calls() -> float:
            with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
            return sum(float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith("ir_stt_seconds_count"))

        sid = await new_session(pool)
        early = segment(sid, "q_why_company.wav", 1, final=False)
        early.speech_end = early.t1 - 0.05
        before = whisper_calls()
        await add(r, early)

        async def partial_shown() -> bool:
            return bool(await captions_on_stream(r, sid))

        await wait_until(partial_shown, what="early partial caption")
        # the final: same start and last voiced frame, 100 ms more trailing silence
        final = segment(sid, "q_why_company.wav", 1)
        final.pcm += bytes(3200)
        final.t1 = early.t1 + 0.1
        final.speech_end = early.speech_end
        await add(r, final)

        async def final_shown() -> bool:
            return any(c.final for c in await captions_on_stream(r, sid))

        await wait_until(final_shown, what="final caption")
        caps = await captions_on_stream(r, sid)
        assert [c.final for c in caps] == [False, True] and caps[0].text == caps[1].text
        assert whisper_calls() - before == 1

    async def test_partial_is_shown_but_not_stored_and_the_final_closes_it(
        self, worker: Worker, r: aioredis.Redis, pool: asyncpg.Pool
    ) -> None:
        sid = await new_session(pool)
        partial = segment(sid, "q_hash_map.wav", 1, role="candidate", final=False)
        await add(r, partial)

        async def partial_arrived() -> bool:
            return bool(await captions_on_stream(r, sid))

        await wait_until(partial_arrived, what="partial caption")
        [p] = await captions_on_stream(r, sid)
        assert p.final is False and p.id == partial.id and "hash" in p.text.lower()
        assert await list_captions(pool, sid) == []
        assert await llm_jobs_of(r, sid) == []

        final = segment(sid, "q_hash_map.wav", 1, role="candidate")
        await add(r, final)

        async def final_arrived() -> bool:
            return len(await captions_on_stream(r, sid)) == 2

        await wait_until(final_arrived, what="final caption")
        caps = await captions_on_stream(r, sid)
        assert [(c.id, c.final) for c in caps] == [(final.id, False), (final.id, True)]
        assert await list_captions(pool, sid) == [caps[1]]

        late = segment(sid, "q_hash_map.wav", 1, role="candidate", final=False)  # after the final: ignored
        entry = await add(r, late)
        await wait_until(lambda: handled(r, entry), what="late partial acked")
        assert len(await captions_on_stream(r, sid)) == 2

    async def test_auto_language_loads_the_multilingual_model_on_demand(
        self, worker: Worker, r: aioredis.Redis, pool: asyncpg.Pool
    ) -> None:
        sid = await new_session(pool)
        seg = segment(sid, "jfk.wav", 1, role="candidate", lang="auto")
        entry = await add(r, seg)
        await wait_until(lambda: handled(r, entry), what="auto-language segment acked")
        [cap] = await captions_on_stream(r, sid)
        assert cap.lang == "en" and "country" in cap.text.lower()

    async def test_a_caption_stored_before_a_crash_is_published_as_stored(
        self, worker: Worker, r: aioredis.Redis, pool: asyncpg.Pool
    ) -> None:
        """A worker died after the INSERT but before publishing: the next one publishes the stored text."""
        sid = await new_session(pool)
        seg = segment(sid, "q_url_shortener.wav", 3)
        stored = Caption(id=seg.id, role=seg.role, t0=seg.t0, t1=seg.t1, text="stored before the crash", lang="en")
        assert await insert_caption(pool, stored, sid, seg.seq) is True
        assert await insert_caption(pool, stored, sid, seg.seq) is False
        entry = await add(r, seg)
        await wait_until(lambda: handled(r, entry), what="segment acked")
        assert [c.text for c in await captions_on_stream(r, sid)] == ["stored before the crash"]
        assert [j.payload["text"] for j in await llm_jobs_of(r, sid)] == ["stored before the crash"]


async def _nonempty(coro: Awaitable[list[LlmJob]]) -> bool:
    return bool(await coro)


async def test_a_killed_workers_segment_is_claimed_and_captioned_exactly_once(
    infra: Infra, r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    dead = start_worker(infra, "stt-dead")
    dead.proc.send_signal(signal.SIGKILL)
    assert dead.proc.wait(10) == -signal.SIGKILL

    sid = await new_session(pool)
    seg = segment(sid, "c_billing_migration.wav", 7, role="candidate")
    # The dead worker had read the segment (it is in its pending list) and never acked it.
    # XADD + XREADGROUP in one transaction, so no live worker can take the entry in between.
    async with r.pipeline(transaction=True) as p:
        p.xadd(bus.STT_SEGMENTS, seg.to_fields())
        p.xreadgroup(bus.STT_GROUP, dead.consumer, {bus.STT_SEGMENTS: ">"}, count=1)
        entry_id, delivered = await p.execute()
    assert delivered[0][1][0][0] == entry_id
    [pending] = await r.xpending_range(bus.STT_SEGMENTS, bus.STT_GROUP, min=entry_id, max=entry_id, count=1)
    assert pending["consumer"].decode() == dead.consumer

    survivor = start_worker(infra, "stt-survivor")
    try:
        await wait_until(lambda: handled(r, entry_id), what="dead worker's segment claimed and acked")

        # a duplicate entry for the same utterance (a media node retrying its XADD) changes nothing
        again = await add(r, segment(sid, "c_billing_migration.wav", 7, role="candidate"))
        await wait_until(lambda: handled(r, again), what="duplicate acked")

        caps = await captions_on_stream(r, sid)
        assert [c.id for c in caps] == [seg.id]
        assert "migration" in caps[0].text.lower()
        assert await pool.fetchval("SELECT count(*) FROM captions WHERE id = $1", seg.id) == 1
        assert [j.payload["id"] for j in await llm_jobs_of(r, sid)] == [seg.id]
    finally:
        assert survivor.stop() == 0, survivor.log_text()[-3000:]


def test_a_worker_without_its_model_exits_with_a_clear_error(infra: Infra) -> None:
    with pytest.raises(RuntimeError, match="not available offline") as e:
        start_worker(infra, "stt-nomodel", STT_MODEL="no-such-whisper-model")
    assert "exited with 2" in str(e.value)


async def test_sigterm_finishes_the_segment_in_hand(infra: Infra, r: aioredis.Redis, pool: asyncpg.Pool) -> None:
    w = start_worker(infra, "stt-term")
    sid = await new_session(pool)
    entry = await add(r, segment(sid, "jfk.wav", 1))

    async def in_hand() -> bool:
        return bool(await r.xpending_range(bus.STT_SEGMENTS, bus.STT_GROUP, min=entry, max=entry, count=1)) or (
            await handled(r, entry)
        )

    await wait_until(in_hand, what="segment read")
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(60) == 0, w.log_text()[-3000:]
    assert await handled(r, entry)
    assert [c.id for c in await captions_on_stream(r, sid)] == [f"{sid}:interviewer:1"]


def _log_events(w: Worker) -> list[str]:
    """The worker's start-up and model-loading lines, in order, as short tags."""
    out = []
    for ln in w.log_text().splitlines():
        if m := re.search(r"loading whisper model name=(\S+)", ln):
            out.append(f"load {m.group(1)}")
        elif m := re.search(r"models ready models=(\S+)", ln):
            out.append(f"ready models={m.group(1)}")
        elif "stt worker ready" in ln:
            out.append("serving")
    return out


async def test_stt_preload_loads_the_named_languages_before_ready(
    infra: Infra, r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    """STT_PRELOAD=en,es: tiny.en and multilingual base load before /health answers; a caption needs no load."""
    w = start_worker(infra, "stt-preload-en-es", STT_PRELOAD="en,es")
    try:
        assert _log_events(w) == ["load tiny.en", "load base", "ready models=tiny.en,base", "serving"]
        sid = await new_session(pool)
        await add(r, segment(sid, "q_why_company.wav", 1))
        await wait_until(lambda: _nonempty(captions_on_stream(r, sid)), what="caption")
        assert _log_events(w) == ["load tiny.en", "load base", "ready models=tiny.en,base", "serving"]
    finally:
        assert w.stop() == 0, w.log_text()[-3000:]


async def test_stt_preload_none_is_ready_at_once_and_loads_on_first_segment(
    infra: Infra, r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    w = start_worker(infra, "stt-preload-none", STT_PRELOAD="none")
    try:
        assert _log_events(w) == ["ready models=-", "serving"]  # /health answered with no model loaded
        sid = await new_session(pool)
        await add(r, segment(sid, "q_why_company.wav", 1))
        await wait_until(lambda: _nonempty(captions_on_stream(r, sid)), what="caption")
        [cap] = await captions_on_stream(r, sid)
        assert "company" in cap.text.lower()
        assert _log_events(w) == ["ready models=-", "serving", "load tiny.en"]  # loaded lazily, once
    finally:
        assert w.stop() == 0, w.log_text()[-3000:]
