"""What a provider does, for every caller of a model, and the errors it reports instead of crashing.

Every model call of the product goes through this interface: question detection, answers,
translation and scores for live sessions, the mock interviewer's question plan and report
wording, recruiter answer scores, screen questions and the after-session summary. A provider
implements all of it (``offline.py`` without a model, ``openai_provider.py`` with one); callers
never ask which provider they hold. Falling back to the offline provider when a model fails is
the ``FallbackProvider`` wrapper's job (``fallback.py``), not the callers'.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .bank import BankMatch
from .delivery import DeliveryFacts
from .scoring import ScoreResult

if TYPE_CHECKING:
    from ..mock.planner import PlanItem
    from ..mock.prompts import ReportReply
    from ..mock.spec import MockSpec
    from .cv import CvReading, CvRequest
    from .suggest import SuggestedQuestion, SuggestRequest
    from .summary import SessionSummary, SummaryContext


class ProviderError(Exception):
    """A provider call failed in a way the user should hear about (``notice``), never a crash."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BadReply(ProviderError):
    """The model answered, twice, with something that is not the JSON we asked for."""

    def __init__(self, message: str) -> None:
        super().__init__("ai_bad_reply", message)


@dataclass
class AnswerContext:
    question: str
    language: str
    transcript: Sequence[tuple[str, str]] = ()
    hints: str = ""
    instructions: str = ""
    resume: str = ""
    mode: str = "assistant"
    match: BankMatch | None = None


@dataclass
class ScoreContext:
    question: str
    answer: str
    language: str
    facts: DeliveryFacts = field(default_factory=DeliveryFacts)
    match: BankMatch | None = None
    job_description: str = ""  # recruiter review: relevance also means fit to this job


@dataclass
class PlanRequest:
    """A mock interview's question plan: what the user set up, and bank questions met lately."""

    spec: MockSpec
    resume: str = ""
    hints: str = ""
    seed: str = ""  # the session id: the offline plan's shuffle
    avoid: Sequence[str] = ()


@dataclass
class ReportRequest:
    """The wording of a mock interview's report (figures are measured, never the provider's)."""

    language: str
    interview: dict[str, Any]
    questions: list[dict[str, Any]]


@dataclass
class ScreenContext:
    """A question about one captured frame of the user's shared screen (never stored by us)."""

    image_url: str  # data:image/jpeg;base64,...
    question: str
    language: str
    transcript: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Fallback:
    """A call the first provider failed and the second served: told to ``bind``'s hook."""

    error: ProviderError
    what: str  # detect | answer | score | plan | report | summary
    consequence: str  # for the user: "showing offline talking points"
    to: Provider


FallbackHook = Callable[[Fallback], Awaitable[None]]


class Provider(ABC):
    name: str = ""
    offline: bool = False
    deadline: float = 30.0  # seconds one call may take, retries included

    def bind(self, hook: FallbackHook) -> Provider:
        """This provider reporting its fallbacks to ``hook`` (only a ``FallbackProvider`` has any)."""
        return self

    @abstractmethod
    async def detect(self, latest: Sequence[str], transcript: Sequence[tuple[str, str]]) -> bool:
        """Is this stretch of interviewer speech a question for the candidate?"""

    @abstractmethod
    def answer(self, ctx: AnswerContext) -> AsyncIterator[str]:
        """The suggested answer, as text deltas in order."""

    @abstractmethod
    async def translate(self, text: str, source: str, target: str) -> str: ...

    @abstractmethod
    async def score(self, ctx: ScoreContext) -> ScoreResult: ...

    @abstractmethod
    async def plan_questions(self, req: PlanRequest) -> list[PlanItem]:
        """A mock interview's questions (``PlanItem.source`` names who wrote them: "bank" or the provider)."""

    @abstractmethod
    async def word_report(self, req: ReportRequest) -> ReportReply | None:
        """The mock report's wording; None keeps the rule-based wording."""

    @abstractmethod
    def read_screen(self, ctx: ScreenContext) -> AsyncIterator[str]:
        """An answer about the captured screen, as text deltas; a ProviderError when it cannot see."""

    @abstractmethod
    async def summarize(self, ctx: SummaryContext) -> SessionSummary:
        """After the session: what was asked, how it went, follow-ups, a thank-you e-mail draft."""

    async def suggest_questions(self, req: SuggestRequest) -> list[SuggestedQuestion]:
        """A recruiter's draft question set (with key points) from a job description and optional CV."""
        raise ProviderError("ai_unsupported", f"{self.name or 'this provider'} does not suggest questions")

    async def read_cv(self, req: CvRequest) -> CvReading:
        """A candidate's CV: skills, experience, education, a summary and the match with the job."""
        raise ProviderError("ai_unsupported", f"{self.name or 'this provider'} does not read CVs")

    async def close(self) -> None:
        return None
