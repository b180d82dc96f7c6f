"""The stt worker's partial captions and session hints, with a fake (slow, scripted) transcriber on
real Redis + PostgreSQL: what is decoded, in which order, and what reaches the session's events.

The real Whisper runs of the same paths are in tests/test_stt_worker.py (``TestPartialsAndHints``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from conftest import Infra, until

from ai_sidecar.context_window import DecodeItem
from ai_sidecar.stt_worker import SttWorker
from ai_sidecar.transcriber import Transcript
from interview_room import bus
from interview_room.config import Config
from interview_room.messages import Caption, Segment, parse_event

pytestmark = pytest.mark.timeout(120)

WORDS = "can you tell me about a time you had a conflict with a coworker and how you resolved it".split()
SECOND = 32000  # bytes of 16 kHz s16 PCM


class ScriptedTranscriber:
    """Two words per second of audio, the last one garbled (a word cut in half); slow like Whisper.
    ``echo``: with hotwords, it writes the prompt's names instead (what a copied prompt looks like)."""

    def __init__(self, delay: float = 0.2, echo: bool = False, reported: float | None = None) -> None:
        self.calls: list[tuple[float, str | None]] = []  # (seconds of audio, prompt)
        self.prefixes: list[str | None] = []
        self.delay = delay
        self.echo = echo
        self.reported = delay if reported is None else reported  # the Whisper seconds the result says

    def transcribe(
        self, pcm: bytes, lang: str = "en", prompt: str | None = None, prefix: str | None = None
    ) -> Transcript:
        seconds = len(pcm) / SECOND
        self.calls.append((seconds, prompt))
        self.prefixes.append(prefix)
        time.sleep(self.delay)
        n = min(len(WORDS), int(seconds * 2))
        text = " ".join(WORDS[: n - 1] + [WORDS[n - 1][:2] + "zz"]) if n else ""
        if self.echo and prompt:
            text = prompt.removeprefix("Glossary: ")
        return Transcript(text, lang, 0.01, -0.2, 1.2, seconds, seconds * 1000, -20.0, self.reported, "fake")


    def transcribe_batch(self, items: list[DecodeItem]) -> list[Transcript]:
        """The worker's path (its batcher): each item as ``transcribe`` would see it."""
        return [self.transcribe(it.pcm, it.lang, it.hints or None, it.prefix or None) for it in items]


def seg(session_id: str, seconds: float, *, final: bool, seq: int = 1, t0: float = 5.0) -> Segment:
    t1 = t0 + seconds
    return Segment(
        session_id=session_id, role="candidate", seq=seq, t0=t0, t1=t1, pcm=bytes(int(seconds * SECOND)),
        end_wall=time.time(), speech_end=t1 if not final else t1 - 0.2, final=final,
    )  # fmt: skip


@pytest_asyncio.fixture
async def r(infra: Infra) -> AsyncIterator[aioredis.Redis]:
    client = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/13")
    await client.flushdb()
    await bus.ensure_group(client, bus.STT_SEGMENTS, bus.STT_GROUP)
    yield client
    await client.flushdb()
    await client.aclose()


async def new_session(pool: asyncpg.Pool, hints: str = "") -> str:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    await pool.execute("INSERT INTO users (id, email, name) VALUES ($1, $2, 'T')", user_id, f"{user_id}@example.test")
    await pool.execute(
        "INSERT INTO sessions (id, user_id, title, listen_language, hints) VALUES ($1, $2, 'p', 'en', $3)",
        session_id, user_id, hints,
    )  # fmt: skip
    return str(session_id)


async def captions(r: aioredis.Redis, sid: str) -> list[Caption]:
    events = [parse_event(f[b"data"]) for _, f in await r.xrange(bus.events_stream(sid))]
    return [e for e in events if isinstance(e, Caption)]


class Running:
    def __init__(self, r: aioredis.Redis, pool: asyncpg.Pool, transcriber: ScriptedTranscriber) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.worker = SttWorker(Config(), pool, r, transcriber, self.executor)  # type: ignore[arg-type]
        self.consumer = bus.StreamConsumer(
            r, bus.STT_SEGMENTS, bus.STT_GROUP, "stt-test", self.worker.handle, delete_acked=True, block_ms=100
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.consumer.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.executor.shutdown()


async def acked(r: aioredis.Redis) -> bool:
    """Every entry handled (acked entries are deleted)."""
    return await r.xlen(bus.STT_SEGMENTS) == 0


async def test_queued_partials_are_dropped_and_the_final_is_decoded_first(
    r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    """Under load the partials go first: everything queued before the final is skipped unread, so
    the final waits for no partial; a partial with nothing behind it is still decoded."""
    sid, other = await new_session(pool), await new_session(pool)
    for s in (1.0, 1.5, 2.0, 2.5, 3.0):
        await r.xadd(bus.STT_SEGMENTS, seg(sid, s, final=False).to_fields())
    await r.xadd(bus.STT_SEGMENTS, seg(other, 1.0, final=False).to_fields())
    await r.xadd(bus.STT_SEGMENTS, seg(sid, 3.5, final=True).to_fields())
    await r.xadd(bus.STT_SEGMENTS, seg(other, 2.0, final=False).to_fields())  # last in the queue
    fake = ScriptedTranscriber()
    async with Running(r, pool, fake):
        await until(lambda: acked(r), 60, "queue drained")
    assert [c for c, _ in fake.calls] == [3.5, 2.0]  # the final, then the partial nothing waited behind
    [final] = await captions(r, sid)
    assert final.final is True and final.text.startswith("can you tell me")


async def test_partials_show_the_agreed_prefix_which_only_grows_and_the_final_replaces_it(
    r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    sid = await new_session(pool)
    fake = ScriptedTranscriber(delay=0.0)
    async with Running(r, pool, fake):
        for s in (1.0, 1.5, 2.0, 2.5, 3.0, 3.5):
            await r.xadd(bus.STT_SEGMENTS, seg(sid, s, final=False).to_fields())
            await until(lambda: acked(r), 30, "partial handled")
        await r.xadd(bus.STT_SEGMENTS, seg(sid, 4.0, final=True).to_fields())
        await until(lambda: acked(r), 30, "final handled")
    caps = await captions(r, sid)
    partials, final = caps[:-1], caps[-1]
    assert final.final is True and all(not c.final for c in partials)
    assert {c.id for c in caps} == {final.id}  # one caption, replaced in place
    texts = [c.text for c in partials]
    assert texts[0] == "can"  # decodes of 1.0 s ("caz") and 1.5 s ("can yozz") agree on "can"
    assert "zz" not in " ".join(texts)  # a garbled last word is never shown
    for a, b in zip(texts, texts[1:], strict=False):
        assert b.startswith(a) and len(b) > len(a)
    assert all(final.text.startswith(t) for t in texts)
    # each partial decode continues the words shown before it; the final is decoded free
    assert len(texts) == 5 and fake.prefixes == [None, None, *texts[:-1], None]


async def test_hints_reach_the_decoder_and_a_copied_prompt_is_decoded_again_without(
    r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    plain = await new_session(pool)
    hinted = await new_session(pool, "Company: Zentrovix. Stack: Kafkette, Flinkwise.")
    fake = ScriptedTranscriber(delay=0.0, echo=True)
    async with Running(r, pool, fake):
        await r.xadd(bus.STT_SEGMENTS, seg(plain, 2.0, final=True).to_fields())
        await r.xadd(bus.STT_SEGMENTS, seg(hinted, 2.0, final=True).to_fields())
        await until(lambda: acked(r), 30, "finals handled")
    assert [h for _, h in fake.calls] == [None, "Glossary: Zentrovix, Kafkette, Flinkwise.", None]
    [cap] = await captions(r, hinted)
    assert cap.text == "can you tell mezz"  # the decode without hints, not the copied names


async def test_over_the_backlog_cap_partials_go_first_and_never_displace_a_final(r: aioredis.Redis) -> None:
    """The media node's XADD: a partial that does not fit is not added (nothing is shed for it), and a
    final that does not fit sheds the waiting partials before any waiting final, with no notice."""
    from media_server.publisher import SegmentPublisher

    def mk(seq: int, nbytes: int, final: bool) -> Segment:
        return Segment(session_id="s", role="candidate", seq=seq, t0=0.0, t1=1.0, pcm=b"\1" * nbytes, final=final)

    shed: list[tuple[str, str, int]] = []
    pub = SegmentPublisher(r, buffer_bytes=10_000, backlog_bytes=1000, on_shed=lambda *a: shed.append(a))
    assert await pub.publish(mk(1, 300, True))
    assert await pub.publish(mk(2, 200, False))
    assert await pub.publish(mk(2, 300, False))
    assert not await pub.publish(mk(2, 400, False))  # 1200 > 1000: the partial is dropped, not a final
    assert shed == []
    assert [(s.seq, s.final) for s in [Segment.from_fields(f) for _, f in await r.xrange(bus.STT_SEGMENTS)]] == [
        (1, True), (2, False), (2, False),
    ]  # fmt: skip
    assert await pub.publish(mk(2, 450, True))  # the final: the two waiting partials make room, seq 1 stays
    assert shed == []
    left = [Segment.from_fields(f) for _, f in await r.xrange(bus.STT_SEGMENTS)]
    assert [(s.seq, s.final) for s in left] == [(1, True), (2, True)]
    assert int(await r.get(bus.STT_BACKLOG_BYTES)) == 750
    assert await pub.publish(mk(3, 400, True))  # over again, no partial waits: the oldest final goes, as before
    assert shed == [("s", "backlog_full", 300)]


async def test_after_a_partial_the_worker_rests_so_partials_never_take_all_of_it(
    r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    """A partial's call of 1 s: partials arriving in the next 0.67 s (clock injected) are skipped even with
    nothing queued, so a final arriving then finds the worker free; later partials are decoded again."""
    sid = await new_session(pool)
    fake = ScriptedTranscriber(delay=0.0, reported=1.0)
    now = [100.0]
    async with Running(r, pool, fake) as run:
        run.worker.clock = lambda: now[0]
        for at, seconds in ((100.0, 1.0), (100.5, 1.5), (100.7, 2.0)):
            now[0] = at
            await r.xadd(bus.STT_SEGMENTS, seg(sid, seconds, final=False).to_fields())
            await until(lambda: acked(r), 30, "partial handled")
    assert [c for c, _ in fake.calls] == [1.0, 2.0]


async def test_partials_of_one_utterance_handled_at_once_never_take_back_shown_words(
    r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    """The consumer hands the worker several segments at once (they are decoded in one batch): the
    partials of one utterance still update its shown words one after the other, so none is lost."""
    sid = await new_session(pool)
    fake = ScriptedTranscriber(delay=0.05, reported=0.0)
    async with Running(r, pool, fake) as run:
        await asyncio.gather(*(run.worker.partial(seg(sid, s, final=False)) for s in (1.0, 1.5, 2.0, 2.5, 3.0, 3.5)))
    texts = [c.text for c in await captions(r, sid)]
    assert len(texts) >= 2, texts  # without the lock: none (every partial read the same empty state)
    for a, b in zip(texts, texts[1:], strict=False):
        assert b.startswith(a) and len(b) > len(a), texts
