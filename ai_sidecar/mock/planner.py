"""The interview plan: 5-7 questions with key points, time allocations and follow-ups.

A model writes questions for the exact set-up (``Provider.plan_questions``, e.g. the openai
provider through ``plan_messages``/``plan_from_replies``); the offline provider draws them from
the shipped question bank (plus the machine-coding questions in ``extra_bank``): the categories
of the interview type, ranked by the focus areas and requirements, with a per-session shuffle
so practising twice does not repeat the same interview, and questions the user met in recent
mock interviews put last. The bank has no difficulty labels, so offline difficulty prefers
deeper entries (more key points, "how would you design/implement" over "what is") and makes
follow-ups stricter; that is all it can honestly do.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from ai_sidecar.llm.bank import BankEntry, QuestionBank, default_bank
from ai_sidecar.llm.text import TfidfIndex, cosine, terms

from . import prompts
from .extra_bank import MACHINE_CODING
from .spec import MockSpec

log = logging.getLogger("llm.mock.plan")

CATEGORIES: dict[str, tuple[str, ...] | None] = {
    "behavioral": ("behavioural", "hr"),
    "frontend": ("javascript",),
    "dsa": ("dsa",),
    "system_design": ("system_design", "databases"),
    "machine_coding": ("machine_coding",),
    "custom": None,  # any category, ranked by the focus areas and requirements
}
OPENERS = {"behavioral": "hr-tell-me-about-yourself"}
DIFFICULTY_PULL = {"easy": -1.0, "medium": 0.0, "hard": 1.0, "expert": 1.5}

FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "behavioural": (
        "What exactly did you do yourself, and what was the measurable result?",
        "Looking back, what would you do differently next time?",
    ),
    "hr": ("Can you give me a concrete example of that?", "How does that connect to this role?"),
    "javascript": ("Can you walk me through a concrete example?", "What are the pitfalls or trade-offs there?"),
    "dsa": ("What are the time and space complexities, and can you do better?", "Which edge cases would you test?"),
    "system_design": (
        "How would it scale to ten times the traffic, and where is the bottleneck?",
        "What happens when one of the components fails?",
    ),
    "databases": ("How does that behave under many concurrent writes?", "What trade-off are you making there?"),
    "machine_coding": ("How would you test it?", "How would you change the code if the requirements grew?"),
}
DEFAULT_FOLLOW_UPS = ("Can you go a bit deeper, with a concrete example?", "What trade-offs did you consider?")


@dataclass(frozen=True)
class PlanItem:
    text: str
    category: str
    key_points: list[str]
    follow_ups: list[str]
    time_allocation_s: int
    source: str  # bank, or the name of the provider whose model wrote it
    bank_id: str | None = None


def follow_ups_for(category: str) -> list[str]:
    return list(FOLLOW_UPS.get(category, DEFAULT_FOLLOW_UPS))


def _depth(e: BankEntry) -> float:
    """0..1: how much a strong answer has to cover."""
    q = e.question.lower()
    applied = q.startswith(("how would you", "how do you", "design", "implement", "walk me", "code", "find", "write"))
    return min(1.0, len(e.key_points) / 6 + (0.3 if applied else 0.0))


def offline_plan(
    spec: MockSpec, seed: str, *, avoid: Sequence[str] = (), bank: QuestionBank | None = None
) -> list[PlanItem]:
    bank = bank or default_bank()
    cats = CATEGORIES.get(spec.type)
    pool = [e for e in (*bank.entries, *MACHINE_CODING) if cats is None or e.category in cats]
    if not pool:
        pool = list(bank.entries)
    docs = [terms(" ".join((e.question, *e.aliases, *e.key_points))) for e in pool]
    idx = TfidfIndex(docs)

    def sims(text: str) -> list[float]:
        qt = terms(text)
        if not qt:
            return [0.0] * len(pool)
        qv = idx.vector_of_terms(qt)
        return [cosine(qv, v) for v in idx.vectors]

    def scaled(xs: list[float]) -> list[float]:
        top = max(xs, default=0.0)
        return [x / top for x in xs] if top > 0 else xs

    by_area = [sims(a) for a in spec.focus_areas]
    focus = scaled([max(col) for col in zip(*by_area, strict=True)]) if by_area else [0.0] * len(pool)
    req = scaled(sims(spec.requirements))
    rng = random.Random(seed)
    noise = [rng.random() for _ in pool]
    pull = DIFFICULTY_PULL[spec.difficulty]
    avoided = set(avoid)
    qterms = bool(spec.focus_areas or terms(spec.requirements))

    def rank(i: int) -> float:
        e = pool[i]
        return (
            1.0 * focus[i] + 0.5 * req[i] + 0.4 * pull * _depth(e) + (0.2 if qterms else 0.5) * noise[i]
            - (1.5 if e.id in avoided else 0.0)
        )

    chosen: list[BankEntry] = []
    for col in by_area[: spec.question_count]:  # each focus area gets its best question first
        best = max((i for i in range(len(pool)) if col[i] > 0.05 and pool[i] not in chosen), key=lambda i: col[i] + rank(i) * 0.1, default=None)
        if best is not None:
            chosen.append(pool[best])
    for i in sorted(range(len(pool)), key=rank, reverse=True):
        if len(chosen) >= spec.question_count:
            break
        if pool[i] not in chosen:
            chosen.append(pool[i])
    opener = OPENERS.get(spec.type)
    if opener and opener not in avoided and not qterms:
        first = next((e for e in pool if e.id == opener), None)
        if first is not None:
            chosen = [first, *[e for e in chosen if e.id != opener]][: spec.question_count]
    return [
        PlanItem(
            text=e.question,
            category=e.category,
            key_points=list(e.key_points),
            follow_ups=follow_ups_for(e.category),
            time_allocation_s=spec.allocation_s,
            source="bank",
            bank_id=e.id,
        )
        for e in chosen
    ]


def plan_messages(spec: MockSpec, *, resume: str, hints: str) -> list[dict[str, str]]:
    """The prompt asking a model for this set-up's questions (its reply: ``prompts.parse_plan``)."""
    return prompts.plan_messages(
        count=spec.question_count,
        type_name=spec.type_name,
        difficulty=spec.difficulty,
        language=spec.language,
        allocation_s=spec.allocation_s,
        focus_areas=spec.focus_areas,
        requirements=spec.requirements,
        resume=resume,
        hints=hints,
    )


def plan_from_replies(
    replies: Sequence[prompts.PlannedReply], spec: MockSpec, *, seed: str, source: str
) -> list[PlanItem]:
    """The model's questions (``source``: the provider's name); topped up from the bank if it wrote too few."""
    default_cat = {"behavioral": "behavioural"}.get(spec.type, spec.type)
    items = [
        PlanItem(
            text=r.text,
            category=(r.category.lower() if spec.type == "custom" and r.category else default_cat),
            key_points=r.key_points,
            follow_ups=r.follow_ups or follow_ups_for(default_cat),
            time_allocation_s=r.time_allocation_s or spec.allocation_s,
            source=source,
        )
        for r in replies[: spec.question_count]
    ]
    if len(items) < spec.question_count:
        extra = offline_plan(spec, seed)
        have = {i.text for i in items}
        items += [e for e in extra if e.text not in have][: spec.question_count - len(items)]
    return items
