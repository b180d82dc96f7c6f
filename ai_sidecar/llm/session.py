"""One session's AI help: final captions and client messages in; questions, answers,
translations, scores and notices out (Redis events + Postgres rows).

The worker feeds one engine per session, one job at a time, so a session's state changes in
order; model calls (answers, scores, translations) run as owned tasks, so a slow answer never
holds up question detection. A job is acked only when its output is written: an interviewer
caption's job waits until the question it may start has been decided and answered.
Ids are derived from caption ids and stream entry ids, and the events that must not repeat are
published with ``publish_once``, so a job redelivered after a crash produces the same outcome.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from interview_room import bus, messages, metrics, retry
from interview_room.logs import session_id_var
from interview_room.messages import (
    AnswerDelta,
    AnswerDone,
    Caption,
    ErrorEvent,
    LlmJob,
    Notice,
    Question,
    Score,
    Translation,
    VoiceActivity,
)
from interview_room.service import TaskGroup
from interview_room.store import captions as captions_store
from interview_room.store import insights, summaries
from interview_room.store.insights import SessionContext

from .bank import BankMatch, QuestionBank, default_bank
from .delivery import measure
from .detection import QuestionTracker, has_question, obviously_not_question
from .provider import AnswerContext, Fallback, Provider, ProviderError, ScoreContext, ScreenContext
from .summary import QuestionFacts, SummaryContext

log = logging.getLogger("llm.session")

SETTINGS_TTL_S = 2 * 86400
MAX_ASK_CHARS = 2000
MIN_SCORED_WORDS = 3
DELTA_EVERY_S = 0.05
SAVE_ATTEMPTS = 40  # an answer's, score's or translation's write: about 3 minutes of a database or Redis away
SESSION_CALLS = 3  # model calls one session may have in flight (answers, scores, translations)

OFFLINE_NOTICE = "AI provider not configured: offline talking points only; translation only into English (Whisper)"
TRANSLATION_NOTICE = (
    "Offline, only speech in another language is translated, into English (by Whisper); translating into "
    "other languages needs an AI model, and none is configured"
)
WHISPER_TARGET = "en"  # offline, the stt worker translates into English itself (ai_sidecar/whisper_translate.py)
ENGLISH_ONLY_NOTICE = "Offline talking points are in English only; configure an AI provider for other languages"
SCREEN_QUESTION = "What is on my screen, and how should I answer it?"
SCREEN_KEY_PREFIX = "screen:frame:"
NO_SUMMARY_MODES = ("mock", "recorded_answer")  # a mock has its report; a recorded answer is the recruiter's
SUMMARY_SOURCES = ("detected", "typed")  # the interviewer's questions (a screen question is the user's own)


def settings_key(session_id: str) -> str:
    return f"llm:settings:{session_id}"


def answer_ref(question_id: str) -> str:
    """The id a translation of an answer refers to (answers are keyed by their question)."""
    return f"a:{question_id}"


@dataclass
class Settings:
    listen_language: str
    answer_language: str
    translate: bool = False


@dataclass
class QuestionRec:
    id: str
    text: str
    lang: str
    caption_ids: list[str]
    source: str
    t0: float | None
    t_end: float | None
    asked_at: float  # wall clock of the question's final caption (or the ask), for latency metrics
    match: BankMatch | None = None


@dataclass
class _Held:
    done: asyncio.Future[None]
    work: list[asyncio.Task[Any]] = field(default_factory=list)


def caption_from(payload: dict[str, Any]) -> Caption:
    return Caption(
        id=str(payload["id"]),
        role=str(payload.get("role") or "interviewer"),
        t0=float(payload["t0"]),
        t1=float(payload["t1"]),
        text=str(payload.get("text") or ""),
        lang=str(payload.get("lang") or ""),
        final=bool(payload.get("final", True)),
    )


class SessionEngine:
    def __init__(
        self,
        ctx: SessionContext,
        *,
        r: aioredis.Redis,
        pool: asyncpg.Pool,
        provider: Provider,
        tasks: TaskGroup,
        llm_sem: asyncio.Semaphore,
        clock: Callable[[], float] = time.monotonic,
        question_pause_s: float = 1.2,
        score_pause_s: float = 6.0,
        bank: QuestionBank | None = None,
    ) -> None:
        self.ctx = ctx
        self.sid = ctx.id
        self.r = r
        self.pool = pool
        # the worker's provider (a model falls back to the offline provider inside it); its fallbacks become notices
        self.provider = provider.bind(self._fell_back)
        self.tasks = tasks
        self.llm_sem = llm_sem
        self.session_sem = asyncio.Semaphore(SESSION_CALLS)  # so one busy session cannot take every slot
        self.clock = clock
        self.score_pause_s = score_pause_s
        self.bank = bank or default_bank()
        self.settings = Settings(ctx.listen_language or "auto", ctx.answer_language or "en")
        self.tracker = QuestionTracker(pause_s=question_pause_s)
        self.transcript: deque[Caption] = deque(maxlen=40)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._wall: OrderedDict[str, float] = OrderedDict()
        self.held: dict[str, _Held] = {}
        self.last_question: QuestionRec | None = None
        self.current: QuestionRec | None = None  # the latest detected question: candidate speech answers it
        self.answer_caps: list[Caption] = []
        self.answer_last_at: float | None = None  # end of the candidate's latest speech (or caption)
        # the media node's voice activity: once it reports, the end of speech (not a caption) starts
        # the score pause, and nothing is scored while the candidate is speaking
        self.voice_seen = False
        self.speaking = False
        self.scored_n = 0
        self.closed = False
        self._last_notice: dict[str, float] = {}

    # ---- state from Postgres/Redis after a restart ----

    async def restore(self, first: LlmJob | None) -> None:
        raw = await self.r.get(settings_key(self.sid))
        if raw:
            try:
                s = json.loads(raw)
                self.settings = Settings(s["listen_language"], s["answer_language"], bool(s.get("translate")))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring unreadable saved settings")
        caps = await captions_store.list_captions(self.pool, self.sid)
        if first is not None and first.kind == "caption":
            # this job's caption (and later ones, still queued) are processed as they come
            cid, t0 = str(first.payload.get("id")), float(first.payload.get("t0") or 0.0)
            caps = [c for c in caps if c.id != cid and c.t0 < t0]
        # not marked as processed: a caption stored by the stt worker may still have its job queued
        for c in caps[-40:]:
            self._add_to_transcript(c)
        qs = await insights.list_questions(self.pool, self.sid)
        if not qs:
            return
        ends = {c.id: c.t1 for c in caps}
        recs = [self._rec_from_row(q, ends) for q in qs]
        self.last_question = recs[-1]
        detected = [q for q in recs if q.source == "detected"]
        if detected:
            cur = detected[-1]
            self.current = cur
            t_end = cur.t_end if cur.t_end is not None else (cur.t0 or 0.0)
            self.answer_caps = [c for c in caps if c.role == "candidate" and c.t0 >= t_end]
            if self.answer_caps:
                sc = await insights.get_score(self.pool, self.sid, cur.id)
                if sc is not None and sc["candidate_text"] == self._answer_text(self.answer_caps):
                    self.scored_n = len(self.answer_caps)
                else:
                    self.answer_last_at = self.clock()
        log.info("state restored captions=%d questions=%d", len(caps), len(qs))

    def _rec_from_row(self, q: dict[str, Any], ends: dict[str, float]) -> QuestionRec:
        t_ends = [ends[i] for i in q["caption_ids"] if i in ends]
        return QuestionRec(
            id=q["id"],
            text=q["text"],
            lang=q["lang"],
            caption_ids=q["caption_ids"],
            source=q["source"],
            t0=q["t0"],
            t_end=max(t_ends) if t_ends else q["t0"],
            asked_at=time.time(),
            match=self.bank.match_question(q["text"]),
        )

    # ---- jobs ----

    async def start(self) -> None:
        if self.provider.offline:
            await self._notice_once("ai_offline", "info", OFFLINE_NOTICE)

    async def on_job(self, job: LlmJob, entry_id: str, done: asyncio.Future[None]) -> None:
        session_id_var.set(self.sid)
        if job.kind == "caption":
            await self._on_caption(job.payload, done)
        elif job.kind == "ask":
            await self._on_ask(job.payload, entry_id, done)
        elif job.kind == "settings":
            await self._on_settings(job.payload)
            self._complete([done], [])
        elif job.kind == "screen":
            self._complete([done], await self._on_screen(job.payload, entry_id))
        elif job.kind == "voice":
            self._on_voice(job.payload)
            self._complete([done], [])
        elif job.kind == "session_end":
            work = await self._decide_pending(force=False)
            work += self._score_current()
            if self.ctx.mode not in NO_SUMMARY_MODES:
                work.append(self._spawn(self._summarize(list(work)), "summary"))
            self.closed = True
            self._complete([done], work)
        else:
            log.warning("unknown job kind=%s", job.kind)
            self._complete([done], [])

    async def on_tick(self) -> None:
        now = self.clock()
        if self.tracker.due(now):
            await self._decide_pending(force=False)
        if not self.speaking and self.answer_last_at is not None and now >= self.answer_last_at + self.score_pause_s:
            self._score_current()

    def next_deadline(self) -> float | None:
        ds = [d for d in (self.tracker.deadline(), self._score_deadline()) if d is not None]
        return min(ds) if ds else None

    def _score_deadline(self) -> float | None:
        if self.speaking or self.answer_last_at is None or len(self.answer_caps) <= self.scored_n:
            return None
        return self.answer_last_at + self.score_pause_s

    def fail_held(self, exc: BaseException) -> None:
        """Undecided captions cannot be decided (a failed decision, shutdown): leave their jobs
        unacked, and forget them, so the redelivered jobs are processed again."""
        for cid, h in self.held.items():
            self._seen.pop(cid, None)
            if not h.done.done():
                h.done.set_exception(exc)
        self.held.clear()
        self.tracker.buffer, self.tracker.last_at = [], None

    # ---- captions ----

    async def _on_caption(self, payload: dict[str, Any], done: asyncio.Future[None]) -> None:
        try:
            c = caption_from(payload)
        except (KeyError, TypeError, ValueError):
            log.warning("dropping malformed caption job")
            self._complete([done], [])
            return
        if not c.final or not c.text.strip() or c.id in self._seen:
            self._complete([done], [])
            return
        self._mark_seen(c.id)
        try:
            await self._take_caption(c, payload, done)
        except BaseException:
            self._seen.pop(c.id, None)  # not processed: a redelivery must not be skipped
            self.held.pop(c.id, None)
            raise

    async def _take_caption(self, c: Caption, payload: dict[str, Any], done: asyncio.Future[None]) -> None:
        self._remember_wall(c.id, payload.get("ts"))
        self._add_to_transcript(c)
        own: list[asyncio.Task[Any]] = []
        t = self._maybe_translate(c.id, c.text, c.lang)
        if t:
            own.append(t)
        if c.role == "candidate":
            work = await self._decide_pending(force=False)  # the interviewer has finished
            self.tracker.candidate_spoke()
            if self.current is not None and all(a.id != c.id for a in self.answer_caps):
                self.answer_caps.append(c)
                if not self.voice_seen or self.answer_last_at is None:  # no voice activity: the caption's arrival
                    self.answer_last_at = self.clock()
            self._complete([done], own + work)
            return
        self.held[c.id] = _Held(done, own)
        if self.tracker.add(c, self.clock()):
            caps = self.tracker.take()
            work = await self._question_from(caps)
            self._release(work)
        else:
            self._release([])  # a caption pushed out of a full buffer is decided (as a lead-in)

    async def _decide_pending(self, *, force: bool) -> list[asyncio.Task[Any]]:
        if not self.tracker.buffer:
            return []
        texts = [c.text for c in self.tracker.buffer]
        if force or await self._detect(texts):
            work = await self._question_from(self.tracker.take())
        else:
            self.tracker.discard()
            work = []
        self._release(work)
        return work

    async def _detect(self, texts: list[str]) -> bool:
        if self.provider.offline:
            return has_question(" ".join(texts))
        if obviously_not_question(" ".join(texts)):
            return False
        async with self.llm_sem:
            return await self.provider.detect(texts, self._pairs())

    def _release(self, work: list[asyncio.Task[Any]]) -> None:
        """Complete the jobs of held captions that are no longer waiting for a decision."""
        waiting = {c.id for c in self.tracker.buffer}
        for cid in [cid for cid in self.held if cid not in waiting]:
            h = self.held.pop(cid)
            self._complete([h.done], h.work + work)

    def _on_voice(self, payload: dict[str, Any]) -> None:
        """The candidate started or stopped speaking (media node VAD): the score waits for the stop."""
        try:
            v = VoiceActivity.from_payload(payload)
        except (KeyError, TypeError, ValueError):
            log.warning("dropping malformed voice job")
            return
        if v.role != "candidate":
            return
        self.voice_seen = True
        self.speaking = v.speaking
        if not v.speaking:
            self.answer_last_at = self.clock()

    # ---- questions and answers ----

    async def _question_from(self, caps: list[Caption]) -> list[asyncio.Task[Any]]:
        work = self._score_current()  # the previous question's answer is over
        last = caps[-1]
        text = " ".join(c.text.strip() for c in caps)
        rec = QuestionRec(
            id=f"q:{last.id}",
            text=text,
            lang=last.lang or self.settings.listen_language,
            caption_ids=[c.id for c in caps],
            source="detected",
            t0=caps[0].t0,
            t_end=last.t1,
            asked_at=self._wall.get(last.id, time.time()),
            match=self.bank.match_question(text, self._previous_for(caps[0])),
        )
        await self._publish_question(rec)
        self.current, self.answer_caps, self.scored_n, self.answer_last_at = rec, [], 0, None
        work.append(self._spawn(self._answer(rec, key=None), "answer"))
        t = self._maybe_translate(rec.id, rec.text, rec.lang)
        if t:
            work.append(t)
        return work

    def _previous_for(self, first: Caption, window_s: float = 20.0) -> str | None:
        """The question a follow-up ("And when would you not...?") may lean on."""
        cur = self.current
        if cur is None or cur.t_end is None or first.t0 - cur.t_end > window_s:
            return None
        return cur.text

    async def _publish_question(self, rec: QuestionRec) -> None:
        await insights.insert_question(
            self.pool, self.sid, rec.id, rec.text, rec.lang, rec.caption_ids, source=rec.source, t0=rec.t0
        )
        await bus.publish_once(
            self.r,
            self.sid,
            f"question:{rec.id}",
            Question(id=rec.id, caption_ids=rec.caption_ids, text=rec.text, lang=rec.lang),
        )
        self.last_question = rec
        log.info("question id=%s source=%s match=%s", rec.id, rec.source, rec.match.entry.id if rec.match else "-")

    async def _on_ask(self, payload: dict[str, Any], entry_id: str, done: asyncio.Future[None]) -> None:
        try:  # the media node's validation, again (older nodes forwarded the raw message)
            ask = messages.parse_client_message({**payload, "type": "ask"})
        except messages.InvalidClientMessage as e:
            await bus.publish_event(self.r, self.sid, e.to_event())
            self._complete([done], [])
            return
        assert isinstance(ask, messages.Ask)
        text = ask.text.strip() if ask.text else ""
        if len(text) > MAX_ASK_CHARS:
            await bus.publish_event(
                self.r,
                self.sid,
                ErrorEvent(code="ask_too_long", message=f"A typed question can be at most {MAX_ASK_CHARS} characters"),
            )
            self._complete([done], [])
            return
        work: list[asyncio.Task[Any]] = []
        now_wall = time.time()
        if text:
            rec = QuestionRec(
                id=f"q:{self.sid}:ask:{entry_id}",
                text=text,
                lang=self.settings.answer_language,
                caption_ids=[],
                source="typed",
                t0=None,
                t_end=None,
                asked_at=now_wall,
                match=self.bank.match_question(text),
            )
            await self._publish_question(rec)
            work.append(self._spawn(self._answer(rec, key=entry_id), "answer"))
        elif self.tracker.buffer:  # the interviewer is still talking: answer what was said so far
            work = await self._decide_pending(force=True)
        elif self.last_question is not None:
            rec = replace(self.last_question, asked_at=now_wall)
            work.append(self._spawn(self._answer(rec, key=entry_id), "answer"))
        else:
            speech = self._latest_interviewer_speech()
            if speech:
                work = await self._question_from(speech)
            else:
                await self._notice(
                    "nothing_to_answer", "info", "Nothing to answer yet: type a question or wait for the interviewer"
                )
        self._complete([done], work)

    def _latest_interviewer_speech(self) -> list[Caption]:
        out: list[Caption] = []
        for c in reversed(self.transcript):
            if c.role == "candidate":
                if out:
                    break
                continue
            out.append(c)
            if len(out) == 3:
                break
        return out[::-1]

    async def _answer(self, rec: QuestionRec, *, key: str | None) -> None:
        session_id_var.set(self.sid)
        if key is None and await insights.get_answer(self.pool, self.sid, rec.id) is not None:
            return  # a redelivered job: this question was answered before the crash
        ctx = AnswerContext(
            question=rec.text,
            language=self.settings.answer_language,
            transcript=self._pairs(),
            hints=self.ctx.hints,
            instructions=self.ctx.instructions,
            resume=self.ctx.resume_text,
            mode=self.ctx.mode,
            match=rec.match,
        )
        parts: list[str] = []
        used = self.provider
        served: list[Provider] = []

        async def fell_back(fb: Fallback) -> None:
            served.append(fb.to)
            await self._fell_back(fb)

        async with self.session_sem, self.llm_sem:
            try:
                # the provider bounds the whole answer (an endless trickle is an ai_timeout)
                await self._stream(self.provider.bind(fell_back).answer(ctx), rec, parts, coalesce=not self.provider.offline)
            except ProviderError as e:
                await self._provider_notice(e, "the answer is cut short" if parts else "no answer")
        if served:
            used = served[-1]
        text = "".join(parts)
        lang = "en" if used.offline else self.settings.answer_language
        await self._outlast(
            "storing the answer", lambda: insights.upsert_answer(self.pool, self.sid, rec.id, text, lang, used.name)
        )
        done_key = f"answer.done:{rec.id}" + (f":{key}" if key else "")
        done = AnswerDone(question_id=rec.id, text=text, lang=lang)
        await self._outlast("sending the answer", lambda: bus.publish_once(self.r, self.sid, done_key, done))
        metrics.LLM_ANSWER_SECONDS.observe(max(0.0, time.time() - rec.asked_at))
        # the answer is in the answering language; the listening-language version is what to say aloud
        target = self._listen_lang(rec.lang)
        if self.settings.translate and not used.offline and target and target != lang:
            await self._translate(answer_ref(rec.id), text, lang, target)

    async def _stream(self, deltas: Any, rec: QuestionRec, parts: list[str], *, coalesce: bool = True) -> None:
        """Publish the answer as it comes: the first token at once, then at most one delta per
        ``DELTA_EVERY_S`` (model tokens arriving faster are joined), so a fast model does not mean
        hundreds of tiny events per answer. Offline chunks (a few words each) go out as they are."""
        pending = ""
        last = 0.0
        async for d in deltas:
            if not parts:
                metrics.LLM_TTFT.observe(max(0.0, time.time() - rec.asked_at))
            parts.append(d)
            pending += d
            now = time.monotonic()
            if not coalesce or now - last >= DELTA_EVERY_S:
                await bus.publish_event(self.r, self.sid, AnswerDelta(question_id=rec.id, delta=pending))
                pending, last = "", now
        if pending:
            await bus.publish_event(self.r, self.sid, AnswerDelta(question_id=rec.id, delta=pending))

    # ---- "Read my screen" ----

    async def _on_screen(self, payload: dict[str, Any], entry_id: str) -> list[asyncio.Task[Any]]:
        key, raw_q = payload.get("image_key"), payload.get("question")
        question = raw_q.strip()[:MAX_ASK_CHARS] if isinstance(raw_q, str) else ""
        if not isinstance(key, str) or not key.startswith(SCREEN_KEY_PREFIX):
            log.warning("dropping malformed screen job")
            return []
        frame = await self.r.getdel(key)  # read once: the frame is gone from Redis from here on
        if frame is None:
            await self._notice(
                "screen_expired", "warning", "The captured screen expired before it could be read; capture it again"
            )
            return []
        return [self._spawn(self._screen_answer(frame.decode(), question, entry_id), "screen")]

    async def _screen_answer(self, image_url: str, question: str, entry_id: str) -> None:
        session_id_var.set(self.sid)
        ctx = ScreenContext(
            image_url=image_url, question=question, language=self.settings.answer_language, transcript=self._pairs()
        )
        rec = QuestionRec(
            id=f"q:{self.sid}:screen:{entry_id}",
            text=question or SCREEN_QUESTION,
            lang=self.settings.answer_language,
            caption_ids=[],
            source="screen",
            t0=None,
            t_end=None,
            asked_at=time.time(),
        )
        parts: list[str] = []
        async with self.session_sem, self.llm_sem:
            deltas = aiter(self.provider.read_screen(ctx))
            try:
                first = await anext(deltas)
            except StopAsyncIteration:
                first = ""
            except ProviderError as e:  # it cannot see (no vision model) or the model failed: said plainly
                log.info("screen question not answered code=%s", e.code)
                await self._notice(e.code, "info" if e.code == "vision_unavailable" else "warning", e.message)
                return
            await self._publish_question(rec)

            async def rest() -> Any:
                yield first
                async for d in deltas:
                    yield d

            try:
                await self._stream(rest(), rec, parts)
            except ProviderError as e:
                await self._provider_notice(e, "the answer is cut short")
        text = "".join(parts)
        lang = self.settings.answer_language
        await self._outlast(
            "storing the answer", lambda: insights.upsert_answer(self.pool, self.sid, rec.id, text, lang, self.provider.name)
        )
        done = AnswerDone(question_id=rec.id, text=text, lang=lang)
        await self._outlast("sending the answer", lambda: bus.publish_once(self.r, self.sid, f"answer.done:{rec.id}", done))

    # ---- after the session ----

    async def _summarize(self, before: list[asyncio.Task[Any]]) -> None:
        """What was asked and how it went, follow-ups and a thank-you draft, once the last score is stored."""
        session_id_var.set(self.sid)
        await asyncio.gather(*before, return_exceptions=True)
        qs = [q for q in await insights.list_questions(self.pool, self.sid) if q["source"] in SUMMARY_SOURCES]
        if not qs:
            return
        caps = await captions_store.list_captions(self.pool, self.sid)
        scores = {s["question_id"]: s for s in await insights.list_scores(self.pool, self.sid)}
        starts = [q["t0"] for q in qs]
        facts: list[QuestionFacts] = []
        for i, q in enumerate(qs):
            sc = scores.get(q["id"])
            answer = sc["candidate_text"] if sc else ""
            if not answer and q["t0"] is not None:  # the candidate's captions until the next question
                end = next((t for t in starts[i + 1 :] if t is not None), float("inf"))
                answer = self._answer_text(c for c in caps if c.role == "candidate" and q["t0"] <= c.t0 < end)
            facts.append(
                QuestionFacts(q["text"], answer, sc["score"] if sc else None, (sc["feedback"] or "") if sc else "")
            )
        ctx = SummaryContext(language=self.settings.answer_language, questions=facts, title=self.ctx.title)
        async with self.llm_sem:
            summary = await self.provider.summarize(ctx)
        await self._outlast(
            "storing the summary",
            lambda: summaries.save_summary(self.pool, self.sid, summary.provider, summary.to_json()),
        )
        log.info("summary written questions=%d by=%s", len(facts), summary.provider)

    # ---- scores ----

    def _score_current(self) -> list[asyncio.Task[Any]]:
        if self.current is None or len(self.answer_caps) <= self.scored_n:
            return []
        caps = list(self.answer_caps)
        self.scored_n = len(caps)
        self.answer_last_at = None
        return [self._spawn(self._score(self.current, caps), "score")]

    async def _score(self, rec: QuestionRec, caps: list[Caption]) -> None:
        session_id_var.set(self.sid)
        answer = self._answer_text(caps)
        facts = measure(caps)
        if facts.words < MIN_SCORED_WORDS:
            return
        ctx = ScoreContext(
            question=rec.text, answer=answer, language=self.settings.answer_language, facts=facts, match=rec.match
        )
        async with self.session_sem, self.llm_sem:
            result = await self.provider.score(ctx)
        await self._outlast(
            "storing the score",
            lambda: insights.insert_score(
                self.pool, self.sid, rec.id, result.score, result.rubric, result.feedback, result.delivery, answer
            ),
        )
        await self._outlast(
            "sending the score",
            lambda: bus.publish_once(
                self.r,
                self.sid,
                f"score:{rec.id}:{len(caps)}",
                Score(
                    question_id=rec.id,
                    score=result.score,
                    rubric=result.rubric,
                    feedback=result.feedback,
                    delivery=result.delivery,
                ),
            ),
        )
        log.info("scored question=%s score=%d words=%d", rec.id, result.score, facts.words)

    @staticmethod
    def _answer_text(caps: Iterable[Caption]) -> str:
        return " ".join(c.text.strip() for c in caps)

    # ---- translation ----

    def _listen_lang(self, detected: str) -> str:
        if self.settings.listen_language and self.settings.listen_language != "auto":
            return self.settings.listen_language
        return detected if detected and detected != "auto" else ""

    def _maybe_translate(self, ref: str, text: str, lang: str) -> asyncio.Task[Any] | None:
        if not self.settings.translate:
            return None
        source = self._listen_lang(lang) if not lang or lang == "auto" else lang
        target = self.settings.answer_language
        if not target or source == target:
            return None
        if self.provider.offline:
            if target == WHISPER_TARGET:
                return None  # the stt worker's Whisper translates this caption
            return self._spawn(self._notice_once("translation_unavailable", "info", TRANSLATION_NOTICE), "notice")
        return self._spawn(self._translate(ref, text, source, target), "translate")

    async def _translate(self, ref: str, text: str, source: str, target: str) -> None:
        session_id_var.set(self.sid)
        try:
            async with self.session_sem, self.llm_sem:
                out = await self.provider.translate(text, source, target)
        except ProviderError as e:
            await self._provider_notice(e, "a translation is missing")
            return
        await self._outlast(
            "storing the translation", lambda: insights.insert_translation(self.pool, self.sid, ref, target, out)
        )
        tr = Translation(ref=ref, lang=target, text=out)
        await self._outlast(
            "sending the translation", lambda: bus.publish_once(self.r, self.sid, f"translation:{ref}:{target}", tr)
        )

    # ---- settings ----

    async def _on_settings(self, p: dict[str, Any]) -> None:
        try:  # the media node's validation, again (older nodes)
            m = messages.parse_client_message({**p, "type": "settings"})
        except messages.InvalidClientMessage as e:
            log.info("settings refused fields=%s", ",".join(e.fields))
            await bus.publish_event(self.r, self.sid, e.to_event())
            return
        assert isinstance(m, messages.SettingsMessage)
        change = m.change
        s = self.settings
        new = Settings(
            change.listen_language if change.listen_language is not None else s.listen_language,
            change.answer_language if change.answer_language is not None else s.answer_language,
            change.translate if change.translate is not None else s.translate,
        )
        self.settings = new
        await self.r.set(settings_key(self.sid), json.dumps(new.__dict__), ex=SETTINGS_TTL_S)
        log.info("settings listen=%s answer=%s translate=%s", new.listen_language, new.answer_language, new.translate)
        if self.provider.offline:
            if new.translate and new.answer_language not in (new.listen_language, WHISPER_TARGET):
                await self._notice_once("translation_unavailable", "info", TRANSLATION_NOTICE)
            if new.answer_language != "en":
                await self._notice_once("offline_english_only", "info", ENGLISH_ONLY_NOTICE)

    # ---- helpers ----

    def _pairs(self) -> list[tuple[str, str]]:
        return [(c.role, c.text) for c in self.transcript]

    def _add_to_transcript(self, c: Caption) -> None:
        if all(x.id != c.id for x in self.transcript):
            self.transcript.append(c)

    def _mark_seen(self, cid: str) -> None:
        self._seen[cid] = None
        while len(self._seen) > 2000:
            self._seen.popitem(last=False)

    def _remember_wall(self, cid: str, ts: Any) -> None:
        self._wall[cid] = float(ts) if isinstance(ts, (int, float)) and ts > 0 else time.time()
        while len(self._wall) > 64:
            self._wall.popitem(last=False)

    async def _outlast(self, what: str, write: Callable[[], Awaitable[Any]]) -> Any:
        """A result's write, retried through a PostgreSQL or Redis restart: these writes run in tasks of
        their own, after the job that started them was acked, so nothing would write the result again
        (a database crash lost an answer in loadtests/chaos.py)."""
        return await retry.retry(write, f"{what} session={self.sid}", attempts=SAVE_ATTEMPTS)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro, f"{self.sid}:{name}")

    def _complete(self, futures: list[asyncio.Future[None]], work: list[asyncio.Task[Any]]) -> None:
        """Resolve job futures once ``work`` is finished (an error leaves the job unacked)."""
        futures = [f for f in futures if not f.done()]
        if not futures:
            return
        if not work:
            for f in futures:
                f.set_result(None)
            return

        async def waiter() -> None:
            results = await asyncio.gather(*work, return_exceptions=True)
            err = next((r for r in results if isinstance(r, BaseException)), None)
            for f in futures:
                if f.done():
                    continue
                if isinstance(err, asyncio.CancelledError):
                    f.cancel()
                elif err is not None:
                    f.set_exception(err)
                else:
                    f.set_result(None)

        self.tasks.spawn(waiter(), f"{self.sid}:complete")

    async def _notice(self, code: str, level: str, message: str) -> None:
        await bus.publish_event(self.r, self.sid, Notice(level=level, code=code, message=message))

    async def _notice_once(self, code: str, level: str, message: str) -> None:
        await bus.publish_once(
            self.r, self.sid, f"notice:{self.sid}:{code}", Notice(level=level, code=code, message=message)
        )

    async def _fell_back(self, fb: Fallback) -> None:
        await self._provider_notice(fb.error, fb.consequence)

    async def _provider_notice(self, e: ProviderError, consequence: str) -> None:
        """A provider failure, told to the user at most every 30 s per kind."""
        metrics.LLM_ERRORS.labels(code=e.code).inc()
        log.warning("provider error code=%s message=%s", e.code, e.message)
        now = time.monotonic()
        if now - self._last_notice.get(e.code, -1e9) < 30.0:
            return
        self._last_notice[e.code] = now
        await self._notice(e.code, "warning", f"{e.message}; {consequence}")
