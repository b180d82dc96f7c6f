"""The llm worker: reads ``llm:jobs`` and gives each session questions, answers, translations and scores.

Every model call of the product runs here, through one provider (``make_provider``: a model wrapped
so its failed calls fall back to the offline provider) under one limit (``LLM_CONCURRENCY``):
live sessions, mock interviews, screen questions, after-session summaries and the recruiters'
answer scores (job kind ``answer_score``, ``llm/answer_scores.py``), which belong to no live
session and are handled apart from the session runners.

Jobs of one session go through that session's queue in stream order (one engine per session,
one job at a time); sessions run concurrently. The consumer acks a job only when the engine
says its output is written. Model calls are bounded per worker (``LLM_CONCURRENCY``) and per
session (3), and so are a session's jobs in the worker (``LLM_SESSION_JOBS``): a job holds one of
the consumer's ``LLM_JOB_CONCURRENCY`` slots until its output is written (a typed ask: until its
answer is done), so a session flooding asks would otherwise hold every slot while its answers wait
for its 3 model calls. Asks beyond the cap are acked unanswered and the client gets a throttled
``rate_limited`` notice; captions, settings and the other kinds always go through (they come at
the pace of speech, or finish at once).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from interview_room import bus, db, metrics, service
from interview_room.config import Config
from interview_room.logs import session_id_var
from interview_room.messages import LlmJob, Notice
from interview_room.store import insights

from .llm.answer_scores import AnswerScorer
from .llm.cv import CvReader
from .llm.factory import make_provider
from .llm.fallback import with_offline_fallback
from .llm.provider import Provider
from .llm.session import SessionEngine
from .llm.suggest import QuestionSuggester
from .mock.engine import MockEngine, mock_engine

log = logging.getLogger("llm.worker")

IDLE_EVICT_S = 1800.0
RATE_NOTICE_EVERY_S = 5.0  # at most one rate_limited notice per session this often


@dataclass
class _Item:
    job: LlmJob
    entry_id: str
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SessionRunner:
    """One session's queue and engine. Exits after ``session_end`` or a long idle spell."""

    def __init__(self, worker: LlmWorker, session_id: str) -> None:
        self.worker = worker
        self.sid = session_id
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.accepting = True
        self.engine: SessionEngine | MockEngine | None = None

    def submit(self, item: _Item) -> None:
        self.queue.put_nowait(item)

    async def run(self) -> None:
        session_id_var.set(self.sid)
        w = self.worker
        try:
            while True:
                deadline = self.engine.next_deadline() if self.engine else None
                timeout = IDLE_EVICT_S if deadline is None else max(0.0, deadline - w.clock())
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    if deadline is None:
                        break  # idle: the state can be rebuilt from Postgres if the session comes back
                    if self.engine:
                        try:
                            await self.engine.on_tick()
                        except Exception as e:
                            log.exception("timer work failed")
                            self.engine.fail_held(e)
                    continue
                if self.engine is None:
                    try:
                        ctx = await insights.get_session_context(w.pool, self.sid)
                        if ctx is None:
                            log.warning("job for unknown session dropped kind=%s", item.job.kind)
                            item.done.set_result(None)
                            break
                        engine = w.new_engine(ctx)
                        await engine.restore(item.job)
                        await engine.start()
                    except Exception as e:
                        log.exception("cannot load session state")
                        item.done.set_exception(e)
                        break
                    self.engine = engine
                try:
                    await self.engine.on_job(item.job, item.entry_id, item.done)
                except Exception as e:
                    log.exception("job failed kind=%s", item.job.kind)
                    if not item.done.done():
                        item.done.set_exception(e)
                if self.engine.closed:
                    break
        finally:
            self._retire()

    def _retire(self) -> None:
        """Stop taking jobs; hand any that arrived meanwhile to a fresh runner."""
        self.accepting = False
        if self.worker.runners.get(self.sid) is self:
            del self.worker.runners[self.sid]
        if self.engine is not None and self.engine.held:
            self.engine.fail_held(RuntimeError("session runner stopped"))
        while not self.queue.empty():
            self.worker.dispatch(self.queue.get_nowait())


class LlmWorker:
    def __init__(
        self,
        *,
        r: aioredis.Redis,
        pool: asyncpg.Pool,
        provider: Provider,
        llm_concurrency: int = 64,
        question_pause_s: float = 1.2,
        score_pause_s: float = 6.0,
        clock: Callable[[], float] = time.monotonic,
        mock_pause_s: float = 4.5,
        session_jobs: int = 8,
        mock_follow_up_wait_s: float = 15.0,
    ) -> None:
        self.r = r
        self.pool = pool
        self.provider = with_offline_fallback(provider)  # the one provider set-up for every model call
        self.llm_sem = asyncio.Semaphore(llm_concurrency)  # the one limit on model calls at once
        self.answer_scores = AnswerScorer(r=r, pool=pool, provider=self.provider, llm_sem=self.llm_sem)
        self.suggester = QuestionSuggester(r=r, provider=self.provider, llm_sem=self.llm_sem)
        self.cv_reader = CvReader(r=r, pool=pool, provider=self.provider, llm_sem=self.llm_sem)
        self.question_pause_s = question_pause_s
        self.score_pause_s = score_pause_s
        self.mock_pause_s = mock_pause_s
        self.mock_follow_up_wait_s = mock_follow_up_wait_s
        self.clock = clock
        self.tasks = service.TaskGroup("llm")
        self.runners: dict[str, SessionRunner] = {}
        self.session_jobs = session_jobs  # jobs one session may hold at once (0 = no cap)
        self.in_flight: dict[str, int] = {}  # session id -> its jobs handed to a runner, not yet done
        self.dropped_asks = 0
        self._noticed: dict[str, float] = {}  # session id -> clock() of its last rate_limited notice

    def new_engine(self, ctx: insights.SessionContext) -> SessionEngine | MockEngine:
        if ctx.mode == "mock":  # the AI is the interviewer (ai_sidecar/mock)
            return mock_engine(self, ctx, self.mock_pause_s)
        return SessionEngine(
            ctx,
            r=self.r,
            pool=self.pool,
            provider=self.provider,
            tasks=self.tasks,
            llm_sem=self.llm_sem,
            clock=self.clock,
            question_pause_s=self.question_pause_s,
            score_pause_s=self.score_pause_s,
        )

    def dispatch(self, item: _Item) -> None:
        sid = item.job.session_id
        runner = self.runners.get(sid)
        if runner is None or not runner.accepting:
            runner = SessionRunner(self, sid)
            self.runners[sid] = runner
            self.tasks.spawn(runner.run(), f"session:{sid}")
        runner.submit(item)

    async def handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        """StreamConsumer handler: returns (and so acks) when the job's output is written."""
        try:
            job = LlmJob.from_fields(fields)
            uuid.UUID(job.session_id)
            if not isinstance(job.payload, dict):
                raise TypeError("payload must be an object")
        except (ValueError, TypeError, KeyError, AttributeError):
            log.error("dropping malformed llm job id=%s", entry_id.decode())
            return
        sid = job.session_id
        side = {"answer_score": self.answer_scores, "suggest_questions": self.suggester, "cv_reading": self.cv_reader}
        if job.kind in side:  # recruiter work: no live session behind it
            token = session_id_var.set(sid)
            try:
                await side[job.kind].run(job)
            finally:
                session_id_var.reset(token)
            return
        held = self.in_flight.get(sid, 0)
        if job.kind == "ask" and 0 < self.session_jobs <= held:
            self.dropped_asks += 1
            metrics.CLIENT_MESSAGES_DROPPED.labels(reason="session_jobs").inc()
            await self._rate_limited(sid, held)
            return  # acked unanswered
        item = _Item(job, entry_id.decode())
        self.in_flight[sid] = held + 1
        try:
            self.dispatch(item)  # before any await: entries of one session keep their stream order
            await item.done
        finally:
            left = self.in_flight.get(sid, 1) - 1
            if left > 0:
                self.in_flight[sid] = left
            else:
                self.in_flight.pop(sid, None)

    async def _rate_limited(self, sid: str, held: int) -> None:
        """Tell the session its asks are being dropped, at most once per ``RATE_NOTICE_EVERY_S``."""
        now = self.clock()
        if now - self._noticed.get(sid, -1e18) < RATE_NOTICE_EVERY_S:
            return
        if len(self._noticed) > 1000:  # forget sessions not noticed lately
            self._noticed = {k: t for k, t in self._noticed.items() if now - t < RATE_NOTICE_EVERY_S}
        self._noticed[sid] = now
        token = session_id_var.set(sid)
        try:
            log.warning("asks dropped: session has %d jobs in the worker dropped_total=%d", held, self.dropped_asks)
        finally:
            session_id_var.reset(token)
        notice = Notice(
            level="warning",
            code="rate_limited",
            message="Too many questions at once: some were not answered; wait for the answers before asking again",
        )
        try:
            await bus.publish_event(self.r, sid, notice)
        except Exception:
            log.exception("could not publish the rate_limited notice")

    async def close(self) -> None:
        await self.tasks.close()
        await self.provider.close()


async def _lag_pass(r: aioredis.Redis) -> None:
    metrics.STREAM_LAG.labels(stream=bus.LLM_JOBS).set(await bus.stream_lag(r, bus.LLM_JOBS, bus.LLM_GROUP))


async def run(cfg: Config, stop: asyncio.Event) -> None:
    pool = await db.create_pool(cfg.database_url)
    # every job in flight may be in a Redis call at once (an ack, an event): a pool as large as the slots
    r = bus.connect(cfg.redis_url, max_connections=max(200, cfg.llm_job_concurrency + 32))
    provider = make_provider(cfg)
    worker = LlmWorker(
        r=r,
        pool=pool,
        provider=provider,
        llm_concurrency=cfg.llm_concurrency,
        question_pause_s=cfg.llm_question_pause_ms / 1000.0,
        score_pause_s=cfg.llm_score_pause_ms / 1000.0,
        mock_pause_s=cfg.mock_pause_ms / 1000.0,
        session_jobs=cfg.llm_session_jobs,
        mock_follow_up_wait_s=cfg.mock_follow_up_wait_ms / 1000.0,
    )
    consumer = bus.StreamConsumer(
        r, bus.LLM_JOBS, bus.LLM_GROUP, bus.consumer_name("llm"), worker.handle, concurrency=cfg.llm_job_concurrency
    )
    bg = service.TaskGroup("llm-main")
    run_task = bg.spawn(consumer.run(), "consumer")
    bg.spawn(service.every(5.0, lambda: _lag_pass(r), "stream lag"), "lag")
    app = web.Application()
    health = service.Health().redis(r).database(pool).task("consumer", lambda: run_task, consumer.health)
    service.add_health_routes(app, health)
    site = await service.start_site(app, cfg.http_host, cfg.llm_metrics_port)
    log.info(
        "llm worker ready provider=%s model=%s port=%d",
        provider.name,
        cfg.llm_model if not provider.offline else "-",
        cfg.llm_metrics_port,
    )
    try:
        await stop.wait()
    finally:
        # stop reading first (the loop ends after its current XREADGROUP: cancelling a blocked read
        # can be swallowed by redis-py); give jobs in flight a moment, the rest are redelivered
        try:
            await asyncio.wait_for(consumer.stop(), 5.0)
        except TimeoutError:
            log.info("stopping with jobs in flight; they stay pending for another worker")
        await bg.close()
        await worker.close()
        await site.cleanup()
        await r.aclose()
        await pool.close()


def main(cfg: Config) -> None:
    service.run_forever(lambda stop: run(cfg, stop))
