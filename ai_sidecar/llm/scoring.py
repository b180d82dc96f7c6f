"""Scoring a candidate's answer: the rubric, its weights, and the offline heuristic scorer.

The offline score is explainable on purpose: key-point coverage from the question bank,
structure markers (STAR for behavioural questions), sentence length for clarity, and the
measured delivery facts. The openai provider fills the same rubric from a model, except
``delivery``, which is always measured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .bank import BankMatch, Coverage, coverage, default_bank
from .delivery import DeliveryFacts, delivery_score, describe
from .text import cosine, sentences

RUBRIC = ("relevance", "completeness", "structure", "clarity", "delivery")
WEIGHTS = {"relevance": 0.25, "completeness": 0.25, "structure": 0.2, "clarity": 0.15, "delivery": 0.15}
STORY_CATEGORIES = frozenset({"behavioural", "hr"})

_STAR = {
    "situation": re.compile(
        r"\b(when i was|at my (last|previous|current)|last (year|month|quarter)|a few (months|years) ago|we were|"
        r"our (team|company|project|system|product)|in my (last|previous|current) (role|job|team|company)|the situation|"
        r"there was|once|back then|at the time)\b",
        re.I,
    ),
    "task": re.compile(
        r"\b(my (role|job|task|goal|responsibility) was|i was (responsible|asked|tasked)|i needed to|i had to|"
        r"we needed to|we had to|the goal was|the challenge was|the problem was|my task)\b",
        re.I,
    ),
    "action": re.compile(
        r"\b(i (decided|built|wrote|led|talked|spoke|proposed|organi[sz]ed|set up|created|implemented|designed|"
        r"added|changed|scheduled|asked|started|reached out|met|listened|suggested|worked|introduced|reviewed|fixed|"
        r"rolled back|investigated|measured|took))\b",
        re.I,
    ),
    "result": re.compile(
        r"\b(as a result|in the end|the result|resulted|result was|we (shipped|delivered|launched|reduced|cut|"
        r"improved|increased|saved)|reduc\w*|increas\w*|improv\w*|saved|\d+ ?(%|percent)|learned|learnt|"
        r"outcome|since then|from then on|afterwards)\b",
        re.I,
    ),
}
_TECH = {
    "definition": re.compile(r"\b(is an?|is the|are|means|refers to|lets you|allows)\b", re.I),
    "example": re.compile(r"\b(for example|for instance|e\.g\.|such as|say you|imagine|like when|in practice)\b", re.I),
    "reasoning": re.compile(
        r"\b(because|so that|which means|trade-?offs?|however|but|on the other hand|whereas|instead|downside|cost)\b",
        re.I,
    ),
    "sequence": re.compile(r"\b(first|second|then|next|finally|after that|step)\b", re.I),
}


@dataclass
class ScoreResult:
    score: int
    rubric: dict[str, int]
    feedback: str
    delivery: dict[str, Any] = field(default_factory=dict)
    coverage: float | None = None


def overall(rubric: dict[str, int]) -> int:
    return int(round(sum(WEIGHTS[k] * rubric.get(k, 0) for k in RUBRIC)))


def _clamp(x: float) -> int:
    return int(max(0, min(100, round(x))))


def structure_markers(text: str, story: bool) -> dict[str, bool]:
    pats = _STAR if story else _TECH
    return {k: bool(p.search(text)) for k, p in pats.items()}


def clarity_score(text: str) -> int:
    ss = sentences(text)
    n_words = len(text.split())
    if not ss or not n_words:
        return 0
    avg = n_words / len(ss)
    score = 100.0
    if avg > 25:
        score -= min(45.0, (avg - 25) * 2.0)
    elif avg < 6:
        score -= (6 - avg) * 8.0
    ws = [w for w in re.findall(r"[a-z']+", text.lower()) if len(w) > 3]
    if ws:  # the same few words over and over reads as rambling
        distinct = len(set(ws)) / len(ws)
        if distinct < 0.45:
            score -= (0.45 - distinct) * 80
    return _clamp(score)


def offline_score(question: str, match: BankMatch | None, answer: str, facts: DeliveryFacts) -> ScoreResult:
    index = default_bank().index
    words = facts.words or len(answer.split())
    story = match is None or match.entry.category in STORY_CATEGORIES
    ref = question if match is None else " ".join((question, match.entry.question, *match.entry.key_points))
    sim = cosine(index.vector(answer), index.vector(ref)) if answer.strip() else 0.0
    rel_sim = min(1.0, sim / 0.25)
    cov: Coverage | None = coverage(match.entry, answer) if match else None
    length = min(1.0, words / 60.0)
    if cov is not None:
        relevance = 100 * (0.5 * rel_sim + 0.5 * min(1.0, cov.ratio * 1.5))
        completeness = 100 * cov.ratio * (0.6 + 0.4 * length)
    else:
        relevance = 100 * rel_sim
        completeness = 70 * length  # without key points, length is all we can honestly judge
    marks = structure_markers(answer, story)
    structure = 100 * sum(marks.values()) / len(marks)
    rubric = {
        "relevance": _clamp(relevance),
        "completeness": _clamp(completeness),
        "structure": _clamp(structure),
        "clarity": clarity_score(answer),
        "delivery": delivery_score(facts),
    }
    return ScoreResult(
        score=overall(rubric),
        rubric=rubric,
        feedback=_feedback(rubric, cov, marks, story, facts),
        delivery=facts.to_dict(),
        coverage=cov.ratio if cov else None,
    )


def _feedback(
    rubric: dict[str, int], cov: Coverage | None, marks: dict[str, bool], story: bool, facts: DeliveryFacts
) -> str:
    first: str
    missing_marks = [k for k, v in marks.items() if not v]
    if rubric["relevance"] < 40:
        first = "The answer drifted from the question; open by answering it directly."
    elif cov is not None and cov.missing and cov.ratio < 0.75:
        n = len(cov.covered) + len(cov.missing)
        point = cov.missing[0].rstrip(".")
        first = f"You covered {len(cov.covered)} of {n} key points; also mention: {point[0].lower() + point[1:]}."
    elif story and missing_marks:
        names = {
            "situation": "the situation",
            "task": "your task",
            "action": "what you did",
            "result": "a measurable result",
        }
        first = "Use the STAR shape; add " + " and ".join(names[k] for k in missing_marks[:2]) + "."
    elif not story and missing_marks and rubric["structure"] < 75:
        tips = {
            "definition": "a one-line definition",
            "example": "a concrete example",
            "reasoning": "the trade-offs",
            "sequence": "clear steps",
        }
        first = "Strengthen it with " + " and ".join(tips[k] for k in missing_marks[:2]) + "."
    else:
        first = "Solid answer: relevant, well structured and complete."
    second = describe(facts)
    if not second and rubric["clarity"] < 60:
        second = "Shorter sentences would make it easier to follow."
    return f"{first} {second}".strip()
