"""The model circuit breaker: after repeated outages the llm worker stops calling the model for a while.

Unit tests move an injected clock; the worker test runs the real worker on real Redis and
Postgres against the local OpenAI-wire server and counts the requests that reach it.
"""

from __future__ import annotations

import json

import asyncpg
import pytest
import redis.asyncio as aioredis

from ai_sidecar.llm.breaker import CircuitBreaker
from ai_sidecar.llm.offline import OFFLINE_HEADER
from ai_sidecar.llm.openai_provider import OpenAIProvider
from ai_sidecar.llm.provider import BadReply, ProviderError
from interview_room.store import insights
from tests.fake_openai import FakeOpenAI, Reply, model_responder
from tests.test_llm_worker import done_count, new_session, running

DETECT_YES = json.dumps({"is_question": True, "question": "Why?"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_half_opens_after_the_open_period() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=3, open_s=30.0, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.failure()
    assert b.allow() and b.state == "closed"
    b.success()  # a success in between resets the count
    for _ in range(2):
        b.failure()
    assert b.state == "closed"
    b.failure()
    assert b.state == "open" and not b.allow() and b.retry_in() == 30.0
    clock.now += 29.9
    assert not b.allow()
    clock.now += 0.2
    assert b.state == "half_open"
    assert b.allow()  # the one trial call
    assert not b.allow() and b.state == "open"  # nobody else while it runs
    b.success()
    assert b.state == "closed" and b.allow() and b.allow()


def test_a_failed_trial_opens_it_again_and_an_unfinished_trial_lets_the_next_call_try() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=2, open_s=10.0, clock=clock)
    b.failure()
    b.failure()
    clock.now += 10
    assert b.allow()
    b.failure()  # one failed trial is enough
    assert not b.allow() and b.retry_in() == 10.0
    clock.now += 10
    assert b.allow()
    b.release()  # the trial was cancelled: no verdict
    assert b.allow()
    b.success()
    assert b.state == "closed"


async def test_provider_refuses_calls_while_open_without_reaching_the_model() -> None:
    clock = Clock()
    async with FakeOpenAI(lambda body: Reply("overloaded", status=500)) as fake:
        p = OpenAIProvider(
            api_key="k",
            base_url=fake.base_url,
            max_retries=0,
            breaker=CircuitBreaker(failures=2, open_s=30, clock=clock),
        )
        try:
            codes = []
            for _ in range(5):
                with pytest.raises(ProviderError) as e:
                    await p.detect(["Why?"], [])
                codes.append(e.value.code)
            assert codes == [
                "ai_unavailable",
                "ai_unavailable",
                "ai_circuit_open",
                "ai_circuit_open",
                "ai_circuit_open",
            ]
            assert len(fake.requests) == 2
            # the model recovers; after the open period one trial reaches it and closes the breaker
            fake.responder = lambda body: Reply(DETECT_YES)
            clock.now += 31
            assert await p.detect(["Why?"], []) is True
            assert await p.detect(["Why?"], []) is True
            assert len(fake.requests) == 4 and p.breaker.state == "closed"
            # a malformed reply is the model answering: it does not count as an outage
            fake.responder = lambda body: Reply("not json")
            for _ in range(3):
                with pytest.raises(BadReply):
                    await p.detect(["Why?"], [])
            assert p.breaker.state == "closed"
        finally:
            await p.close()


QUESTIONS = [
    "What is the difference between a process and a thread?",
    "How does a hash map handle collisions?",
    "How would you design a URL shortener?",
    "Why do you want to work at our company?",
]


async def test_a_hanging_model_is_called_a_bounded_number_of_times_then_offline_answers_with_a_notice(
    r: aioredis.Redis,  # noqa: F811
    pool: asyncpg.Pool,
) -> None:
    clock = Clock()
    sid = await new_session(pool)
    async with FakeOpenAI(lambda body: Reply(hang=True)) as fake:
        p = OpenAIProvider(
            api_key="k",
            base_url=fake.base_url,
            model="answer-model",
            timeout=0.3,
            max_retries=0,
            breaker=CircuitBreaker(failures=2, open_s=30.0, clock=clock),
        )
        async with running(r, pool, p) as h:
            for i, q in enumerate(QUESTIONS, 1):
                await h.caption(sid, "interviewer", q, gap=2.0)
                evs = await h.events(sid, done_count(i))
            assert len(fake.requests) == 2  # two timeouts opened it; nothing reached the model after that
            done = [e for e in evs if e.type == "answer.done"]
            assert all(e.text.startswith(OFFLINE_HEADER) for e in done)  # type: ignore[attr-defined]
            notices = [e.code for e in evs if e.type == "notice"]  # type: ignore[attr-defined]
            assert "ai_circuit_open" in notices, notices
            # the model is healthy again: after the open period the worker uses it again
            fake.responder = model_responder()
            clock.now += 31
            await h.caption(sid, "interviewer", "Tell me about a hard bug you fixed?", gap=2.0)
            evs = await h.events(sid, done_count(len(QUESTIONS) + 1))
    last = [e for e in evs if e.type == "answer.done"][-1]
    assert last.text == "My answer to: Tell me about a hard bug you fixed?"  # type: ignore[attr-defined]
    assert (await insights.get_answer(pool, sid, last.question_id))["provider"] == "openai"  # type: ignore[attr-defined,index]
    assert p.breaker.state == "closed" and len(fake.requests) > 2
