"""The mock interview report: numbers measured from the session, words from rules or the model.

Every number is computed here from stored facts (per-answer rubric scores, key-point coverage,
caption timings), whichever provider runs: the model is asked only for the wording (what went
well, what to improve, strengths, weaknesses, recommendations), and a reply that does not parse
leaves the rule-based wording in place. How the figures are made:

- per question: the answer's score (0 for a skipped or unanswered question), its rubric,
  covered/missing key points (stemmed-word overlap), delivery facts;
- breakdown (0-100, averaged over the questions asked): technical depth = 0.6 completeness +
  0.4 relevance (not on a behavioural interview: nothing technical is asked there); communication
  = 0.5 clarity + 0.5 delivery; problem solving = 0.4 relevance + 0.3 completeness + 0.3
  structure; structure; time management = how the answer's length fits its time allocation (a
  quarter to all of it is ideal). The breakdown explains the score; it does not make it;
- overall = THE session score (``session_score``), the one number shown everywhere (history badge,
  session facts, report, PDF, progress chart): the mean of the per-question scores over the
  questions asked, a skipped or unanswered one counting 0; a question the interview ended on
  before any answer (``ended_early``) is not counted. See docs/scores.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ai_sidecar.llm.bank import BankEntry, coverage
from ai_sidecar.llm.delivery import IDEAL_WPM, measure
from interview_room.messages import Caption
from interview_room.store.reports import MockState, PlannedQuestion

from .prompts import ReportReply
from .spec import MockSpec

REPORT_VERSION = 2  # 2: overall = the mean of the question scores; no technical depth on behavioural
SCORE_DEFINITION = (
    "The average of the question scores: a skipped or unanswered question counts 0; "
    "a question the interview ended on before any answer is not counted."
)
BREAKDOWN_DIMENSIONS = ("technical_depth", "communication", "problem_solving", "structure", "time_management")
DIMENSION_NAMES = {
    "technical_depth": "technical depth",
    "communication": "communication",
    "problem_solving": "problem solving",
    "structure": "structure",
    "time_management": "time management",
}
_STRENGTH = {
    "technical_depth": "Your answers covered most of what a strong answer needs.",
    "communication": "You spoke clearly, at a good pace and with few filler words.",
    "problem_solving": "You addressed the question asked and reasoned your way through it.",
    "structure": "Your answers were well structured and easy to follow.",
    "time_management": "You used the time for each question well.",
}
_WEAKNESS = {
    "technical_depth": "Several answers missed key points a strong answer covers.",
    "communication": "Clarity and delivery held your answers back.",
    "problem_solving": "Answers did not always address the question directly or reason through it.",
    "structure": "Answers lacked a clear shape.",
    "time_management": "Answer lengths did not fit the time available.",
}
_ADVICE = {
    "technical_depth": "Before answering, list the three or four points a strong answer must cover, then cover each.",
    "communication": "Record yourself answering and cut filler words; aim for 110 to 170 words per minute.",
    "problem_solving": "Open with a one-sentence direct answer, then explain your reasoning and one trade-off.",
    "structure": "Use a fixed shape: STAR for stories; definition, example, trade-off for technical questions.",
    "time_management": "Practise with a timer: aim to use between a quarter and all of each question's time.",
}


@dataclass
class AnswerFacts:
    """One planned question with what the candidate said and how it was scored."""

    q: PlannedQuestion
    captions: list[Caption] = field(default_factory=list)
    score: dict[str, Any] | None = None  # the ``scores`` row

    @property
    def answer(self) -> str:
        return " ".join(c.text.strip() for c in self.captions)


def time_fit(answer_seconds: float, allocation_s: float) -> int:
    """0-100: a quarter to 1.1 times the allocation is ideal; very short or very long costs points."""
    if answer_seconds <= 0 or allocation_s <= 0:
        return 0
    x = answer_seconds / allocation_s
    if x < 0.25:
        return int(round(30 + 70 * x / 0.25))
    if x <= 1.1:
        return 100
    return int(round(max(40.0, 100 - (x - 1.1) * 66)))


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _lower_first(s: str) -> str:
    s = s.rstrip(".")
    return s[:1].lower() + s[1:]


def question_result(f: AnswerFacts) -> dict[str, Any]:
    q = f.q
    facts = measure(f.captions)
    rubric = dict(f.score["rubric"]) if f.score else {}
    entry = BankEntry(id=q.question_id, category=q.category, question=q.text, key_points=tuple(q.key_points), outline="")
    cov = coverage(entry, f.answer)
    answered = bool(f.captions)
    if q.status in ("asked", "ended_early") and answered:
        status = "answered"  # an answer cut short by the end is still an answer
    else:
        status = q.status if q.status != "asked" else "unanswered"
    score = int(f.score["score"]) if f.score and answered else 0
    went: list[str] = []
    improve: list[str] = []
    if answered:
        if rubric.get("relevance", 0) >= 70:
            went.append("You answered the question that was asked.")
        if rubric.get("structure", 0) >= 70:
            went.append("The answer had a clear structure.")
        if cov.covered:
            went.append(f"You covered: {_lower_first(cov.covered[0])}.")
        if rubric.get("delivery", 0) >= 75:
            went.append("Good pace with few filler words.")
        for point in cov.missing[:2]:
            improve.append(f"Also cover: {_lower_first(point)}.")
        if f.score and f.score.get("feedback"):
            improve.append(str(f.score["feedback"]))
        said = " ".join(improve)
        if facts.wpm is not None and not IDEAL_WPM[0] <= facts.wpm <= IDEAL_WPM[1] and "words per minute" not in said:
            improve.append(f"You spoke at {facts.wpm:.0f} words per minute; aim for {IDEAL_WPM[0]:.0f}-{IDEAL_WPM[1]:.0f}.")
    elif status == "skipped":
        improve.append("You skipped this question: prepare a short answer around its key points.")
    elif status == "ended_early":
        improve.append("The interview was ended before you answered this question; it does not count in the score.")
    else:
        improve.append("There was no answer: even a partial answer scores better than silence.")
    if answered and not went:
        went.append("You gave an answer; build on it with the points below.")
    return {
        "index": q.idx,
        "question_id": q.question_id,
        "text": q.text,
        "category": q.category,
        "status": status,
        "score": score,
        "rubric": rubric,
        "feedback": str(f.score["feedback"]) if f.score else "",
        "went_well": went,
        "to_improve": improve,
        "key_points": list(q.key_points),
        "covered_key_points": cov.covered if answered else [],
        # a question the interview was ended on was never answered: nothing was "missed"
        "missing_key_points": cov.missing if answered else ([] if status == "ended_early" else list(q.key_points)),
        "follow_up": q.follow_up_text,
        "repeats": q.repeats,
        "answer": f.answer,
        "time_allocation_s": q.time_allocation_s,
        "delivery": {
            "words": facts.words,
            "talk_seconds": facts.talk_seconds,
            "answer_seconds": facts.answer_seconds,
            "words_per_minute": facts.wpm,
            "filler_words": facts.filler_count,
            "fillers": facts.fillers,
            "long_pauses": facts.long_pauses,
        },
    }


NOT_COUNTED = ("pending", "ended_early")  # statuses that are not part of the session score


def counted(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The questions the session score is over: asked, and not cut short by the end before an answer."""
    return [r for r in results if r["status"] not in NOT_COUNTED]


def dimensions(mock_type: str) -> tuple[str, ...]:
    """The breakdown's dimensions for an interview type: a behavioural one has no technical depth."""
    return tuple(k for k in BREAKDOWN_DIMENSIONS if not (k == "technical_depth" and mock_type == "behavioral"))


def breakdown(results: list[dict[str, Any]], mock_type: str = "custom") -> dict[str, int]:
    asked = counted(results)
    dims: dict[str, list[float]] = {k: [] for k in BREAKDOWN_DIMENSIONS}
    for r in asked:
        rb = r["rubric"] if r["status"] == "answered" else {}
        rel, comp, struct = rb.get("relevance", 0), rb.get("completeness", 0), rb.get("structure", 0)
        clar, deliv = rb.get("clarity", 0), rb.get("delivery", 0)
        dims["technical_depth"].append(0.6 * comp + 0.4 * rel)
        dims["communication"].append(0.5 * clar + 0.5 * deliv)
        dims["problem_solving"].append(0.4 * rel + 0.3 * comp + 0.3 * struct)
        dims["structure"].append(struct)
        span = r["delivery"]["answer_seconds"] or r["delivery"]["talk_seconds"]
        dims["time_management"].append(time_fit(span, r["time_allocation_s"]) if r["status"] == "answered" else 0)
    keep = dimensions(mock_type)
    return {k: int(round(_mean(v))) for k, v in dims.items() if k in keep}


def session_score(results: list[dict[str, Any]]) -> int:
    """The session's one score: the mean of the counted questions' scores (0 when none was asked)."""
    return int(round(_mean([float(r["score"]) for r in counted(results)])))


def delivery_summary(facts: list[AnswerFacts]) -> dict[str, Any]:
    all_caps = [c for f in facts for c in f.captions]
    total = measure(all_caps) if all_caps else measure([])
    per = [(f.q.idx, measure(f.captions)) for f in facts if f.captions]
    talk = sum(m.talk_seconds for _, m in per)
    words = sum(m.words for _, m in per)
    fillers: Counter[str] = Counter()
    for _, m in per:
        fillers.update(m.fillers)
    n_fill = sum(fillers.values())
    return {
        "words_per_minute": round(words / talk * 60.0, 1) if talk >= 3.0 and words else None,
        "words": words,
        "filler_words": n_fill,
        "fillers": dict(fillers),
        "fillers_per_100_words": round(100.0 * n_fill / words, 1) if words else 0.0,
        "talk_seconds_total": round(talk, 1),
        "talk_time_per_answer": [{"index": i, "seconds": m.talk_seconds, "words": m.words} for i, m in per],
        "long_pauses": total.long_pauses,
    }


def offline_words(results: list[dict[str, Any]], b: dict[str, int], delivery: dict[str, Any], spec: MockSpec) -> dict[str, list[str]]:
    """Strengths, weaknesses and recommendations by rule."""
    asked = counted(results)
    answered = [r for r in asked if r["status"] == "answered"]
    ranked = sorted(b, key=lambda k: b[k], reverse=True)
    strengths = [_STRENGTH[k] for k in ranked if b[k] >= 60][:3]
    weaknesses = [_WEAKNESS[k] for k in reversed(ranked) if b[k] < 60][:3]
    recs = [_ADVICE[k] for k in reversed(ranked) if b[k] < 60][:3]
    if asked and len(answered) == len(asked):
        strengths.append("You answered every question you were asked." if len(asked) > 1 else "You answered the question you were asked.")
    skipped = [r for r in asked if r["status"] != "answered"]
    if skipped:
        weaknesses.append(f"{len(skipped)} of {len(asked)} questions went without an answer.")
        recs.append("Answer every question, even partly: say what you know and how you would find out the rest.")
    wpm = delivery.get("words_per_minute")
    if wpm is not None and not IDEAL_WPM[0] <= wpm <= IDEAL_WPM[1]:
        weaknesses.append(f"Your pace was {wpm:.0f} words per minute, outside the comfortable 110-170.")
    if delivery.get("fillers_per_100_words", 0) >= 3:
        weaknesses.append(f"You used {delivery['filler_words']} filler words; pauses sound more confident.")
    missing = Counter(p for r in answered for p in r["missing_key_points"])
    if missing:
        point, _ = missing.most_common(1)[0]
        recs.append(f"Revise this point, missed in your answers: {_lower_first(point)}.")
    if spec.focus_areas:
        recs.append(f"Keep practising your focus areas: {', '.join(spec.focus_areas[:3])}.")
    if not strengths:
        strengths.append("You took on a full mock interview: the practice itself builds confidence." if asked else "You set up a mock interview.")
    if not weaknesses:
        weaknesses.append("No clear weak spot: raise the difficulty to find one.")
    if len(recs) < 2:
        harder = {"easy": "medium", "medium": "hard", "hard": "expert"}.get(spec.difficulty)
        recs.append(f"Try the next level ({harder}) to keep improving." if harder else "Practise a different interview type next.")
    return {"strengths": strengths[:4], "weaknesses": weaknesses[:4], "recommendations": recs[:5]}


def build_report(
    *,
    session_id: str,
    spec: MockSpec,
    state: MockState,
    facts: list[AnswerFacts],
    provider: str,
    wording: ReportReply | None = None,
) -> dict[str, Any]:
    results = [question_result(f) for f in facts]
    b = breakdown(results, spec.type)
    delivery = delivery_summary(facts)
    words = offline_words(results, b, delivery, spec)
    if wording is not None:
        for r in results:
            notes = wording.questions.get(r["index"])
            if notes is None or r["status"] == "pending":
                continue
            if notes.went_well and r["status"] == "answered":
                r["went_well"] = notes.went_well
            if notes.to_improve:
                r["to_improve"] = notes.to_improve
            if r["status"] == "answered":
                r["missing_key_points"] = [p for p in notes.missing_key_points if p] or r["missing_key_points"]
        words = {"strengths": wording.strengths, "weaknesses": wording.weaknesses, "recommendations": wording.recommendations}
    asked = [r for r in results if r["status"] != "pending"]
    return {
        "version": REPORT_VERSION,
        "session_id": session_id,
        "interview": {
            "type": spec.type,
            "type_name": spec.type_name,
            "difficulty": spec.difficulty,
            "focus_areas": list(spec.focus_areas),
            "requirements": spec.requirements,
            "duration_minutes": spec.duration_minutes,
            "language": spec.language,
            "questions_by": provider,
        },
        "overall_score": session_score(results),
        "score_definition": SCORE_DEFINITION,
        "breakdown": b,
        "questions": results,
        "delivery": delivery,
        **words,
        "questions_planned": len(results),
        "questions_asked": len(asked),
        "questions_answered": sum(1 for r in asked if r["status"] == "answered"),
        "questions_ended_early": sum(1 for r in asked if r["status"] == "ended_early"),
        "ended_reason": state.done_reason or "ended",
        "wording_by": "openai" if wording is not None else "rules",
    }


def report_prompt_data(report: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What the model sees to word the report: the measured facts, never asked to score."""
    interview = {**report["interview"], "breakdown": report["breakdown"], "overall_score": report["overall_score"]}
    qs = [
        {
            "index": r["index"],
            "question": r["text"],
            "key_points": r["key_points"],
            "status": r["status"],
            "answer": r["answer"][:3000],
            "score": r["score"],
            "rubric": r["rubric"],
            "delivery": r["delivery"],
        }
        for r in report["questions"]
        if r["status"] != "pending"
    ]
    return interview, qs
