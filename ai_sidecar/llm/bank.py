"""The shipped question bank: common interview questions with key points, matched by TF-IDF.

``ai_sidecar/data/question_bank.json`` is the project's own content. Matching and key-point
coverage are lexical (stemmed words), so they work offline and explain themselves; they miss
paraphrases a model would catch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .detection import focus, is_follow_up
from .text import TfidfIndex, cosine, terms

BANK_PATH = Path(__file__).resolve().parent.parent / "data" / "question_bank.json"
MATCH_FLOOR = 0.40  # at or above this similarity the closest entry is about the same thing
WEAK_FLOOR = 0.17  # between the floors, most of the question's content words must be in the entry
SINGLE_TERM_FLOOR = 0.55
COVER_FLOOR = 0.59
LEAD_RATIO = 1.8
PHRASE_WEIGHT = 0.6


@dataclass(frozen=True)
class BankEntry:
    id: str
    category: str
    question: str
    key_points: tuple[str, ...]
    outline: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class BankMatch:
    entry: BankEntry
    similarity: float


@dataclass
class Coverage:
    covered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        n = len(self.covered) + len(self.missing)
        return len(self.covered) / n if n else 0.0


class QuestionBank:
    def __init__(self, entries: list[BankEntry]) -> None:
        self.entries = entries
        # the question and its phrasings count three times, the key points once: a question
        # is matched on how it is asked, with the key points to break ties
        docs = []
        phrasings: list[list[str]] = []
        self._owner: list[int] = []
        for i, e in enumerate(entries):
            asked = terms(" ".join((e.question, *e.aliases)))
            docs.append(asked * 3 + terms(" ".join(e.key_points)))
            for p in (e.question, *e.aliases):
                phrasings.append(terms(p))
                self._owner.append(i)
        # the whole entry: for relevance and coverage, and to break ties between phrasings
        self.index = TfidfIndex(docs)
        # each way of asking on its own: "Tell me about yourself" should meet its own phrasing
        self.phrase_index = TfidfIndex(phrasings)

    @classmethod
    def load(cls, path: Path = BANK_PATH) -> QuestionBank:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = [
            BankEntry(
                id=r["id"],
                category=r["category"],
                question=r["question"],
                key_points=tuple(r["key_points"]),
                outline=r["outline"],
                aliases=tuple(r.get("aliases", ())),
            )
            for r in raw["questions"]
        ]
        return cls(entries)

    def match(self, question: str) -> BankMatch | None:
        """The entry this question asks about, or None when nothing in the bank is close enough.

        A strong cosine is enough; a weaker one needs most of the question's content words in
        the entry, or a clear lead over the runner-up with half of them.
        """
        hits = self.ranked(question)[:2]
        if not hits or hits[0][1] <= 0.0:
            return None
        i, sim = hits[0]
        qt = set(terms(question))
        if len(qt) == 1 and sim < SINGLE_TERM_FLOOR:
            return None  # one shared word ("office", "team") is not the same question
        if sim < MATCH_FLOOR:
            if sim < WEAK_FLOOR:
                return None
            cover = self.index.coverage(list(qt), i)
            shared = len(qt & set(self.index.docs[i]))
            runner_up = hits[1][1] if len(hits) > 1 else 0.0
            if cover < COVER_FLOOR and not (shared >= 2 and cover >= 0.5 and sim >= LEAD_RATIO * runner_up):
                return None
        return BankMatch(self.entries[i], round(sim, 3))

    def ranked(self, question: str) -> list[tuple[int, float]]:
        """Entries by similarity: best single phrasing blended with the whole entry."""
        qt = terms(question)
        if not qt:
            return []
        qp = self.phrase_index.vector_of_terms(qt)
        best: dict[int, float] = {}
        for j, v in enumerate(self.phrase_index.vectors):
            sim = cosine(qp, v)
            if sim > best.get(self._owner[j], 0.0):
                best[self._owner[j]] = sim
        qd = self.index.vector_of_terms(qt)
        scored = [
            (i, PHRASE_WEIGHT * ph + (1 - PHRASE_WEIGHT) * cosine(qd, self.index.vectors[i])) for i, ph in best.items()
        ]
        scored.sort(key=lambda x: -x[1])
        return scored

    def match_question(self, text: str, previous: str | None = None) -> BankMatch | None:
        """Match what is asked; a follow-up ("And when would you not...?") is matched with the question before it."""
        own = self.match(focus(text))
        if previous and is_follow_up(text):
            joint = self.match(focus(previous) + " " + focus(text))
            if joint and (own is None or joint.similarity >= own.similarity):
                return joint
        return own

    def by_id(self, entry_id: str) -> BankEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


def point_covered(point: str, answer_terms: set[str]) -> bool:
    """A key point counts as covered when enough of its content words appear in the answer."""
    pts = set(terms(point))
    if not pts:
        return False
    hit = len(pts & answer_terms)
    need = max(1, math.ceil(len(pts) * 0.34))
    return hit >= min(need, 3)


def coverage(entry: BankEntry, answer: str) -> Coverage:
    at = set(terms(answer))
    cov = Coverage()
    for p in entry.key_points:
        (cov.covered if point_covered(p, at) else cov.missing).append(p)
    return cov


@lru_cache(maxsize=1)
def default_bank() -> QuestionBank:
    return QuestionBank.load()
