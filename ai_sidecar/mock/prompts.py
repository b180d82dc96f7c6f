"""The prompts of the mock interviewer (question plan, final report) and the JSON replies they ask for.

Session text (focus areas, requirements, résumé, answers) enters only as JSON values in a data
block, under the same data rule as every other prompt of the llm worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from string import Template
from typing import Any

from ai_sidecar.llm.prompts import DATA_RULE, data_block, language_name

MAX_QUESTION_CHARS = 600
MAX_ITEM_CHARS = 300

PLAN_SYSTEM = Template(
    """You are an experienced interviewer preparing a spoken mock interview.
$data_rule
Write exactly $count questions for a $type_name interview at $difficulty difficulty, in $language. They are asked aloud: one or two plain sentences each, no code, no lists, no numbering.
Choose topics from "focus_areas" and "requirements" (target company, weak spots) where given, and match the difficulty: easy is fundamentals, expert is deep trade-offs and edge cases.
For each question give 3 to 6 key points a strong answer covers, a time allocation in seconds (about $allocation each, $total in total) and one or two short follow-up questions.
Reply with a JSON object only: {"questions": [{"text": "...", "category": "...", "key_points": ["..."], "time_allocation_seconds": 120, "follow_ups": ["..."]}]}"""
)

REPORT_SYSTEM = Template(
    """You are an interview coach writing the report of a spoken mock interview.
$data_rule
The scores are already measured; do not invent numbers. For each question write what went well and what to improve (one to three short items each) and list the key points the answer missed (copied from its key points).
Then give the candidate's top strengths (two to four), weaknesses (two to four) and concrete recommendations for their practice (three to five).
Write in $language, addressed to the candidate as "you", one sentence per item.
Reply with a JSON object only: {"questions": [{"index": 1, "went_well": ["..."], "to_improve": ["..."], "missing_key_points": ["..."]}], "strengths": ["..."], "weaknesses": ["..."], "recommendations": ["..."]}"""
)


def plan_messages(
    *,
    count: int,
    type_name: str,
    difficulty: str,
    language: str,
    allocation_s: int,
    focus_areas: Sequence[str],
    requirements: str,
    resume: str,
    hints: str,
) -> list[dict[str, str]]:
    system = PLAN_SYSTEM.substitute(
        data_rule=DATA_RULE,
        count=count,
        type_name=type_name,
        difficulty=difficulty,
        language=language_name(language),
        allocation=allocation_s,
        total=allocation_s * count,
    )
    data = {
        "focus_areas": list(focus_areas),
        "requirements": requirements[:4000],
        "candidate_resume": resume[:4000],
        "hints": hints[:2000],
    }
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "Write the interview questions. Answer in JSON.\n" + data_block(data)},
    ]


def report_messages(*, language: str, interview: dict[str, Any], questions: list[dict[str, Any]]) -> list[dict[str, str]]:
    system = REPORT_SYSTEM.substitute(data_rule=DATA_RULE, language=language_name(language))
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "Write the report. Answer in JSON.\n" + data_block({"interview": interview, "questions": questions})},
    ]


def _text(v: Any, limit: int) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("expected a non-empty string")
    return " ".join(v.split())[:limit]


def _texts(v: Any, lo: int, hi: int, limit: int = MAX_ITEM_CHARS) -> list[str]:
    if not isinstance(v, list):
        raise ValueError("expected a list of strings")
    out = [_text(x, limit) for x in v if isinstance(x, str) and x.strip()]
    if len(out) < lo:
        raise ValueError(f"expected at least {lo} items")
    return out[:hi]


@dataclass(frozen=True)
class PlannedReply:
    text: str
    category: str
    key_points: list[str]
    time_allocation_s: int | None
    follow_ups: list[str]


def parse_plan(obj: Any) -> list[PlannedReply]:
    """The model's questions; entries that are not usable are dropped (at least three must remain)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("questions"), list):
        raise ValueError('"questions" must be a list')
    out: list[PlannedReply] = []
    for q in obj["questions"]:
        if not isinstance(q, dict):
            continue
        try:
            text = _text(q.get("text"), MAX_QUESTION_CHARS)
            points = _texts(q.get("key_points"), 1, 8)
        except ValueError:
            continue
        t = q.get("time_allocation_seconds")
        alloc = int(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and 20 <= t <= 3600 else None
        try:
            follow = _texts(q.get("follow_ups") or [], 0, 3, MAX_QUESTION_CHARS)
        except ValueError:
            follow = []
        cat = q.get("category")
        out.append(PlannedReply(text, cat.strip()[:60] if isinstance(cat, str) else "", points, alloc, follow))
    if len(out) < 3:
        raise ValueError("fewer than three usable questions")
    return out


@dataclass(frozen=True)
class QuestionNotes:
    went_well: list[str]
    to_improve: list[str]
    missing_key_points: list[str]


@dataclass(frozen=True)
class ReportReply:
    questions: dict[int, QuestionNotes]
    strengths: list[str]
    weaknesses: list[str]
    recommendations: list[str]


def parse_report(obj: Any) -> ReportReply:
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    notes: dict[int, QuestionNotes] = {}
    for q in obj.get("questions") or []:
        if not isinstance(q, dict) or not isinstance(q.get("index"), int):
            continue
        try:
            notes[q["index"]] = QuestionNotes(
                went_well=_texts(q.get("went_well") or [], 0, 4),
                to_improve=_texts(q.get("to_improve") or [], 0, 4),
                missing_key_points=_texts(q.get("missing_key_points") or [], 0, 8),
            )
        except ValueError:
            continue
    return ReportReply(
        questions=notes,
        strengths=_texts(obj.get("strengths"), 1, 5),
        weaknesses=_texts(obj.get("weaknesses"), 1, 5),
        recommendations=_texts(obj.get("recommendations"), 1, 6),
    )
