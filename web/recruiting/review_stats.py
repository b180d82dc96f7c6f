"""Average and spread of the team's ratings of one answer (plain functions, no I/O).

Each reviewer rates an answer 1–5 on every rubric criterion; a reviewer's mark for the answer is the
mean of their criteria. ``spread`` is the highest minus the lowest mark (0 when the team agrees),
``stdev`` the population standard deviation.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

CRITERIA: tuple[str, ...] = ("relevance", "depth", "clarity")
CRITERION_LABELS = {"relevance": "Relevance", "depth": "Depth", "clarity": "Clarity"}
LOW, HIGH = 1, 5


@dataclass(frozen=True)
class Stats:
    count: int
    average: float | None
    spread: float | None
    stdev: float | None
    lowest: float | None
    highest: float | None

    def json(self) -> dict[str, Any]:
        return asdict(self)


def stats(values: Iterable[float]) -> Stats:
    vals = list(values)
    if not vals:
        return Stats(0, None, None, None, None, None)
    return Stats(
        len(vals),
        round(statistics.fmean(vals), 2),
        round(max(vals) - min(vals), 2),
        round(statistics.pstdev(vals), 2),
        round(min(vals), 2),
        round(max(vals), 2),
    )


def mark(scores: Mapping[str, int]) -> float:
    """One reviewer's mark for an answer: the mean of their criteria."""
    return statistics.fmean(scores[c] for c in CRITERIA)


def answer_stats(ratings: list[Mapping[str, int]]) -> dict[str, Any]:
    """Overall (per-reviewer marks) and per criterion."""
    return {
        "overall": stats(mark(s) for s in ratings).json(),
        "criteria": {c: stats(s[c] for s in ratings).json() for c in CRITERIA},
    }
