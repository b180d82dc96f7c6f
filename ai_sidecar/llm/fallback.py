"""Falling back to the offline provider when a model fails: one wrapper, like ``FallbackSynthesizer``.

``FallbackProvider(first, second)`` is a provider: each call goes to ``first``; when it raises a
``ProviderError`` (timeout, outage, open circuit, bad reply) the same call goes once to ``second``
and the failure is told to the hook given by ``bind`` (the caller's notice, with what the user
gets instead). When ``second`` cannot serve the call either (translation, reading the screen:
the offline provider cannot), the first error is raised, as it names the real cause. An answer
that failed after it started streaming is not restarted: the caller gets the error and keeps
what was said. The wrapper also bounds a whole streamed answer (``first.deadline`` plus
``STREAM_GRACE_S``), so a model that trickles tokens forever becomes an ``ai_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from .provider import (
    AnswerContext,
    Fallback,
    FallbackHook,
    PlanRequest,
    Provider,
    ProviderError,
    ReportRequest,
    ScoreContext,
    ScreenContext,
)
from .scoring import ScoreResult
from .summary import SessionSummary, SummaryContext

if TYPE_CHECKING:
    from ..mock.planner import PlanItem
    from ..mock.prompts import ReportReply
    from .cv import CvReading, CvRequest
    from .suggest import SuggestedQuestion, SuggestRequest

log = logging.getLogger("llm.fallback")
T = TypeVar("T")
STREAM_GRACE_S = 30.0

CONSEQUENCES = {
    "detect": "question detection used the offline rules",
    "answer": "showing offline talking points",
    "translate": "a translation is missing",
    "score": "the score uses the offline rubric",
    "plan": "questions come from the built-in bank",
    "report": "the report keeps its rule-based wording",
    "screen": "the screen was not read",
    "summary": "the summary is built from the transcript without a model",
    "suggest": "the questions come from the job description and the built-in bank",
    "cv": "the CV was read without a model",
}


class FallbackProvider(Provider):
    """``first``, and ``second`` when the first fails."""

    def __init__(self, first: Provider, second: Provider, hook: FallbackHook | None = None) -> None:
        self.first = first
        self.second = second
        self.hook = hook
        self.name = first.name
        self.offline = first.offline

    @property
    def deadline(self) -> float:  # type: ignore[override]
        return self.first.deadline

    def bind(self, hook: FallbackHook) -> Provider:
        return FallbackProvider(self.first, self.second, hook)

    async def _fell_back(self, what: str, e: ProviderError) -> None:
        log.warning("%s failed, %s answers what=%s code=%s", self.first.name, self.second.name, what, e.code)
        if self.hook is not None:
            await self.hook(Fallback(error=e, what=what, consequence=CONSEQUENCES[what], to=self.second))

    async def _call(self, what: str, call: Callable[[Provider], Awaitable[T]]) -> T:
        try:
            return await call(self.first)
        except ProviderError as e:
            try:
                out = await call(self.second)
            except ProviderError:
                raise e from None
            await self._fell_back(what, e)
            return out

    async def _streamed(self, what: str, open_stream: Callable[[Provider], AsyncIterator[str]]) -> AsyncIterator[str]:
        started = False
        it = aiter(open_stream(self.first))
        end = asyncio.get_running_loop().time() + self.first.deadline + STREAM_GRACE_S
        try:
            while True:
                try:
                    async with asyncio.timeout_at(end):
                        delta = await anext(it)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise ProviderError("ai_timeout", "The AI answer took too long") from None
                started = True
                yield delta
        except ProviderError as e:
            if started:
                raise  # cut short: what was said stays, the caller tells the user
            second = aiter(open_stream(self.second))
            try:
                first_delta = await anext(second)
            except StopAsyncIteration:
                return
            except ProviderError:
                raise e from None
            await self._fell_back(what, e)
            yield first_delta
            async for delta in second:
                yield delta
        finally:
            await it.aclose()  # type: ignore[attr-defined]

    async def detect(self, latest: Sequence[str], transcript: Sequence[tuple[str, str]]) -> bool:
        return await self._call("detect", lambda p: p.detect(latest, transcript))

    def answer(self, ctx: AnswerContext) -> AsyncIterator[str]:
        return self._streamed("answer", lambda p: p.answer(ctx))

    async def translate(self, text: str, source: str, target: str) -> str:
        return await self._call("translate", lambda p: p.translate(text, source, target))

    async def score(self, ctx: ScoreContext) -> ScoreResult:
        return await self._call("score", lambda p: p.score(ctx))

    async def plan_questions(self, req: PlanRequest) -> list[PlanItem]:
        return await self._call("plan", lambda p: p.plan_questions(req))

    async def word_report(self, req: ReportRequest) -> ReportReply | None:
        return await self._call("report", lambda p: p.word_report(req))

    def read_screen(self, ctx: ScreenContext) -> AsyncIterator[str]:
        return self._streamed("screen", lambda p: p.read_screen(ctx))

    async def summarize(self, ctx: SummaryContext) -> SessionSummary:
        return await self._call("summary", lambda p: p.summarize(ctx))

    async def suggest_questions(self, req: SuggestRequest) -> list[SuggestedQuestion]:
        return await self._call("suggest", lambda p: p.suggest_questions(req))

    async def read_cv(self, req: CvRequest) -> CvReading:
        return await self._call("cv", lambda p: p.read_cv(req))

    async def close(self) -> None:
        await self.first.close()
        await self.second.close()


def with_offline_fallback(provider: Provider) -> Provider:
    """The provider every model call uses: a model's calls fall back to the offline provider."""
    if provider.offline or isinstance(provider, FallbackProvider):
        return provider
    from .offline import OfflineProvider

    return FallbackProvider(provider, OfflineProvider())
