"""Batched decoding with acoustic context (``Transcriber.transcribe_batch``) and the ``Batcher`` order."""

from __future__ import annotations

import asyncio
import re
import wave
from pathlib import Path

import jiwer
import pytest

from ai_sidecar.batcher import Batcher, Dropped
from ai_sidecar.context_window import DecodeItem, SessionHistory, join_context, window_samples
from interview_room.config import Config

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w']+", " ", text.lower().replace("-", " ")).split())


def pcm_of(name: str) -> bytes:
    with wave.open(str(FIXTURES / name)) as w:
        return w.readframes(w.getnframes())


def cut(pcm: bytes) -> list[bytes]:
    from media_server.segmenter import Segmenter, SegmenterSettings

    seg = Segmenter(SegmenterSettings(early_partial=False))
    return [u.pcm for u in seg.push(pcm, 0.0) + seg.flush() if u.final]


# ---- the Batcher (no Whisper) ----


class SlowDecoder:
    """Records each call's items; holds every call until released, so jobs queue up behind it."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: list[str]) -> list[str | BaseException]:
        self.calls.append(list(items))
        await self.release.wait()
        return [ValueError(i) if i.startswith("bad") else i.upper() for i in items]


async def _until(cond, n: int = 200) -> None:  # type: ignore[no-untyped-def]
    for _ in range(n):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def test_a_final_goes_before_partials_queued_ahead_of_it() -> None:
    dec = SlowDecoder()
    b: Batcher[str, str] = Batcher(dec, max_batch=1)
    first = asyncio.create_task(b.submit("p0", final=False))
    await _until(lambda: len(dec.calls) == 1)  # p0 is being decoded
    partials = [asyncio.create_task(b.submit(f"p{i}", final=False)) for i in (1, 2, 3)]
    await asyncio.sleep(0.01)
    final = asyncio.create_task(b.submit("f", final=True))
    await asyncio.sleep(0.01)
    dec.release.set()
    assert await final == "F"
    await asyncio.gather(first, *partials)
    assert dec.calls[0] == ["p0"]
    assert dec.calls[1] == ["f"]  # queued after three partials, decoded before all of them
    assert sorted(c[0] for c in dec.calls[2:]) == ["p1", "p2", "p3"]
    await b.close()


async def test_jobs_waiting_behind_a_call_are_decoded_together_finals_first() -> None:
    dec = SlowDecoder()
    b: Batcher[str, str] = Batcher(dec, max_batch=8)
    first = asyncio.create_task(b.submit("a"))
    await _until(lambda: len(dec.calls) == 1)
    later = [
        asyncio.create_task(b.submit(x, final=f)) for x, f in (("p1", False), ("b", True), ("p2", False), ("c", True))
    ]
    await asyncio.sleep(0.01)
    dec.release.set()
    assert await asyncio.gather(first, *later) == ["A", "P1", "B", "P2", "C"]  # each gets its own result
    assert dec.calls == [["a"], ["b", "c"], ["p1", "p2"]]  # partials never share a call with finals
    assert b.batch_sizes == [1, 2, 2]
    await b.close()


async def test_a_failing_item_fails_only_its_own_job() -> None:
    dec = SlowDecoder()
    dec.release.set()
    b: Batcher[str, str] = Batcher(dec, max_batch=8)
    good, bad = await asyncio.gather(b.submit("ok"), b.submit("bad"), return_exceptions=True)
    assert good == "OK"
    assert isinstance(bad, ValueError)
    assert await b.submit("next") == "NEXT"  # the batcher carries on
    await b.close()


async def test_partials_beyond_the_limit_are_dropped_oldest_first() -> None:
    dec = SlowDecoder()
    b: Batcher[str, str] = Batcher(dec, max_batch=8, max_partials=1)
    first = asyncio.create_task(b.submit("a"))
    await _until(lambda: len(dec.calls) == 1)
    old = asyncio.create_task(b.submit("p1", final=False))
    await asyncio.sleep(0.01)
    new = asyncio.create_task(b.submit("p2", final=False))
    await asyncio.sleep(0.01)
    dec.release.set()
    assert await first == "A"
    assert await new == "P2"
    with pytest.raises(Dropped):
        await old
    assert dec.calls == [["a"], ["p2"]]
    await b.close()


# ---- windows and history (no Whisper) ----


def test_window_is_the_audio_rounded_up_within_bounds() -> None:
    sr = 16000
    assert window_samples(3 * sr, 10.0, 5.0) == 10 * sr
    assert window_samples(12 * sr, 10.0, 5.0) == 15 * sr
    assert window_samples(29 * sr, 10.0, 5.0) == 30 * sr
    assert window_samples(3 * sr, 30.0, 5.0) == 30 * sr  # 30 = faster-whisper's fixed window


def test_context_is_joined_only_when_it_fits() -> None:
    ctx, utt = b"\x01\x00" * 100, b"\x02\x00" * 50
    joined, n = join_context(ctx, utt, 16000)
    assert joined.endswith(utt) and joined.startswith(ctx) and n == len(joined) // 2 - 50
    assert join_context(ctx, utt, 200) == (utt, 0)
    assert join_context(b"", utt, 16000) == (utt, 0)


def test_session_history_keeps_recent_whole_utterances_per_session() -> None:
    h = SessionHistory(seconds=1.0, max_sessions=2)
    sec = b"\x00\x00" * 16000
    h.add("s1", sec[:16000], "one")
    h.add("s1", sec[:16000], "two")
    h.add("s1", sec[:16000], "three")  # 1.5 s: "one" falls out
    pcm, text = h.context("s1")
    assert text == "two three"
    h.add("s2", sec, "x")
    h.add("s3", sec, "y")  # s1 is the least recently used: dropped
    assert h.context("s1") == (b"", "")
    assert h.context("s3")[1] == "y"
    h.add("s4", sec, "   ")  # nothing recognised: no context
    assert h.context("s4") == (b"", "")
    assert SessionHistory(seconds=0).context("s1") == (b"", "")


# ---- Whisper ----


@pytest.fixture(scope="module")
def transcriber():  # type: ignore[no-untyped-def]
    from ai_sidecar.transcriber import Transcriber

    return Transcriber(Config())


REAL = ("jfk.wav", "conversation.wav", "alsa_front_center.wav", "alsa_front_left.wav")


def _refs() -> dict[str, str]:
    import json

    refs = json.loads((FIXTURES / "references.json").read_text())
    return {
        n: " ".join(u["text"] for u in refs[n]["utterances"]) if refs[n].get("utterances") else refs[n]["text"]
        for n in REAL
    }


@pytest.mark.whisper
def test_batched_decoding_is_as_accurate_as_one_by_one(transcriber) -> None:  # type: ignore[no-untyped-def]
    refs = _refs()
    utts = {n: cut(pcm_of(n)) for n in REAL}
    order = [(n, u) for n in REAL for u in utts[n]]
    one = {n: [] for n in REAL}  # type: dict[str, list[str]]
    for n, u in order:
        r = transcriber.transcribe(u, "en")  # the path before batching: 30 s window, one call each
        one[n].append(r.text if r.ok else "")
    batched = transcriber.transcribe_batch([DecodeItem(u) for _, u in order])
    assert len(batched) == len(order)
    together = {n: [] for n in REAL}  # type: dict[str, list[str]]
    for (n, _), r in zip(order, batched, strict=True):
        together[n].append(r.text if r.ok else "")
    ref = " ".join(words(refs[n]) for n in REAL)
    wer_one = jiwer.wer(ref, " ".join(words(" ".join(one[n])) for n in REAL))
    wer_batch = jiwer.wer(ref, " ".join(words(" ".join(together[n])) for n in REAL))
    assert wer_batch <= wer_one + 0.01, (wer_one, wer_batch, together)
    for n in REAL:
        assert jiwer.wer(words(refs[n]), words(" ".join(together[n]))) <= 0.15, (n, together[n])


@pytest.mark.whisper
def test_context_decode_emits_only_the_new_utterances_words(transcriber) -> None:  # type: ignore[no-untyped-def]
    import json

    first, second, third = cut(pcm_of("conversation.wav"))
    texts = [
        u["text"] for u in json.loads((FIXTURES / "references.json").read_text())["conversation.wav"]["utterances"]
    ]
    prev = transcriber.transcribe_batch([DecodeItem(first)])[0]
    assert prev.ok
    r = transcriber.transcribe_batch([DecodeItem(second, context_pcm=first, context_text=prev.text)])[0]
    assert r.ok
    got = words(r.text).split()
    assert not {"difference", "process", "thread"} & set(got), r.text  # nothing of the context utterance
    assert jiwer.wer(words(texts[1]), words(r.text)) <= 0.2, r.text
    # two sessions in one call, each with its own context, each gets only its own new words
    a, b = transcriber.transcribe_batch(
        [
            DecodeItem(third, context_pcm=second, context_text=r.text),
            DecodeItem(second, context_pcm=first, context_text=prev.text),
        ]
    )
    assert jiwer.wer(words(texts[2]), words(a.text)) <= 0.3, a.text
    assert not {"billing", "migration", "database"} & set(words(a.text).split()), a.text
    assert words(b.text) == words(r.text)


@pytest.mark.whisper
def test_noise_yields_no_caption_alone_or_after_speech(transcriber) -> None:  # type: ignore[no-untyped-def]
    speech = cut(pcm_of("conversation.wav"))[0]
    prev = transcriber.transcribe_batch([DecodeItem(speech)])[0]
    noise = cut(pcm_of("noise_typing_hum.wav")) or [pcm_of("noise_typing_hum.wav")]
    items = [DecodeItem(u) for u in noise] + [DecodeItem(u, context_pcm=speech, context_text=prev.text) for u in noise]
    results = transcriber.transcribe_batch(items)
    assert len(results) == len(items)
    assert all(not r.ok for r in results), [(r.text, r.rejected) for r in results]


# ---- the worker's wiring (no Whisper, no Redis: only the decode path is used) ----


class RecordingTranscriber:
    def __init__(self) -> None:
        self.calls: list[list[DecodeItem]] = []

    def transcribe_batch(self, items: list[DecodeItem]):  # type: ignore[no-untyped-def]
        from ai_sidecar.transcriber import Transcript

        self.calls.append(list(items))
        return [
            Transcript(f"t{len(self.calls)}", it.lang, 0.0, -0.1, 1.0, 1.0, 900.0, -20.0, 0.01, "fake") for it in items
        ]


async def test_worker_decodes_with_the_sessions_own_context() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ai_sidecar.stt_worker import SttWorker
    from interview_room.messages import Segment

    fake = RecordingTranscriber()
    with ThreadPoolExecutor(max_workers=1) as ex:
        w = SttWorker(Config(stt_context_s=6.0), None, None, fake, ex)  # type: ignore[arg-type]
        first = Segment("s1", "candidate", 1, 0.0, 1.0, b"\x01\x00" * 16000)
        w.history.add(w._history_key(first), first.pcm, "earlier words")
        r = await w._transcribe(Segment("s1", "candidate", 2, 2.0, 3.0, b"\x02\x00" * 16000))
        other = await w._transcribe(Segment("s2", "candidate", 1, 0.0, 1.0, b"\x03\x00" * 16000))
        await w.batcher.close()
    assert r.text == "t1" and other.text == "t2"
    mine, theirs = fake.calls[0][0], fake.calls[1][0]
    assert mine.context_text == "earlier words" and mine.context_pcm == first.pcm
    assert theirs.context_text == "" and theirs.context_pcm == b""  # another session's speech is never context
