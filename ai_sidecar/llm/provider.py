"""What a provider does for a session, and the errors it reports instead of crashing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from .bank import BankMatch
from .delivery import DeliveryFacts
from .scoring import ScoreResult


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


class Provider(ABC):
    name: str = ""
    offline: bool = False
    deadline: float = 30.0  # seconds one call may take, retries included

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

    async def close(self) -> None:
        return None
