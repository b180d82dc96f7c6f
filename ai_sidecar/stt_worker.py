"""The stt worker (``interview-room stt``): utterances from ``stt:segments`` become captions.

Per final segment, in this order, each step idempotent by the segment id so a segment a crashed
worker left pending (claimed here with XAUTOCLAIM) yields exactly one caption:

1. skip when the session is gone, or the caption is already stored and published;
2. Silero check + Whisper in a worker thread (one at a time: Whisper owns the cores);
3. store the caption (``ON CONFLICT DO NOTHING``; on a conflict the stored text wins);
4. publish it to ``session:{id}:events`` once (``publish_once``), then queue an ``llm:jobs``
   ``caption`` job once (``add_once``); only then is the entry acked.

Partials (``final=False`` snapshots of a running utterance) are best effort: transcribed and
published unstored, and skipped whenever anything else is waiting, so a final is never delayed.
/health answers only once the default model is loaded: ready means a caption will not wait for
a model load.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable
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
from interview_room.store import captions, sessions

from .models import ModelUnavailable
from .transcriber import SAMPLE_RATE, Transcriber, Transcript

log = logging.getLogger("stt")

T = TypeVar("T")

PARTIAL_MAX_AGE_S = 3.0  # a partial older than this is no longer worth showing
EARLY_TTL_S = 120
LAG_POLL_S = 5.0


def caption_key(caption_id: str) -> str:
    """``publish_once`` key of a final caption on the session's event stream."""
    return f"caption:{caption_id}"


def early_key(seg: Segment) -> str:
    """Redis key of a partial's transcript, valid for the final with the same start and the same last
    voiced frame: its audio is the partial's plus more trailing silence."""
    end = seg.speech_end or seg.t1
    return f"stt:early:{seg.id}:{seg.t0:.3f}:{end:.3f}"


def llm_job_key(caption_id: str) -> str:
    """``add_once`` key of the ``llm:jobs`` entry that follows a final caption."""
    return f"llm:caption:{caption_id}"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


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

    async def _session_exists(self, session_id: str) -> bool:
        if not _is_uuid(session_id):
            return False
        return await sessions.session_exists(self.pool, session_id)

    async def _transcribe(self, seg: Segment) -> Transcript:
        result = await self._in_thread(self.transcriber.transcribe, seg.pcm, seg.lang)
        if result.stt_seconds > 0:
            metrics.STT_SECONDS.observe(result.stt_seconds)
        return result

    async def final(self, seg: Segment) -> None:
        if seg.sample_rate != SAMPLE_RATE:
            metrics.SEGMENTS_REJECTED.labels("bad_sample_rate").inc()
            log.error("segment is not 16 kHz id=%s sample_rate=%d", seg.id, seg.sample_rate)
            return
        if not await self._session_exists(seg.session_id):
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
                result = await self._early_result(seg) or await self._transcribe(seg)
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
        if seg.sample_rate != SAMPLE_RATE or await self._final_done(seg.id) or await self.work_waiting():
            return
        try:
            result = await self._transcribe(seg)
        except ModelUnavailable:
            return
        # the final of an utterance that does not go on carries this very audio: keep the result
        await self.r.set(early_key(seg), json.dumps(dataclasses.asdict(result)), ex=EARLY_TTL_S)
        if not result.ok or await self._final_done(seg.id):
            return
        caption = Caption(
            id=seg.id, role=seg.role, t0=seg.t0, t1=seg.t1, text=result.text, lang=result.lang, final=False
        )
        await bus.publish_event(self.r, seg.session_id, caption)

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
        concurrency=1,
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
        await runner.cleanup()
        await r.aclose()
        await pool.close()
        executor.shutdown(wait=True)
        log.info("stopped")


def main(cfg: Config) -> None:
    service.run_forever(functools.partial(serve, cfg))
