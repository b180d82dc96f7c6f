"""AI score of one recorded answer against the question and the job description (offline).

Computed at review time from the stored final captions with the llm worker's offline scorer
(ai_sidecar/llm/scoring.py): the job description's requirements (or the question's own key points)
stand in for a question bank entry, so relevance and completeness measure coverage of what the
job asks for; structure, clarity and delivery come from the transcript and its timing. Nothing
calls a model, so the same captions always give the same score.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from ai_sidecar.llm.bank import BankEntry, BankMatch
from ai_sidecar.llm.delivery import measure
from ai_sidecar.llm.scoring import offline_score
from interview_room.messages import Caption

MAX_POINTS = 10


def job_points(job_description: str) -> list[str]:
    """The job description's requirement lines (bullets or sentences of three words or more)."""
    parts = re.split(r"[\n\r]+|(?<=[.;!?])\s+", job_description)
    points = [p.strip(" -*•\t") for p in parts]
    return [p for p in points if len(p.split()) >= 3][:MAX_POINTS]


def score_answer(question: dict[str, Any], job_description: str, captions: list[Caption]) -> dict[str, Any] | None:
    """Score, rubric, summary and delivery facts; None when nothing was said (no captions)."""
    spoken = [c for c in captions if c.role == "candidate" and c.text.strip()]
    if not spoken:
        return None
    answer = " ".join(c.text for c in spoken)
    points = tuple(question.get("key_points") or job_points(job_description))
    match = None
    if points:
        entry = BankEntry(id="job", category="technical", question=question["text"], key_points=points, outline="")
        match = BankMatch(entry=entry, similarity=1.0)
    facts = measure(spoken)
    res = offline_score(question["text"], match, answer, facts)
    out = asdict(res)
    out["summary"] = res.feedback
    out["provider"] = "offline"
    return out
