"""The optional practice question (issue 17): set per interview by the recruiter, answered before the
first real question, recorded and watchable by the candidate like any take, never scored, never shown
to the recruiter (its attempts carry question index ``INDEX``; recruiter queries read index >= 0)."""

from __future__ import annotations

from typing import Any

INDEX = -1
PATH_NAME = "practice"  # /api/c/answers/practice/...
THINK_SECONDS = 15
ANSWER_SECONDS = 90
TAKES = 3


def question(iv: dict[str, Any]) -> dict[str, Any] | None:
    """The interview's practice question in the shape of a real one, or None when it has none."""
    text = (iv.get("practice_question") or "").strip()
    if not text:
        return None
    return {"text": text, "think_seconds": THINK_SECONDS, "answer_seconds": ANSWER_SECONDS, "retakes": TAKES - 1}
