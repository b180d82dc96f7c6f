"""Partial captions and session hints through a real stt worker process with real Whisper.

A long utterance (tests/fixtures/c_rare_names.wav, 14 s) is sent as the segmenter sends it while
someone speaks: a growing partial every 0.7 s, then the final. The same fixture, full of invented
names, checks that the session's hints reach the decoder (and that a hint nobody said stays out).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import asyncpg
import pytest
import redis.asyncio as aioredis
from conftest import Infra
from test_stt_worker import FIXTURES, Worker, add, captions_on_stream, handled, pcm_of, r, start_worker, wait_until

from ai_sidecar.stable_prefix import is_prefix, split_words
from interview_room.messages import Segment

__all__ = ["r"]  # the Redis fixture, shared with test_stt_worker

pytestmark = [pytest.mark.timeout(600), pytest.mark.whisper]

REF = json.loads((FIXTURES / "references.json").read_text())["c_rare_names.wav"]
ABSENT = REF["absent_hint"]


@pytest.fixture(scope="module")
def worker(infra: Infra) -> Iterator[Worker]:
    w = start_worker(
        infra, "stt-partials", STT_PARTIAL_REST="0"
    )  # every partial decoded: the agreement, not the pacing
    yield w
    assert w.stop() == 0, w.log_text()[-3000:]


async def session_with(pool: asyncpg.Pool, hints: str) -> str:
    import uuid

    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    await pool.execute("INSERT INTO users (id, email, name) VALUES ($1, $2, 'T')", user_id, f"{user_id}@example.test")
    await pool.execute(
        "INSERT INTO sessions (id, user_id, title, listen_language, hints) VALUES ($1, $2, 'h', 'en', $3)",
        session_id, user_id, hints,
    )  # fmt: skip
    return str(session_id)


def piece(sid: str, pcm: bytes, *, final: bool) -> Segment:
    t1 = len(pcm) / 32000
    return Segment(
        session_id=sid, role="candidate", seq=1, t0=0.0, t1=t1, pcm=pcm, end_wall=time.time(),
        speech_end=t1 if not final else t1 - 0.2, final=final,
    )  # fmt: skip


def names_in(text: str) -> list[str]:
    return [n for n in REF["names"] if n.lower() in text.lower()]


async def test_partials_of_a_long_utterance_only_grow_and_the_final_replaces_them(
    worker: Worker, r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    sid = await session_with(pool, "")
    pcm = pcm_of("c_rare_names.wav")
    step = int(0.7 * 16000) * 2
    for k in range(step, len(pcm), step):
        entry = await add(r, piece(sid, pcm[:k], final=False))
        await wait_until(lambda: handled(r, entry), what="partial handled")  # noqa: B023
    entry = await add(r, piece(sid, pcm, final=True))
    await wait_until(lambda: handled(r, entry), what="final handled")

    caps = await captions_on_stream(r, sid)
    partials, final = caps[:-1], caps[-1]
    assert final.final is True and not any(c.final for c in partials)
    assert {c.id for c in caps} == {final.id}  # one caption the client replaces in place
    texts = [c.text for c in partials]
    assert len(texts) >= 6, texts  # words appear while the utterance runs, not only at its end
    for a, b in zip(texts, texts[1:], strict=False):
        assert is_prefix(a, b) and len(split_words(b)) > len(split_words(a)), (a, b)  # shown words stay
    assert len(split_words(texts[-1])) >= len(split_words(REF["text"])) // 2
    assert len(split_words(final.text)) >= len(split_words(texts[-1]))


async def test_hints_bias_the_decoder_towards_the_names_and_not_towards_unsaid_ones(
    worker: Worker, r: aioredis.Redis, pool: asyncpg.Pool
) -> None:
    pcm = pcm_of("c_rare_names.wav")
    plain = await session_with(pool, "")
    hinted = await session_with(pool, f"{REF['hints']} Also {ABSENT}.")
    for sid in (plain, hinted):
        entry = await add(r, piece(sid, pcm, final=True))
        await wait_until(lambda: handled(r, entry), what="final handled")  # noqa: B023
    [without] = await captions_on_stream(r, plain)
    [with_hints] = await captions_on_stream(r, hinted)
    assert len(names_in(without.text)) <= 2, without.text
    assert len(names_in(with_hints.text)) >= 5, with_hints.text
    assert ABSENT.lower() not in with_hints.text.lower()
