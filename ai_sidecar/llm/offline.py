"""The offline provider: what can be done honestly without a model.

Questions by rules, talking points from the shipped question bank (plus the lines of the
candidate's own resume/hints closest to the question), scores from key-point coverage and
measured delivery, mock interview questions from the bank with rule-based report wording, and
an after-session summary from the records. No translation and no screen reading: it says so.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from .bank import QuestionBank, default_bank
from .detection import focus, has_question
from .provider import AnswerContext, PlanRequest, Provider, ProviderError, ReportRequest, ScoreContext, ScreenContext
from .scoring import ScoreResult, offline_score
from .summary import SessionSummary, SummaryContext, offline_summary
from .text import TfidfIndex, cosine, sentences, terms

if TYPE_CHECKING:
    from ..mock.planner import PlanItem
    from ..mock.prompts import ReportReply
    from .cv import CvReading, CvRequest
    from .suggest import SuggestedQuestion, SuggestRequest

VISION_NEEDED = (
    "Reading your screen needs a vision-capable AI model (set OPENAI_API_KEY or OPENAI_BASE_URL, and "
    "LLM_VISION_MODEL); none is configured, so the captured image was discarded unread"
)

OFFLINE_HEADER = "Offline talking points (no AI model configured):"
GENERIC_GUIDANCE = (
    "No close match in the question bank, so only general guidance:",
    "- Behavioural: use STAR: the situation in a sentence or two, your task, what you did (say I), and a measurable result.",
    "- Technical: define the idea in one line, explain how it works, give a concrete example and one trade-off.",
    "- Finish by tying it back to the role you are interviewing for.",
)
_CHUNK = re.compile(r"\S+\s*|\s+")


def chunk_words(text: str, n: int = 4) -> list[str]:
    """Split text into deltas of ``n`` words, whitespace kept, so joining them gives the text back."""
    parts = _CHUNK.findall(text)
    out: list[str] = []
    cur = ""
    count = 0
    for p in parts:
        cur += p
        if p.strip():
            count += 1
        if count >= n or "\n" in p:
            out.append(cur)
            cur, count = "", 0
    if cur:
        out.append(cur)
    return out


def related_notes(question: str, *texts: str, k: int = 2, floor: float = 0.12) -> list[str]:
    """Lines of the candidate's resume/hints that share the most content with the question."""
    lines = [s for t in texts for raw in t.splitlines() for s in sentences(raw) if len(s.split()) >= 3]
    if not lines or not terms(question):
        return []
    idx = TfidfIndex([terms(s) for s in lines])
    q = idx.vector(question)
    scored = sorted(((cosine(q, v), s) for v, s in zip(idx.vectors, lines, strict=True)), key=lambda x: -x[0])
    return [s for sim, s in scored[:k] if sim >= floor]


def offline_answer_text(ctx: AnswerContext) -> str:
    lines = [OFFLINE_HEADER]
    if ctx.match:
        e = ctx.match.entry
        lines.append(f"Closest bank question: {e.question}")
        lines += [f"- {p}" for p in e.key_points]
        lines.append(f"Outline: {e.outline}")
    else:
        lines += list(GENERIC_GUIDANCE)
    notes = related_notes(focus(ctx.question), ctx.resume, ctx.hints)
    if notes:
        lines.append("From your notes: " + " / ".join(n.strip() for n in notes))
    return "\n".join(lines)


class OfflineProvider(Provider):
    name = "offline"
    offline = True

    def __init__(self, bank: QuestionBank | None = None) -> None:
        self.bank = bank or default_bank()

    async def detect(self, latest: Sequence[str], transcript: Sequence[tuple[str, str]]) -> bool:
        return has_question(" ".join(latest))

    async def answer(self, ctx: AnswerContext) -> AsyncIterator[str]:
        for delta in chunk_words(offline_answer_text(ctx)):
            yield delta
            await asyncio.sleep(0)  # let other sessions' work interleave

    async def translate(self, text: str, source: str, target: str) -> str:
        raise ProviderError("translation_unavailable", "Translation needs an AI provider; none is configured")

    async def score(self, ctx: ScoreContext) -> ScoreResult:
        return offline_score(ctx.question, ctx.match, ctx.answer, ctx.facts)

    async def plan_questions(self, req: PlanRequest) -> list[PlanItem]:
        from ..mock.planner import offline_plan  # the mock package builds on this one

        return offline_plan(req.spec, req.seed, avoid=req.avoid, bank=self.bank)

    async def word_report(self, req: ReportRequest) -> ReportReply | None:
        return None  # the rule-based wording stays

    async def read_screen(self, ctx: ScreenContext) -> AsyncIterator[str]:
        raise ProviderError("vision_unavailable", VISION_NEEDED)
        yield ""  # an async generator, like every provider's

    async def suggest_questions(self, req: SuggestRequest) -> list[SuggestedQuestion]:
        from .suggest import offline_suggestions

        return offline_suggestions(self.bank, req)

    async def read_cv(self, req: CvRequest) -> CvReading:
        from .cv import offline_reading

        return offline_reading(req)

    async def summarize(self, ctx: SummaryContext) -> SessionSummary:
        return offline_summary(ctx)
