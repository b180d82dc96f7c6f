"""After the interview: what was asked, how the answers went, what to prepare, and a thank-you e-mail.

``offline_summary`` builds it from the session's own records without a model: the detected and
typed questions, the candidate's captions after each one and the measured scores. A model
(``summary_messages``/``parse_summary``) only rewrites the verdicts, the follow-ups and the e-mail;
the list of questions always comes from the records, so nothing asked is invented or lost.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from string import Template
from typing import Any

from .prompts import DATA_RULE, data_block, language_name

MAX_GIST_WORDS = 40
GOOD_SCORE = 70
MAX_FOLLOW_UPS = 6


@dataclass
class QuestionFacts:
    question: str
    answer: str = ""  # what the candidate said after it (captions)
    score: int | None = None
    feedback: str = ""


@dataclass
class SummaryContext:
    language: str
    questions: list[QuestionFacts]
    candidate_name: str = ""
    title: str = ""


@dataclass
class QuestionSummary:
    question: str
    answer_gist: str
    score: int | None
    how_it_went: str


@dataclass
class SessionSummary:
    questions: list[QuestionSummary]
    overall: str
    follow_ups: list[str]
    thank_you_subject: str
    thank_you_body: str
    provider: str = "offline"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        return out


def _gist(text: str) -> str:
    words = text.split()
    return " ".join(words[:MAX_GIST_WORDS]) + (" …" if len(words) > MAX_GIST_WORDS else "")


def _went(q: QuestionFacts) -> str:
    if not q.answer.strip():
        return "No spoken answer was captured."
    if q.score is None:
        return "Answered; not scored (too short to score)."
    verdict = "Strong answer" if q.score >= GOOD_SCORE else "Room to improve" if q.score >= 45 else "Weak answer"
    return f"{verdict} ({q.score}/100)." + (f" {q.feedback}" if q.feedback else "")


def _last_sentence(question: str) -> str:
    """The question itself, without a lead-in ("Thanks for joining. What is ...?" -> "What is ...?")."""
    return re.split(r"(?<=[.!?])\s+(?=\S)", question.strip())[-1] if question.strip() else question


def _short(question: str, n: int = 12) -> str:
    words = question.rstrip("?.! ").split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


_LEADS = (
    (re.compile(r"^(?:can you |could you )?(?:tell me|talk|walk me through|explain|describe)(?: about)? ", re.I), ""),
    (re.compile(r"^what (?:is|are|was|were) ", re.I), ""),
    (re.compile(r"^how (?:would|do|did|will|can) you ", re.I), "how to "),
)


def topic(question: str, n: int = 12) -> str:
    """A question as a topic to mention: "What is the difference between X and Y?" -> "the difference between X and Y"."""
    t = question.strip().rstrip("?.! ")
    t = re.split(r"[?.!]\s", t)[-1]  # the last sentence holds the question
    t = re.sub(r"^(?:so|and|now|okay|ok|great|right),?\s+", "", t, flags=re.I)
    for pat, repl in _LEADS:
        t = pat.sub(repl, t, count=1)
    return _short(t, n)


def thank_you(ctx: SummaryContext) -> tuple[str, str]:
    topics = [topic(q.question) for q in ctx.questions[:2]]
    about = " I especially enjoyed our discussion of " + " and ".join(topics) + "." if topics else ""
    sign = ctx.candidate_name or "[your name]"
    body = (
        "Dear [interviewer's name],\n\n"
        f"Thank you for taking the time to speak with me today.{about} "
        "Our conversation confirmed my interest in the position and the team.\n\n"
        "If there is anything else I can share to help your decision, please let me know. "
        "I look forward to hearing about the next steps.\n\n"
        f"Best regards,\n{sign}"
    )
    return (f"Thank you — {ctx.title}" if ctx.title else "Thank you for the interview"), body


def offline_summary(ctx: SummaryContext) -> SessionSummary:
    qs = [QuestionSummary(q.question, _gist(q.answer), q.score, _went(q)) for q in ctx.questions]
    answered = [q for q in ctx.questions if q.answer.strip()]
    scores = [q.score for q in ctx.questions if q.score is not None]
    overall = f"{len(ctx.questions)} question{'s' if len(ctx.questions) != 1 else ''} asked, {len(answered)} answered"
    if scores:
        overall += f"; average score {round(sum(scores) / len(scores))}/100"
    overall += "."
    follow: list[str] = []
    for q in ctx.questions:
        if not q.answer.strip():
            follow.append(f"Prepare an answer to: {_short(_last_sentence(q.question), 20)}")
        elif q.score is not None and q.score < GOOD_SCORE:
            follow.append(f"Revisit: {_short(_last_sentence(q.question), 20)}" + (f" — {q.feedback}" if q.feedback else ""))
    follow.append("Prepare a question or two for the interviewer about the team and the next steps.")
    subject, body = thank_you(ctx)
    return SessionSummary(qs, overall, follow[:MAX_FOLLOW_UPS], subject, body, provider="offline")


SUMMARY_SYSTEM = Template(
    """You are an interview coach writing a short summary of a job interview the candidate has just had.
$data_rule
For each question (by its index) write one sentence on how the answer went; use the measured score when given, never invent numbers. Then one or two sentences overall, three to six concrete follow-ups to prepare for the next round, and a short, warm thank-you e-mail to the interviewer (subject and body, signed with the candidate's name when given, "[interviewer's name]" as the greeting).
Write in $language, addressed to the candidate as "you" (the e-mail in the first person).
Reply with a JSON object only: {"questions": [{"index": 1, "how_it_went": "..."}], "overall": "...", "follow_ups": ["..."], "thank_you": {"subject": "...", "body": "..."}}"""
)


def summary_messages(ctx: SummaryContext) -> list[dict[str, str]]:
    data = {
        "role_title": ctx.title,
        "candidate_name": ctx.candidate_name,
        "questions": [
            {"index": i, "question": q.question, "answer": q.answer[:1500], "score": q.score, "feedback": q.feedback}
            for i, q in enumerate(ctx.questions, start=1)
        ],
    }
    system = SUMMARY_SYSTEM.substitute(data_rule=DATA_RULE, language=language_name(ctx.language))
    return [{"role": "system", "content": system}, {"role": "user", "content": data_block(data)}]


def _str(v: Any, limit: int = 600) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("expected a non-empty string")
    return v.strip()[:limit]


def parse_summary(ctx: SummaryContext, provider: str) -> Any:
    """A parser for the model's reply: the questions come from ``ctx``, the words from the model."""

    def parse(obj: Any) -> SessionSummary:
        if not isinstance(obj, dict):
            raise ValueError("not an object")
        base = offline_summary(ctx)
        went = {q.get("index"): q.get("how_it_went") for q in obj.get("questions") or [] if isinstance(q, dict)}
        for i, q in enumerate(base.questions, start=1):
            if isinstance(went.get(i), str) and went[i].strip():
                q.how_it_went = went[i].strip()[:400]
        ups = obj.get("follow_ups")
        if not isinstance(ups, list) or not ups:
            raise ValueError('"follow_ups" must be a list')
        ty = obj.get("thank_you")
        if not isinstance(ty, dict):
            raise ValueError('"thank_you" must be an object')
        return SessionSummary(
            questions=base.questions,
            overall=_str(obj.get("overall")),
            follow_ups=[_str(u, 300) for u in ups if isinstance(u, str) and u.strip()][:MAX_FOLLOW_UPS],
            thank_you_subject=_str(ty.get("subject"), 200),
            thank_you_body=_str(ty.get("body"), 4000),
            provider=provider,
        )

    return parse
