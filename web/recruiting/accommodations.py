"""Candidate accommodations (issue 21.6): extra think and answer time for one candidate.

Set with GET/PUT /api/org/candidates/{candidate_id}/accommodations (``accommodation_routes.py``). The candidate's
state shows the extended times (the page's countdowns use them), the recording allowance grows with
them, and the server's answer time limit (``store.overdue_attempts``) ends an attempt only after the
extended time. Other candidates of the interview keep the question's times.
"""

from __future__ import annotations

import math
from typing import Any


def extended(questions: list[dict[str, Any]], c: dict[str, Any]) -> list[dict[str, Any]]:
    """The questions with this candidate's extra time added (copies; the interview is unchanged)."""
    pct = int(c.get("extra_time_pct") or 0)
    if pct <= 0:
        return questions
    scale = 1 + pct / 100

    def more(q: dict[str, Any]) -> dict[str, Any]:
        return {
            **q,
            "think_seconds": math.ceil(q["think_seconds"] * scale),
            "answer_seconds": math.ceil(q["answer_seconds"] * scale),
        }

    return [more(q) for q in questions]
