"""The mock interviewer of one session: asks, listens, follows up, moves on, and writes the report.

Turns: ask question i -> the candidate answers (candidate captions) -> after a pause (no speech
for ``pause_s``; the media node's "speaking now" mark keeps a long answer from being cut) either
one follow-up (a key point missed, once per question; the interviewer says which point) or
question i+1 -> ... -> done (out of questions, out of time, or "end"). "I'm done"/"next question"
moves on at once, never into a follow-up, also when said at the end of an answer (as are "skip",
"repeat" and "end the interview"). "skip" and "repeat" come by voice or as
``{"type": "mock", "action": ...}`` from the client. A question nobody answers is left after its
wait (``follow_up_wait_s`` for a follow-up); the last ``COUNTDOWN_S`` of it are announced
(``mock.countdown``) so the screen shows "moving on in N s" instead of dead air.

Why the state lives in Postgres (``mock_sessions``): any llm worker may hold the session's next
job or timer, and a worker may die; every turn change is a compare-and-set on ``step`` and every
event is published once per step, so no turn is taken twice and none is lost on a restart.
Wall-clock timestamps in that row give every worker the same timers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from interview_room import bus
from interview_room.logs import session_id_var
from interview_room.messages import Caption, LlmJob, MockCountdown, MockDone, MockQuestion, Notice, Question, Score
from interview_room.service import TaskGroup
from interview_room.store import insights
from interview_room.store import reports as store
from interview_room.store.insights import SessionContext
from interview_room.store.reports import MockState, PlannedQuestion

from ..llm.bank import BankEntry, BankMatch, coverage
from ..llm.delivery import measure
from ..llm.provider import Fallback, PlanRequest, Provider, ReportRequest, ScoreContext
from ..llm.session import caption_from
from ..llm.text import terms
from . import planner
from .commands import parse_command
from .report import AnswerFacts, build_report, report_prompt_data
from .spec import MockSpec

log = logging.getLogger("llm.mock")

VOICE_KEY = "mock:voice:{}"  # written by the media node: "<wall> <session t>" of the candidate's latest speech
SPEECH_WPS = 2.6  # words per second the interviewer speaks (to know when a question has been heard)
NO_ANSWER_MIN_S = 45.0
FOLLOW_UP_WAIT_S = 15.0  # default of MOCK_FOLLOW_UP_WAIT_MS: silence after a follow-up before moving on
COUNTDOWN_S = 10.0  # the last seconds of a wait for an answer are announced ("moving on in N s")
OVERTIME_GRACE_S = 60.0
MIN_FOLLOW_UP_WORDS = 8
LATE_CAPTION_S = 15.0  # without a speech mark: captions this soon after the end still belong to the last answer
RECENT_SESSIONS = 5
OFFLINE_NOTICE = (
    "Offline mock interview: questions come from the built-in question bank and answers are scored by "
    "key-point coverage and measured delivery; configure an AI provider for tailored questions"
)


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


class MockEngine:
    """The llm worker's engine for a ``mock`` session (same interface as ``SessionEngine``)."""

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
        pause_s: float = 4.5,
        follow_up_wait_s: float = FOLLOW_UP_WAIT_S,
    ) -> None:
        self.ctx = ctx
        self.sid = ctx.id
        self.r = r
        self.pool = pool
        # the worker's provider: a model's failed calls are served by the offline provider inside it
        self.provider = provider.bind(self._fell_back)
        self.tasks = tasks
        self.llm_sem = llm_sem
        self.clock = clock
        self.pause_s = pause_s
        self.follow_up_wait_s = follow_up_wait_s
        self._counted_down = -1  # the step whose countdown this worker has published
        lang = ctx.listen_language if ctx.listen_language not in ("", "auto") else ctx.answer_language
        self.spec = MockSpec(language=lang or "en")
        self.state: MockState | None = None
        self.plan: list[PlannedQuestion] = []
        self.held: dict[str, Any] = {}  # the runner's interface: this engine never holds a job back
        self.closed = False
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._scoring: dict[int, asyncio.Task[Any]] = {}
        self._hold_until = 0.0  # wall time: the candidate was still speaking at the last check

    # ---- the runner's interface ----

    async def restore(self, first: LlmJob | None) -> None:
        self.spec = MockSpec.from_config(await store.get_mock_config(self.pool, self.sid), self.spec.language)
        await self._load()

    async def start(self) -> None:
        if self.provider.offline:
            await bus.publish_once(
                self.r,
                self.sid,
                f"notice:{self.sid}:mock_offline",
                Notice(
                    level="info",
                    code="mock_offline",
                    message=OFFLINE_NOTICE + ("; its questions are in English" if self.spec.language != "en" else ""),
                ),
            )

    def fail_held(self, exc: BaseException) -> None:
        return None

    async def on_job(self, job: LlmJob, entry_id: str, done: asyncio.Future[None]) -> None:
        session_id_var.set(self.sid)
        if job.kind == "mock":
            action = job.payload.get("action")
            if await self.r.set(f"mock:job:{entry_id}", "1", nx=True, ex=bus.PUBLISHED_TTL_S):  # a redelivered action is not taken twice
                await self._on_action(str(action))
        elif job.kind == "caption":
            await self._on_caption(job.payload)
        elif job.kind == "session_end":
            await self._on_end()
            self.closed = True
        elif job.kind == "ask":
            await bus.publish_once(
                self.r,
                self.sid,
                f"notice:{self.sid}:mock_no_ask",
                Notice(level="info", code="mock_no_ask", message="In a mock interview the AI is the interviewer; suggested answers are off"),
            )
        if not done.done():
            done.set_result(None)

    def next_deadline(self) -> float | None:
        wall = self._due_wall()
        if wall is None:
            return None
        warn = self._countdown_wall()
        if warn is not None and warn < wall:
            wall = warn
        return self.clock() + max(0.0, wall - time.time())

    def _countdown_wall(self) -> float | None:
        """When to announce "moving on in N s": nobody has answered yet, and not announced for this turn."""
        s = self.state
        due = self._due_wall()
        if s is None or due is None or s.phase != "asking" or self._counted_down == s.step:
            return None
        return due - COUNTDOWN_S

    async def on_tick(self) -> None:
        session_id_var.set(self.sid)
        await self._load()
        s = self.state
        if s is None or s.phase not in ("asking", "answering"):
            return
        now = time.time()
        due = self._due_wall()
        if due is None:
            return
        warn = self._countdown_wall()
        if warn is not None and warn <= now < due:
            await self._countdown(due - now)
        if now < due:
            return
        if now >= self._hard_end():
            await self._finish_turn("time_up")
            return
        voice = await self._voice()
        if voice is not None and voice[0] + self.pause_s > now:
            self._hold_until = voice[0] + self.pause_s  # still speaking, or the caption is on its way
            return
        await self._finish_turn("pause" if s.phase == "answering" else "no_answer")

    # ---- state ----

    async def _load(self) -> None:
        self.state = await store.get_state(self.pool, self.sid)
        if self.state is not None and len(self.plan) != self.state.total:
            self.plan = await store.list_planned(self.pool, self.sid)

    async def _reload_plan(self) -> None:
        self.plan = await store.list_planned(self.pool, self.sid)

    @property
    def lang(self) -> str:
        """The language the interviewer speaks: the bank's questions are English; a model writes in the session's."""
        return "en" if self.state is None or self.state.provider == "offline" else self.spec.language

    def _say(self, english_lead: str, text: str) -> str:
        """The interviewer's own phrases are English: in another language only the question is said."""
        return f"{english_lead} {text}".strip() if self.lang == "en" else text

    @property
    def current(self) -> PlannedQuestion | None:
        s = self.state
        if s is None or not 1 <= s.current <= len(self.plan):
            return None
        return self.plan[s.current - 1]

    def _hard_end(self) -> float:
        s = self.state
        start = _ts(s.started_at) if s is not None else None
        return (start or time.time()) + self.spec.duration_minutes * 60 + OVERTIME_GRACE_S

    def _due_wall(self) -> float | None:
        """Wall time of the next thing to decide, from the stored state (so any worker agrees)."""
        s = self.state
        q = self.current
        if s is None or q is None or s.phase not in ("asking", "answering"):
            return None
        if s.phase == "answering" and s.last_caption_at is not None:
            due = s.last_caption_at.timestamp() + self.pause_s
        else:
            text = q.follow_up_text if s.follow_up and q.follow_up_text else q.text
            heard = len(text.split()) / SPEECH_WPS + 3.0
            wait = self.follow_up_wait_s if s.follow_up else max(NO_ANSWER_MIN_S, float(q.time_allocation_s))
            due = (_ts(s.turn_started_at) or time.time()) + heard + wait
        # a voice mark from the media node pushes the decision out while the candidate talks
        return min(max(due, self._hold_until), self._hard_end())

    def _out_of_time(self, now: float) -> bool:
        s = self.state
        return s is not None and s.started_at is not None and now >= s.started_at.timestamp() + self.spec.duration_minutes * 60

    async def _voice(self) -> tuple[float, float] | None:
        """(wall, session t) of the candidate's latest speech, from the media node."""
        raw = await self.r.get(VOICE_KEY.format(self.sid))
        if not raw:
            return None
        try:
            wall, t = (float(x) for x in raw.decode().split())
        except (ValueError, UnicodeDecodeError):
            return None
        return wall, t

    async def _countdown(self, left: float) -> None:
        """Announce the move-on, once per turn; not while the candidate has just been speaking."""
        s, q = self.state, self.current
        if s is None or q is None:
            return
        self._counted_down = s.step  # decided once per turn (else the runner would tick again at once)
        voice = await self._voice()
        if voice is not None and voice[0] + self.pause_s > time.time():
            return
        seconds = max(1, int(round(left)))
        await bus.publish_once(
            self.r,
            self.sid,
            f"mock.countdown:{self.sid}:{s.step}",
            MockCountdown(question_id=q.question_id, seconds=seconds, follow_up=s.follow_up),
        )
        log.info("mock moving on in %d s (no answer to question %d)", seconds, q.idx)

    # ---- actions ----

    async def _on_action(self, action: str) -> None:
        await self._load()
        if action == "start":
            if self.state is None:
                await self._create_plan()
            s = self.state
            if s is None:
                return
            if s.phase == "planned":
                await self._ask(1, reason="start")
            elif s.phase in ("asking", "answering"):
                await self._repeat()  # the client reconnected to a new media session: say it again
            return
        s = self.state
        if s is None or s.phase not in ("asking", "answering"):
            return
        if action == "repeat":
            await self._repeat()
        elif action == "skip":
            await self._finish_turn("skip")
        elif action == "next":
            await self._finish_turn("next")
        elif action == "end":
            await self._finish_turn("end")

    async def _create_plan(self) -> None:
        avoid = await self._recent_bank_ids()
        req = PlanRequest(spec=self.spec, resume=self.ctx.resume_text, hints=self.ctx.hints, seed=self.sid, avoid=avoid)
        async with self.llm_sem:
            items = await self.provider.plan_questions(req)
        if not items:
            items = planner.offline_plan(self.spec, self.sid, avoid=avoid)
        provider_name = next((it.source for it in items if it.source != "bank"), "offline")
        questions = [
            PlannedQuestion(
                idx=i,
                question_id=f"q:{self.sid}:mock:{i}",
                text=it.text,
                category=it.category,
                key_points=it.key_points,
                follow_ups=it.follow_ups,
                time_allocation_s=it.time_allocation_s,
                source=it.source,
                bank_id=it.bank_id,
            )
            for i, it in enumerate(items, start=1)
        ]
        state = MockState(
            session_id=self.sid,
            user_id=self.ctx.user_id,
            mock_type=self.spec.type,
            difficulty=self.spec.difficulty,
            provider=provider_name,
            total=len(questions),
        )
        created = await store.create_plan(self.pool, state, questions)
        await self._load()
        await self._reload_plan()
        log.info("mock plan %s questions=%d by=%s", "created" if created else "kept", len(self.plan), provider_name)

    async def _recent_bank_ids(self) -> list[str]:
        return await store.recent_bank_ids(self.pool, self.ctx.user_id, self.spec.type, RECENT_SESSIONS)

    def _lead_in(self, idx: int, reason: str) -> str:
        total = len(self.plan)
        if idx == 1:
            return (
                f"Hello, I'm your interviewer today. This is a {self.spec.type_name} interview with {total} questions. "
                "Answer out loud, and say next question when you are done. Question 1."
            )
        prefix = {"skip": "Okay, let's skip that one.", "no_answer": "Let's move on."}.get(reason, "Thank you.")
        if idx == total:
            return f"{prefix} Here is the last question. Question {idx}."
        return f"{prefix} Question {idx}."

    async def _ask(self, idx: int, *, reason: str, boundary_t: float | None = None) -> None:
        s = self.state
        assert s is not None
        if idx > len(self.plan):
            await self._done("completed")
            return
        q = self.plan[idx - 1]
        now = _now()
        changes: dict[str, Any] = {"current": idx, "phase": "asking", "follow_up": False, "turn_started_at": now, "last_caption_at": None}
        if boundary_t is not None:
            changes["boundary_t"] = boundary_t
        new = await store.advance(self.pool, self.sid, s.step, **changes)
        if new is None:
            await self._load()  # another worker took this turn
            return
        self.state = new
        await store.update_question(self.pool, self.sid, idx, status="asked", asked_at=now)
        q.status, q.asked_at = "asked", now
        await insights.insert_question(self.pool, self.sid, q.question_id, q.text, self.lang, [], source="mock")
        await bus.publish_once(
            self.r, self.sid, f"question:{q.question_id}", Question(id=q.question_id, caption_ids=[], text=q.text, lang=self.lang)
        )
        await self._publish_question(q, speech=self._say(self._lead_in(idx, reason), q.text), follow_up=False, repeat=False)
        log.info("mock question %d/%d asked reason=%s", idx, len(self.plan), reason)

    async def _publish_question(
        self, q: PlannedQuestion, *, speech: str, follow_up: bool, repeat: bool, reason: str = ""
    ) -> None:
        s = self.state
        assert s is not None
        text = q.follow_up_text if follow_up and q.follow_up_text else q.text
        await bus.publish_once(
            self.r,
            self.sid,
            f"mock.question:{self.sid}:{s.step}",
            MockQuestion(
                index=q.idx,
                total=len(self.plan),
                question_id=q.question_id,
                text=text,
                follow_up=follow_up,
                repeat=repeat,
                speech=speech,
                time_allocation_s=q.time_allocation_s,
                lang=self.lang,
                reason=reason if self.lang == "en" else "",
            ),
        )

    async def _repeat(self) -> None:
        s, q = self.state, self.current
        if s is None or q is None:
            return
        # listening again: the pause timer waits for new speech (what was said so far still counts)
        new = await store.advance(self.pool, self.sid, s.step, phase="asking", turn_started_at=_now(), last_caption_at=None)
        if new is None:
            await self._load()
            return
        self.state = new
        await store.bump_repeats(self.pool, self.sid, q.idx)
        follow = new.follow_up and bool(q.follow_up_text)
        text = q.follow_up_text if follow and q.follow_up_text else q.text
        await self._publish_question(q, speech=self._say("Sure.", text), follow_up=follow, repeat=True)

    async def _finish_turn(self, reason: str) -> None:
        """The candidate's turn is over: a follow-up, the next question, or the end."""
        s, q = self.state, self.current
        if s is None or q is None:
            return
        q = (await store.list_planned(self.pool, self.sid))[q.idx - 1]  # fresh caption ids
        self.plan[q.idx - 1] = q
        caps = await store.captions_by_id(self.pool, q.caption_ids)
        answer = " ".join(c.text for c in caps)
        now = time.time()
        # a follow-up only after a pause: "next question" / "I'm done" is the candidate moving on
        if reason == "pause" and not s.follow_up and caps and not self._out_of_time(now + 60) and q.key_points:
            entry = BankEntry(id=q.question_id, category=q.category, question=q.text, key_points=tuple(q.key_points), outline="")
            cov = coverage(entry, answer)
            if cov.missing and cov.ratio < self.spec.follow_up_below and len(answer.split()) >= MIN_FOLLOW_UP_WORDS and q.follow_ups:
                await self._follow_up(q, cov.missing)
                return
        status = turn_status(bool(caps), reason)
        if caps:
            self._schedule_score(q.idx)
        voice = await self._voice()
        ending = None
        if reason == "end":
            ending = "ended_early"
        elif q.idx >= len(self.plan):
            ending = "completed"
        elif reason == "time_up" or self._out_of_time(now):
            ending = "time_up"
        if ending is not None:
            if await self._done(ending, boundary_t=voice[1] + 0.05 if voice else None):
                await store.update_question(self.pool, self.sid, q.idx, status=status, finished_at=_now())
            return
        before = s.step
        await self._ask(q.idx + 1, reason=reason, boundary_t=voice[1] + 0.05 if voice else None)
        if self.state is not None and self.state.step != before:
            await store.update_question(self.pool, self.sid, q.idx, status=status, finished_at=_now())

    async def _follow_up(self, q: PlannedQuestion, missing: list[str]) -> None:
        s = self.state
        assert s is not None
        text = pick_follow_up(q.follow_ups, missing)
        why = follow_up_reason(missing)
        new = await store.advance(self.pool, self.sid, s.step, follow_up=True, phase="asking", turn_started_at=_now(), last_caption_at=None)
        if new is None:
            await self._load()
            return
        self.state = new
        await store.update_question(self.pool, self.sid, q.idx, follow_up_text=text)
        q.follow_up_text = text
        await self._publish_question(
            q, speech=self._say(f"Let me follow up on that. {why}", text), follow_up=True, repeat=False, reason=why
        )
        log.info("mock follow-up on question %d missing=%d", q.idx, len(missing))

    async def _done(self, reason: str, boundary_t: float | None = None) -> bool:
        s = self.state
        assert s is not None
        changes: dict[str, Any] = {"phase": "done", "ended_at": _now(), "done_reason": reason}
        if boundary_t is not None:
            changes["boundary_t"] = boundary_t
        new = await store.advance(self.pool, self.sid, s.step, **changes)
        if new is None:
            await self._load()
            return False
        self.state = new
        speech = {
            "completed": "That was the last question. Thank you, that's the end of the interview. Your report is being prepared.",
            "time_up": "We're out of time. Thank you, that's the end of the interview. Your report is being prepared.",
        }.get(reason, "Okay, let's stop here. Thank you. Your report is being prepared.")
        speech = speech if self.lang == "en" else ""
        await bus.publish_once(self.r, self.sid, f"mock.done:{self.sid}", MockDone(reason=reason, speech=speech, lang=self.lang))
        log.info("mock interview done reason=%s", reason)
        return True

    # ---- the candidate's speech ----

    async def _on_caption(self, payload: dict[str, Any]) -> None:
        try:
            c = caption_from(payload)
        except (KeyError, TypeError, ValueError):
            return
        if not c.final or not c.text.strip() or c.role != "candidate" or c.id in self._seen:
            return
        self._seen[c.id] = None
        while len(self._seen) > 2000:
            self._seen.popitem(last=False)
        await self._load()
        s = self.state
        if s is None or s.phase == "planned" or not 1 <= s.current <= len(self.plan):
            return
        if s.phase == "done":
            await self._late_caption(s, c)
            return
        action, answer = parse_command(c.text)
        if action is not None and not answer:
            if await self.r.set(f"mock:cmd:{c.id}", "1", nx=True, ex=bus.PUBLISHED_TTL_S):  # a redelivered command is not obeyed twice
                log.info("candidate said action=%s", action)
                await self._on_action(action)
            return
        idx = s.current
        if not s.follow_up and s.boundary_t is not None and c.t0 < s.boundary_t and idx > 1:
            idx -= 1  # late caption of the previous answer (cut at the moment the interviewer moved on)
        if await store.add_answer_caption(self.pool, self.sid, idx, c.id):
            if idx == s.current:
                await store.touch_caption(self.pool, self.sid, _now())
            elif self.plan[idx - 1].status in ("answered", "unanswered", "skipped", "asked", "ended_early"):
                await store.update_question(self.pool, self.sid, idx, status="answered")
                self._schedule_score(idx)
        await self._load()
        # an answer that ends with a command ("... That's all, next question.", "... Can we skip this?")
        if action is not None and await self.r.set(f"mock:cmd:{c.id}", "1", nx=True, ex=bus.PUBLISHED_TTL_S):
            log.info("candidate ended the answer with action=%s", action)
            await self._on_action(action)

    async def _late_caption(self, s: MockState, c: Caption) -> None:
        """Speech transcribed after the interview ended (said before "end"): part of the last answer."""
        ended = _ts(s.ended_at) or 0.0
        spoken_before = c.t0 < s.boundary_t if s.boundary_t is not None else time.time() - ended < LATE_CAPTION_S
        action, rest = parse_command(c.text)
        if not spoken_before or (action is not None and not rest):
            return
        if await store.add_answer_caption(self.pool, self.sid, s.current, c.id):
            await store.update_question(self.pool, self.sid, s.current, status="answered")
            self._schedule_score(s.current)
            log.info("late answer caption kept for question %d", s.current)

    # ---- scores and the report ----

    def _schedule_score(self, idx: int) -> None:
        prev = self._scoring.get(idx)
        self._scoring[idx] = self._spawn(self._score(idx, prev), f"mock-score-{idx}")

    async def _score(self, idx: int, prev: asyncio.Task[Any] | None) -> None:
        session_id_var.set(self.sid)
        if prev is not None:
            await asyncio.gather(prev, return_exceptions=True)
        q = (await store.list_planned(self.pool, self.sid))[idx - 1]
        caps = await store.captions_by_id(self.pool, q.caption_ids)
        if not caps:
            return
        answer = " ".join(c.text.strip() for c in caps)
        facts = measure(caps)
        entry = BankEntry(id=q.bank_id or q.question_id, category=q.category, question=q.text, key_points=tuple(q.key_points), outline="")
        ctx = ScoreContext(question=q.text, answer=answer, language=self.spec.language, facts=facts, match=BankMatch(entry, 1.0))
        async with self.llm_sem:
            result = await self.provider.score(ctx)
        await insights.insert_score(self.pool, self.sid, q.question_id, result.score, result.rubric, result.feedback, result.delivery, answer)
        await bus.publish_once(
            self.r,
            self.sid,
            f"score:{q.question_id}:{len(caps)}",
            Score(question_id=q.question_id, score=result.score, rubric=result.rubric, feedback=result.feedback, delivery=result.delivery),
        )

    async def _on_end(self) -> None:
        """The session ended: close the current turn, score what is not scored yet, build the report."""
        await self._load()
        s = self.state
        if s is None:
            return  # never started: no interview, no report
        if s.phase in ("asking", "answering") and self.current is not None:
            q = (await store.list_planned(self.pool, self.sid))[s.current - 1]
            new = await store.advance(self.pool, self.sid, s.step, phase="done", ended_at=_now(), done_reason="ended")
            if new is not None:
                self.state = new
                await store.update_question(self.pool, self.sid, q.idx, status=turn_status(bool(q.caption_ids), "end"), finished_at=_now())
        await self._load()
        await self._reload_plan()
        scored = {row["question_id"] for row in await insights.list_scores(self.pool, self.sid)}
        for q in self.plan:
            if q.caption_ids and q.question_id not in scored and q.idx not in self._scoring:
                self._schedule_score(q.idx)
        if self._scoring:
            await asyncio.gather(*self._scoring.values(), return_exceptions=True)
        await self._write_report()

    async def _write_report(self) -> None:
        await self._reload_plan()
        state = await store.get_state(self.pool, self.sid)
        assert state is not None
        scores = {row["question_id"]: row for row in await insights.list_scores(self.pool, self.sid)}
        facts = [
            AnswerFacts(q=q, captions=await store.captions_by_id(self.pool, q.caption_ids), score=scores.get(q.question_id))
            for q in self.plan
        ]
        report = build_report(session_id=self.sid, spec=self.spec, state=state, facts=facts, provider=state.provider)
        if report["questions_asked"]:
            interview, qs = report_prompt_data(report)
            async with self.llm_sem:
                wording = await self.provider.word_report(ReportRequest(language=self.spec.language, interview=interview, questions=qs))
            if wording is not None:
                report = build_report(
                    session_id=self.sid, spec=self.spec, state=state, facts=facts, provider=state.provider, wording=wording
                )
        await store.save_report(self.pool, self.sid, self.ctx.user_id, self.spec.type, report)
        log.info("mock report saved overall=%d asked=%d", report["overall_score"], report["questions_asked"])

    async def _fell_back(self, fb: Fallback) -> None:
        """A model call the offline provider answered: the user hears of the plan; scores and wording are logged."""
        log.warning("%s from the model failed code=%s; %s", fb.what, fb.error.code, fb.consequence)
        if fb.what == "plan":
            await bus.publish_event(
                self.r,
                self.sid,
                Notice(level="warning", code=fb.error.code, message=f"{fb.error.message}; {fb.consequence}"),
            )

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro, f"{self.sid}:{name}")


def turn_status(answered: bool, reason: str) -> str:
    """How a question's turn ended, for the report: an answer, a skip, silence, or cut short by "end"."""
    if answered:
        return "answered"
    return {"skip": "skipped", "end": "ended_early"}.get(reason, "unanswered")


def follow_up_reason(missing: list[str]) -> str:
    """What the interviewer says before a follow-up: the key point the answer left out."""
    point = missing[0].strip().rstrip(".")
    return f"Your answer did not cover {point[:1].lower() + point[1:]}."


def pick_follow_up(follow_ups: list[str], missing: list[str]) -> str:
    """The follow-up that asks most about the missed points (the first one on a tie)."""
    want = set(terms(" ".join(missing)))
    return max(follow_ups, key=lambda f: (len(want & set(terms(f))), -follow_ups.index(f)))


def mock_engine(worker: Any, ctx: SessionContext, pause_s: float) -> MockEngine:
    """Built from the llm worker's shared parts (see ``LlmWorker.new_engine``)."""
    return MockEngine(
        ctx,
        r=worker.r,
        pool=worker.pool,
        provider=worker.provider,
        tasks=worker.tasks,
        llm_sem=worker.llm_sem,
        clock=worker.clock,
        pause_s=pause_s,
        follow_up_wait_s=getattr(worker, "mock_follow_up_wait_s", FOLLOW_UP_WAIT_S),
    )

