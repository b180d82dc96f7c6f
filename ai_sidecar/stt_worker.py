"""The stt worker (``interview-room stt``): utterances from ``stt:segments`` become captions.

Per final segment, in this order, each step idempotent by the segment id so a segment a crashed
worker left pending (claimed here with XAUTOCLAIM) yields exactly one caption:

1. skip when the session is gone, or the caption is already stored and published;
2. Silero check + Whisper in a worker thread (one call at a time: Whisper owns the cores). Segments
   in hand at once are decoded in one batched call (``Batcher``, finals first), each with the
   session's previous speech as acoustic context (``SessionHistory``);
3. store the caption (``ON CONFLICT DO NOTHING``; on a conflict the stored text wins);
4. publish it to ``session:{id}:events`` once (``publish_once``), then queue an ``llm:jobs``
   ``caption`` job once (``add_once``); only then is the entry acked.

Partials (``final=False`` snapshots of a running utterance) are best effort: transcribed and
published unstored, and skipped whenever anything else is waiting (the first thing dropped under
load; a final never queues behind them). A partial cut mid-speech shows only the words two
consecutive decodes agree on (``stable_prefix``); the speculative one cut after 100 ms of silence
(the final's own audio) shows its whole text. The session's hints bias Whisper (``hints``).
/health answers only once the default model is loaded: ready means a caption will not wait for
a model load.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import ResponseError

from interview_room import bus, db, metrics, service
from interview_room.config import Config
from interview_room.logs import session_id_var
from interview_room.messages import Caption, LlmJob, Segment
from interview_room.store import captions
from interview_room.store.session_hints import session_hints as read_hints

from . import hints as session_hints
from .batcher import Batcher, Dropped
from .context_window import DecodeItem, SessionHistory
from .models import ModelUnavailable
from .stable_prefix import Agreement, advance, settle
from .transcriber import SAMPLE_RATE, Transcriber, Transcript
from .whisper_translate import WhisperTranslator

log = logging.getLogger("stt")

T = TypeVar("T")

PARTIAL_MAX_AGE_S = 3.0  # a partial older than this is no longer worth showing
EARLY_TTL_S = 120
AGREE_TTL_S = 60
HINTS_TTL_S = 30.0  # partials reuse a session's hint terms this long (finals read them afresh)
LAG_POLL_S = 5.0


def caption_key(caption_id: str) -> str:
    """``publish_once`` key of a final caption on the session's event stream."""
    return f"caption:{caption_id}"


def early_key(seg: Segment) -> str:
    """Redis key of a partial's transcript, valid for the final with the same start and the same last
    voiced frame: its audio is the partial's plus more trailing silence."""
    end = seg.speech_end or seg.t1
    return f"stt:early:{seg.id}:{seg.t0:.3f}:{end:.3f}"


def agree_key(seg: Segment) -> str:
    """Redis key of the stable-prefix state of the utterance a partial belongs to."""
    return f"stt:agree:{seg.id}:{seg.t0:.3f}"


def mid_speech(seg: Segment) -> bool:
    """A periodic partial (cut while the speaker talks) rather than the speculative one after 100 ms
    of silence, whose audio is the final's and whose text is shown whole."""
    return seg.speech_end > 0 and seg.speech_end >= seg.t1 - 1e-3


def llm_job_key(caption_id: str) -> str:
    """``add_once`` key of the ``llm:jobs`` entry that follows a final caption."""
    return f"llm:caption:{caption_id}"




class SttWorker:
    """Handles one ``stt:segments`` entry at a time (the consumer acks after ``handle`` returns)."""

    def __init__(
        self,
        cfg: Config,
        pool: asyncpg.Pool,
        r: aioredis.Redis,
        transcriber: Transcriber,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.cfg = cfg
        self.pool = pool
        self.r = r
        self.transcriber = transcriber
        self.executor = executor
        # the session's (and role's) recent captioned speech: acoustic context for its next utterance
        self.history = SessionHistory(cfg.stt_context_s, max_sessions=200)
        # segments in hand at once (the consumer's concurrency) are decoded together, finals first
        self.batcher: Batcher[DecodeItem, Transcript] = Batcher(
            self._decode,
            max_batch=cfg.stt_batch_max,
            wait_s=cfg.stt_batch_wait_ms / 1000.0,
            max_partials=cfg.stt_batch_max,  # under load the oldest partials go first
        )
        # offline translation into English (Whisper's translate task) for sessions that switched it on
        self.translator = WhisperTranslator(cfg, pool, r, transcriber, self._in_thread)
        self._terms: dict[str, tuple[float, list[str]]] = {}  # session id -> (read at, hint terms)
        self._locks: dict[str, list[Any]] = {}  # _one_at_a_time: key -> [lock, holders and waiters]
        # after a mid-speech partial's Whisper call, no such partial for STT_PARTIAL_REST times its duration:
        # they use at most 60 % of a worker and thin out by themselves when calls slow down (a busy machine);
        # the speculative partial after 100 ms of silence is exempt (the final reuses its text)
        self._partial_after = 0.0
        self.clock: Callable[[], float] = time.monotonic

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        ctx = contextvars.copy_context()  # keep the session id on log lines written in the thread
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(ctx.run, fn, *args))

    async def handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            seg = Segment.from_fields(fields)
        except (KeyError, ValueError) as e:
            metrics.SEGMENTS_REJECTED.labels("malformed").inc()
            log.error("malformed segment entry=%s error=%s", entry_id.decode(), e)
            return
        token = session_id_var.set(seg.session_id)
        try:
            if seg.final:
                await self.final(seg)
            else:
                await self.partial(seg)
        finally:
            session_id_var.reset(token)

    async def _session_terms(self, session_id: str, *, fresh: bool) -> list[str] | None:
        """The hint terms of a session (None = no such session); ``fresh`` reads the database."""
        now = time.monotonic()
        cached = self._terms.get(session_id)
        if not fresh and cached is not None and now - cached[0] < HINTS_TTL_S:
            return cached[1]
        text = await read_hints(self.pool, session_id)
        if text is None:
            self._terms.pop(session_id, None)
            return None
        if len(self._terms) > 1000:
            self._terms = {k: v for k, v in self._terms.items() if now - v[0] < HINTS_TTL_S}
        terms = session_hints.extract_terms(text)
        self._terms[session_id] = (now, terms)
        return terms

    async def _decode(self, items: list[DecodeItem]) -> list[Transcript | BaseException]:
        """One batched Whisper call; when it fails, each item alone (so one bad item fails only itself)."""
        try:
            return list(await self._in_thread(self.transcriber.transcribe_batch, items))
        except Exception as e:
            if len(items) == 1:
                return [e]
        out: list[Transcript | BaseException] = []
        for it in items:
            try:
                out.append((await self._in_thread(self.transcriber.transcribe_batch, [it]))[0])
            except Exception as e:
                out.append(e)
        return out

    @staticmethod
    def _history_key(seg: Segment) -> str:
        return f"{seg.session_id}:{seg.role}"

    async def _transcribe(self, seg: Segment, terms: list[str] | None = None, prefix: str | None = None) -> Transcript:
        """Through the batcher: the session's context before the utterance, its hint terms as a prompt, and
        (a mid-speech partial) the words already shown as a prefix the decode continues."""
        bias = session_hints.prompt(terms or []) or ""
        ctx_pcm, ctx_text = self.history.context(self._history_key(seg))
        item = DecodeItem(seg.pcm, seg.lang, context_pcm=ctx_pcm, context_text=ctx_text, hints=bias, prefix=prefix or "")
        result = await self.batcher.submit(item, final=seg.final)
        if result.stt_seconds > 0:
            metrics.STT_SECONDS.observe(result.stt_seconds)
        if bias and terms and result.ok and session_hints.echoed(result.text, terms):
            log.info("hinted transcript looks copied from the hints, decoding without id=%s", seg.id)
            result = await self.batcher.submit(dataclasses.replace(item, hints=""), final=seg.final)
            if result.stt_seconds > 0:
                metrics.STT_SECONDS.observe(result.stt_seconds)
        return result

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, key: str) -> AsyncIterator[None]:
        """Work under ``key`` runs in the order it asked (asyncio locks are fair); the lock is forgotten
        when nobody holds or waits for it."""
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._locks[key]

    async def final(self, seg: Segment) -> None:
        # a session's finals one after the other, in the order the stream gave them: captions reach the room
        # in speaking order (the consumer hands several segments at once after an outage), and each utterance
        # gets the one before it as context
        async with self._one_at_a_time(f"final:{seg.session_id}"):
            await self._final(seg)

    async def _final(self, seg: Segment) -> None:
        if seg.sample_rate != SAMPLE_RATE:
            metrics.SEGMENTS_REJECTED.labels("bad_sample_rate").inc()
            log.error("segment is not 16 kHz id=%s sample_rate=%d", seg.id, seg.sample_rate)
            return
        terms = await self._session_terms(seg.session_id, fresh=True)
        if terms is None:
            metrics.SEGMENTS_REJECTED.labels("session_gone").inc()
            log.info("segment of a missing session dropped id=%s", seg.id)
            return
        stored = await captions.get_caption(self.pool, seg.id)
        if stored is not None:
            done = await self.r.exists(f"published:{caption_key(seg.id)}", f"published:{llm_job_key(seg.id)}")
            if done == 2:
                log.info("segment already captioned id=%s", seg.id)
                return
            caption = stored  # stored by a worker that died before publishing: publish what it stored
        else:
            try:
                result = await self._early_result(seg) or await self._transcribe(seg, terms)
            except ModelUnavailable as e:  # a configuration error: retrying the entry cannot help
                metrics.SEGMENTS_REJECTED.labels("model_unavailable").inc()
                log.error("no model for segment id=%s lang=%s: %s", seg.id, seg.lang, e)
                return
            if not result.ok:
                metrics.SEGMENTS_REJECTED.labels(result.rejected or "unknown").inc()
                log.info(
                    "segment rejected id=%s reason=%s speech_ms=%.0f no_speech=%.2f logprob=%.2f text=%r",
                    seg.id, result.rejected, result.speech_ms, result.no_speech_prob, result.avg_logprob, result.text,
                )  # fmt: skip
                return
            self.history.add(self._history_key(seg), seg.pcm, result.text)
            caption = Caption(id=seg.id, role=seg.role, t0=seg.t0, t1=seg.t1, text=result.text, lang=result.lang)
            try:
                inserted = await captions.insert_caption(self.pool, caption, seg.session_id, seg.seq)
            except asyncpg.ForeignKeyViolationError:
                metrics.SEGMENTS_REJECTED.labels("session_gone").inc()
                log.info("session deleted while transcribing id=%s", seg.id)
                return
            if not inserted:  # another worker got there first (a claim race): its text is the caption
                caption = await captions.get_caption(self.pool, seg.id) or caption
        await self.publish(seg, caption)
        await self.translator.after_caption(seg, caption)

    async def publish(self, seg: Segment, caption: Caption) -> None:
        caption.final = True
        if await bus.publish_once(self.r, seg.session_id, caption_key(caption.id), caption):
            metrics.CAPTIONS.inc()
            if seg.end_wall > 0:
                metrics.CAPTION_LATENCY.observe(max(0.0, time.time() - seg.end_wall))
            log.info("caption id=%s lang=%s text=%r", caption.id, caption.lang, caption.text)
        job = LlmJob(kind="caption", session_id=seg.session_id, payload=caption.to_wire())
        await bus.add_once(self.r, llm_job_key(caption.id), bus.LLM_JOBS, job.to_fields()["data"])

    async def partial(self, seg: Segment) -> None:
        if seg.end_wall > 0 and time.time() - seg.end_wall > PARTIAL_MAX_AGE_S:
            return
        if mid_speech(seg) and self.clock() < self._partial_after:  # the speculative one is the final's
            return
        if seg.sample_rate != SAMPLE_RATE or await self._final_done(seg.id) or await self.work_waiting():
            return
        # the consumer holds several segments at once (the batcher decodes them together): two partials of
        # one utterance must not read and write its agreement state at the same time, or the later write
        # drops words the other had shown
        async with self._one_at_a_time(f"partial:{agree_key(seg)}"):
            await self._partial(seg)

    async def _partial(self, seg: Segment) -> None:
        if await self._final_done(seg.id):
            return
        terms = await self._session_terms(seg.session_id, fresh=False)
        if terms is None:
            return
        raw = await self.r.get(agree_key(seg))
        state = Agreement.from_json(json.loads(raw)) if raw else None
        # mid-speech, the decode continues the words already shown (as LocalAgreement does: a shown
        # word that a later decode spelt differently would stall the agreement for the utterance)
        prefix = state.text if state is not None and mid_speech(seg) else None
        try:
            result = await self._transcribe(seg, terms, prefix or None)
        except (ModelUnavailable, Dropped):  # Dropped: newer partials were waiting
            return
        if mid_speech(seg):
            self._partial_after = self.clock() + result.stt_seconds * self.cfg.stt_partial_rest
        if not prefix:  # a free decode: the final of an utterance that does not go on carries this audio
            await self.r.set(early_key(seg), json.dumps(dataclasses.asdict(result)), ex=EARLY_TTL_S)
        if not result.ok or await self._final_done(seg.id):
            return
        text = await self._stable_text(seg, state, result.text)
        if not text:
            return  # nothing two decodes agree on yet, or nothing new
        caption = Caption(id=seg.id, role=seg.role, t0=seg.t0, t1=seg.t1, text=text, lang=result.lang, final=False)
        await bus.publish_event(self.r, seg.session_id, caption)

    async def _stable_text(self, seg: Segment, state: Agreement | None, hypothesis: str) -> str | None:
        """The partial text to show: mid-speech, the words two consecutive decodes agree on when
        they grew; after the speech stopped, the whole text (it becomes the shown words). The final
        is decoded free (forcing it to start with the shown words cost 4 WER points on the fixtures)
        and replaces them."""
        key = agree_key(seg)
        if mid_speech(seg):
            state, grew = advance(state, hypothesis)
        else:
            state, grew = settle(state, hypothesis), True
        await self.r.set(key, json.dumps(state.to_json()), ex=AGREE_TTL_S)
        return state.text if grew else None

    async def _early_result(self, seg: Segment) -> Transcript | None:
        """The transcript of a partial with exactly this segment's audio (speculative decoding)."""
        raw = await self.r.get(early_key(seg))
        if raw is None:
            return None
        result = Transcript(**json.loads(raw))
        log.info("final reuses its early transcript id=%s", seg.id)
        return result

    async def _final_done(self, caption_id: str) -> bool:
        return bool(await self.r.exists(f"published:{caption_key(caption_id)}"))

    async def work_waiting(self) -> bool:
        """True when ``stt:segments`` holds entries no stt worker has been given yet."""
        try:
            groups = await self.r.xinfo_groups(bus.STT_SEGMENTS)
        except ResponseError:  # no stream yet: nothing waits
            return False
        for g in groups:
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            if name != bus.STT_GROUP:
                continue
            if g.get("lag") is not None:  # Redis 7+
                return int(g["lag"]) > 0
            last = await self.r.xrevrange(bus.STT_SEGMENTS, count=1)
            return bool(last) and last[0][0] != g["last-delivered-id"]
        return False


async def lag_pass(r: aioredis.Redis) -> None:
    for stream, group in ((bus.STT_SEGMENTS, bus.STT_GROUP), (bus.LLM_JOBS, bus.LLM_GROUP)):
        metrics.STREAM_LAG.labels(stream).set(await bus.stream_lag(r, stream, group))


async def serve(cfg: Config, stop: asyncio.Event) -> None:
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
    transcriber = Transcriber(cfg)
    langs = cfg.stt_preload
    t = time.monotonic()
    try:
        loaded = await asyncio.get_running_loop().run_in_executor(executor, transcriber.preload, langs)
    except ModelUnavailable as e:
        log.error("cannot load the speech model: %s", e)
        executor.shutdown()
        raise SystemExit(2) from None
    log.info("models ready models=%s threads=%d seconds=%.1f", ",".join(loaded) or "-",
             transcriber.models.threads, time.monotonic() - t)  # fmt: skip
    pool = await db.create_pool(cfg.database_url, max_size=4)
    r = bus.connect(cfg.redis_url)
    worker = SttWorker(cfg, pool, r, transcriber, executor)
    consumer = bus.StreamConsumer(
        r,
        bus.STT_SEGMENTS,
        bus.STT_GROUP,
        bus.consumer_name("stt"),
        worker.handle,
        concurrency=max(1, cfg.stt_batch_max),  # segments in hand at once: the batcher decodes them together
        claim_idle_ms=cfg.stt_claim_idle_ms,
        delete_acked=True,
        bytes_key=bus.STT_BACKLOG_BYTES,
    )
    tasks = service.TaskGroup("stt")
    run_task = tasks.spawn(consumer.run(), "consumer")
    tasks.spawn(service.every(LAG_POLL_S, lambda: lag_pass(r), "stream lag"), "lag")
    app = web.Application()
    health = service.Health().redis(r).database(pool).task("consumer", lambda: run_task, consumer.health)
    service.add_health_routes(app, health)
    runner = await service.start_site(app, cfg.http_host, cfg.stt_metrics_port)
    log.info("stt worker ready consumer=%s port=%d", consumer.consumer, cfg.stt_metrics_port)
    try:
        stop_wait = asyncio.ensure_future(stop.wait())
        await asyncio.wait({stop_wait, run_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        if run_task.done() and not run_task.cancelled() and run_task.exception() is not None:
            raise SystemExit(1)  # the failure is logged by the task group
    finally:
        log.info("stopping: finishing the current segment")
        await consumer.stop()  # waits for the segment in hand; its entry is acked
        await tasks.close()
        await consumer.stop()  # a segment read while the loop was stopping
        await worker.batcher.close()
        await runner.cleanup()
        await r.aclose()
        await pool.close()
        executor.shutdown(wait=True)
        log.info("stopped")


def main(cfg: Config) -> None:
    service.run_forever(functools.partial(serve, cfg))
