"""One provider interface for every model call (issue 18) and what it serves (issue 19).

- A provider that is neither openai nor offline, implementing only the interface, gets full
  behaviour: live answers and the mock interviewer's question plan come from it.
- ``FallbackProvider`` falls back to the second provider once per failed call and tells its hook.
- Recruiter answer scores are ``answer_score`` jobs of the llm worker; the web process only
  enqueues them (once) and reads the stored result, and no module under signaling/ or web/ imports ai_sidecar.
- "Read my screen": the frame reaches a vision model as an image part; offline it says plainly
  that it needs a model; the frame is read once and gone.
- After the session: a summary and a thank-you draft from the records (offline, no model).

The worker runs in this process on a private job stream (``running`` from test_llm_worker).
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from conftest import Infra
from recruit_fixtures import recruit_api

from ai_sidecar.llm.fallback import FallbackProvider
from ai_sidecar.llm.offline import VISION_NEEDED, OfflineProvider
from ai_sidecar.llm.openai_provider import OpenAIProvider
from ai_sidecar.llm.provider import (
    AnswerContext,
    Fallback,
    PlanRequest,
    Provider,
    ProviderError,
    ReportRequest,
    ScoreContext,
    ScreenContext,
)
from ai_sidecar.llm.scoring import RUBRIC, ScoreResult
from ai_sidecar.llm.summary import SessionSummary, SummaryContext, offline_summary
from ai_sidecar.llm_worker import LlmWorker
from ai_sidecar.mock.planner import PlanItem
from ai_sidecar.mock.prompts import ReportReply
from ai_sidecar.mock.spec import MockSpec
from interview_room import bus
from interview_room.messages import LlmJob
from interview_room.store import answer_scores, insights, reports, summaries
from tests.fake_openai import FakeOpenAI, Reply
from tests.test_llm_worker import done_count, has, new_session, running
from tests.test_recruiting_links import _candidate_with_answer
from web.recruiting.scoring import SCORER

ROOT = Path(__file__).resolve().parents[1]
FRAME = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwg"


class EchoProvider(Provider):
    """A third provider: no model, no offline rules, only the interface."""

    name = "echo"

    async def detect(self, latest: Sequence[str], transcript: Sequence[tuple[str, str]]) -> bool:
        return "?" in " ".join(latest)

    async def answer(self, ctx: AnswerContext) -> AsyncIterator[str]:
        for part in ("Echo says: ", ctx.question):
            yield part

    async def translate(self, text: str, source: str, target: str) -> str:
        return f"[{target}] {text}"

    async def score(self, ctx: ScoreContext) -> ScoreResult:
        return ScoreResult(score=50, rubric=dict.fromkeys(RUBRIC, 50), feedback="Echo feedback.")

    async def plan_questions(self, req: PlanRequest) -> list[PlanItem]:
        return [
            PlanItem(f"Echo question {i} about {req.spec.type}?", "behavioural", ["echo"], ["Why?"], 60, self.name)
            for i in range(1, req.spec.question_count + 1)
        ]

    async def word_report(self, req: ReportRequest) -> ReportReply | None:
        return None

    async def read_screen(self, ctx: ScreenContext) -> AsyncIterator[str]:
        yield "Echo sees a screen."

    async def summarize(self, ctx: SummaryContext) -> SessionSummary:
        return offline_summary(ctx)


# ---- the interface, without isinstance checks ----


async def test_a_third_provider_answers_live_questions(r: aioredis.Redis, pool: asyncpg.Pool) -> None:  # noqa: F811
    sid = await new_session(pool)
    async with running(r, pool, EchoProvider()) as h:
        await h.caption(sid, "interviewer", "What is a process?")
        evs = await h.events(sid, done_count())
    done = next(e for e in evs if e.type == "answer.done")
    assert done.text == "Echo says: What is a process?"  # type: ignore[attr-defined]
    assert (await insights.get_answer(pool, sid, done.question_id))["provider"] == "echo"  # type: ignore[attr-defined,index]
    assert not any(e.type == "notice" and e.code == "ai_offline" for e in evs)  # type: ignore[attr-defined]


async def test_a_third_provider_plans_the_mock_interview(r: aioredis.Redis, pool: asyncpg.Pool) -> None:  # noqa: F811
    sid = await new_session(pool)
    await pool.execute(
        "UPDATE sessions SET mode = 'mock', mock = $2 WHERE id = $1",
        uuid.UUID(sid),
        {"type": "system_design", "difficulty": "medium", "focus_areas": [], "requirements": "", "duration_minutes": 30},
    )
    async with running(r, pool, EchoProvider()) as h:
        await h.job(LlmJob("mock", sid, {"action": "start"}))
        evs = await h.events(sid, has("mock.question"))
    q = next(e for e in evs if e.type == "mock.question")
    assert q.text == "Echo question 1 about system_design?" and q.index == 1  # type: ignore[attr-defined]
    state = await reports.get_state(pool, sid)
    assert state is not None and state.provider == "echo"
    assert [p.source for p in await reports.list_planned(pool, sid)] == ["echo"] * state.total
    assert not any(e.type == "notice" for e in evs)  # not an offline mock interview


# ---- the fallback wrapper ----


class Failing(EchoProvider):
    """Every call fails (before any answer text, or after the first delta with ``after_first``)."""

    name = "failing"

    def __init__(self, after_first: bool = False) -> None:
        self.calls: list[str] = []
        self.after_first = after_first

    async def detect(self, latest: Sequence[str], transcript: Sequence[tuple[str, str]]) -> bool:
        self.calls.append("detect")
        raise ProviderError("ai_unavailable", "down")

    async def score(self, ctx: ScoreContext) -> ScoreResult:
        self.calls.append("score")
        raise ProviderError("ai_timeout", "slow")

    async def plan_questions(self, req: PlanRequest) -> list[PlanItem]:
        self.calls.append("plan")
        raise ProviderError("ai_bad_reply", "garbled")

    async def translate(self, text: str, source: str, target: str) -> str:
        self.calls.append("translate")
        raise ProviderError("ai_unavailable", "down")

    async def answer(self, ctx: AnswerContext) -> AsyncIterator[str]:
        self.calls.append("answer")
        if self.after_first:
            yield "Half an "
        raise ProviderError("ai_unavailable", "down")


class Counting(OfflineProvider):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def detect(self, latest: Sequence[str], transcript: Sequence[tuple[str, str]]) -> bool:
        self.calls.append("detect")
        return await super().detect(latest, transcript)

    async def score(self, ctx: ScoreContext) -> ScoreResult:
        self.calls.append("score")
        return await super().score(ctx)

    async def plan_questions(self, req: PlanRequest) -> list[PlanItem]:
        self.calls.append("plan")
        return await super().plan_questions(req)

    async def answer(self, ctx: AnswerContext) -> AsyncIterator[str]:
        self.calls.append("answer")
        async for d in super().answer(ctx):
            yield d


async def test_fallback_wrapper_falls_back_once_per_call_and_tells_its_hook() -> None:
    first, second = Failing(), Counting()
    told: list[Fallback] = []

    async def hook(fb: Fallback) -> None:
        told.append(fb)

    p = FallbackProvider(first, second).bind(hook)
    assert p.name == "failing" and not p.offline
    assert await p.detect(["What is a hash map?"], []) is True
    res = await p.score(ScoreContext(question="What is a hash map?", answer="A table of buckets keyed by hash.", language="en"))
    assert set(res.rubric) == set(RUBRIC)
    plan = await p.plan_questions(PlanRequest(spec=MockSpec(type="dsa"), seed="s"))
    assert plan and all(i.source == "bank" for i in plan)
    text = "".join([d async for d in p.answer(AnswerContext(question="What is a hash map?", language="en"))])
    assert text.startswith("Offline talking points")
    assert first.calls == ["detect", "score", "plan", "answer"] and second.calls == first.calls  # once each
    assert [(f.what, f.error.code, f.to.name) for f in told] == [
        ("detect", "ai_unavailable", "offline"),
        ("score", "ai_timeout", "offline"),
        ("plan", "ai_bad_reply", "offline"),
        ("answer", "ai_unavailable", "offline"),
    ]
    assert told[3].consequence == "showing offline talking points"
    # the second cannot translate either: the first error (the real cause) is raised, nothing is told
    with pytest.raises(ProviderError) as e:
        await p.translate("hola", "es", "en")
    assert e.value.code == "ai_unavailable" and len(told) == 4


async def test_an_answer_cut_short_is_not_restarted_by_the_fallback() -> None:
    second = Counting()
    p = FallbackProvider(Failing(after_first=True), second)
    got: list[str] = []
    with pytest.raises(ProviderError):
        async for d in p.answer(AnswerContext(question="Q?", language="en")):
            got.append(d)
    assert got == ["Half an "] and second.calls == []


# ---- recruiter answer scores in the llm worker ----


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_signaling_module_imports_ai_sidecar() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.split(".")[0] == "ai_sidecar")
        for p in [*(ROOT / "signaling").rglob("*.py"), *(ROOT / "web").rglob("*.py")]
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    # and at run time: the assembled web app loads no ai_sidecar module
    code = (
        "import sys, web.app, web.recruiting; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'ai_sidecar'); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


async def test_answer_score_job_runs_in_the_llm_worker_and_reaches_the_review(infra: Infra) -> None:
    async with recruit_api(infra, llm_worker=False) as api:
        api.app[SCORER].wait_s = 0.5  # no worker here: do not wait long for it
        rec, cid, sid = await _candidate_with_answer(api, ["I tuned PostgreSQL indexes and moved events to Kafka."])
        for _ in range(2):  # the web process makes no score itself, and asks the worker once
            st, review = await api.call("GET", f"/api/org/candidates/{cid}", rec)
            assert st == 200 and review["answers"][0]["score"] == {"pending": True} and review["overall_score"] is None
        jobs = [LlmJob.from_fields(f) for _, f in await api.redis.xrange(bus.LLM_JOBS)]
        assert [(j.kind, j.session_id) for j in jobs] == [("answer_score", sid)]
        assert jobs[0].payload["question"]["text"] and "PostgreSQL" in jobs[0].payload["job_description"]
        assert await api.pool.fetchval("SELECT count(*) FROM answer_scores WHERE session_id = $1", uuid.UUID(sid)) == 0

        # the llm worker takes the job: the score is stored, announced, and the review shows it
        ps = api.redis.pubsub()
        await ps.subscribe(answer_scores.CHANNEL)
        worker = LlmWorker(r=api.redis, pool=api.pool, provider=OfflineProvider())
        consumer = bus.StreamConsumer(api.redis, bus.LLM_JOBS, bus.LLM_GROUP, "t", worker.handle, block_ms=100)
        task = asyncio.create_task(consumer.run())
        try:
            msg = None
            async with asyncio.timeout(20):
                while msg is None:
                    msg = await ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
            pushed = json.loads(msg["data"])
            assert pushed["session_id"] == sid and pushed["score"]["provider"] == "offline"
            st, review = await api.call("GET", f"/api/org/candidates/{cid}", rec)
            score = review["answers"][0]["score"]
            assert score == pushed["score"] and 0 <= score["score"] <= 100 and review["overall_score"] == score["score"]
            row = await answer_scores.get_score(api.pool, uuid.UUID(sid))
            assert row is not None and row.provider == "offline" and row.score == score
        finally:
            await ps.aclose()
            await asyncio.wait_for(consumer.stop(), 10)
            await asyncio.wait_for(task, 10)
            await worker.close()


# ---- "Read my screen" ----


async def test_screen_question_sends_an_image_part_to_the_vision_model(r: aioredis.Redis, pool: asyncpg.Pool) -> None:  # noqa: F811
    sid = await new_session(pool)
    async with FakeOpenAI(lambda body: Reply("Use a hash map: one pass, O(n).", token_delay=0.001)) as fake:
        p = OpenAIProvider(api_key="k", base_url=fake.base_url, model="text-m", vision_model="vision-m", timeout=5.0)
        async with running(r, pool, p) as h:
            key = f"screen:frame:{uuid.uuid4().hex}"
            await r.set(key, FRAME, ex=60)
            await h.job(LlmJob("screen", sid, {"image_key": key, "question": "How do I solve this?"}))
            evs = await h.events(sid, done_count())
        assert await r.exists(key) == 0  # read once, gone
    done = next(e for e in evs if e.type == "answer.done")
    assert done.text == "Use a hash map: one pass, O(n)."  # type: ignore[attr-defined]
    q = next(e for e in evs if e.type == "question")
    assert q.text == "How do I solve this?" and q.id == done.question_id  # type: ignore[attr-defined]
    (req,) = fake.requests
    assert req["model"] == "vision-m" and req["stream"] is True
    parts = req["messages"][1]["content"]
    image = next(x for x in parts if x["type"] == "image_url")
    assert image["image_url"]["url"] == FRAME
    assert "How do I solve this?" in next(x for x in parts if x["type"] == "text")["text"]


async def test_offline_screen_question_says_it_needs_a_model(r: aioredis.Redis, pool: asyncpg.Pool) -> None:  # noqa: F811
    sid = await new_session(pool)
    async with running(r, pool, OfflineProvider()) as h:
        key = f"screen:frame:{uuid.uuid4().hex}"
        await r.set(key, FRAME, ex=60)
        await h.job(LlmJob("screen", sid, {"image_key": key, "question": ""}))
        evs = await h.events(sid, has("notice", code="vision_unavailable"))
        assert await r.exists(key) == 0
    n = next(e for e in evs if e.type == "notice" and e.code == "vision_unavailable")  # type: ignore[attr-defined]
    assert n.message == VISION_NEEDED and "needs a vision-capable AI model" in n.message  # type: ignore[attr-defined]
    assert not any(e.type in ("question", "answer.done") for e in evs)
    assert await insights.list_questions(pool, sid) == []


async def test_screen_question_route_keeps_the_frame_out_of_storage(infra: Infra) -> None:
    async with recruit_api(infra, llm_worker=False) as api:
        token = await api.recruiter(None)
        st, s = await api.call("POST", "/api/sessions", token, json={"title": "Screen"})
        assert st == 201, s
        path = f"/api/sessions/{s['id']}/screen-question"
        for bad in ({"image": "data:text/html;base64,PGI+"}, {"image": "data:image/png;base64,/9j/4AAQ"}, {}):
            st, body = await api.call("POST", path, token, json=bad)
            assert st == 400 and body["error"]["code"] == "validation_error", body
        assert await api.redis.xlen(bus.LLM_JOBS) == 0  # refused: nothing queued
        st, body = await api.call("POST", path, token, json={"image": FRAME, "question": "What is this?"})
        assert st == 202, body
        (job,) = [LlmJob.from_fields(f) for _, f in await api.redis.xrange(bus.LLM_JOBS)]
        assert job.kind == "screen" and job.session_id == s["id"] and job.payload["question"] == "What is this?"
        assert "image" not in job.payload and await api.redis.get(job.payload["image_key"]) == FRAME.encode()
        assert 0 < await api.redis.ttl(job.payload["image_key"]) <= 120
        other = await api.recruiter(None)
        st, _ = await api.call("POST", path, other, json={"image": FRAME})
        assert st == 404  # another user's session


# ---- after the session ----


async def test_offline_summary_and_thank_you_after_the_session(r: aioredis.Redis, pool: asyncpg.Pool) -> None:  # noqa: F811
    sid = await new_session(pool)
    async with running(r, pool, OfflineProvider(), score_pause_s=120.0) as h:
        await h.caption(sid, "interviewer", "What is the difference between a process and a thread?")
        await h.events(sid, done_count())
        await h.caption(sid, "candidate", "A process has its own memory; threads share the memory of their process.", dur=5.0)
        await h.caption(sid, "interviewer", "How would you design a URL shortener?", gap=2.0)
        await h.events(sid, done_count(2))
        await h.job(LlmJob("session_end", sid, {}))

        async def written() -> dict[str, Any] | None:
            return await summaries.get_summary(pool, uuid.UUID(sid))

        row = None
        async with asyncio.timeout(20):
            while row is None:
                row = await written()
                await asyncio.sleep(0.1)
    s = row["summary"]
    assert row["provider"] == "offline" and s["provider"] == "offline"
    assert [q["question"] for q in s["questions"]] == [
        "What is the difference between a process and a thread?",
        "How would you design a URL shortener?",
    ]
    first, second = s["questions"]
    assert "threads share the memory" in first["answer_gist"] and first["score"] is not None
    assert second["answer_gist"] == "" and second["how_it_went"] == "No spoken answer was captured."
    assert s["overall"].startswith("2 questions asked, 1 answered")
    assert any("URL shortener" in f for f in s["follow_ups"])
    assert s["thank_you_subject"] and "Thank you for taking the time" in s["thank_you_body"]
    assert "process and a thread" in s["thank_you_body"]
