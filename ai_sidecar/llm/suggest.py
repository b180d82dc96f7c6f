"""Suggested interview questions from a job description (and optionally a CV): job ``suggest_questions``.

The recruiter's "Suggest questions" asks the web process, which enqueues this job once per request
text (``web/recruiting/suggestions.py``); the worker drafts the questions with its provider (the
offline draft without a model or when the model fails), keeps the result in Redis for 7 hours
under the request's key and announces it on ``suggested_questions``. Nothing is stored in the
interview: the recruiter edits the draft and saves it with the interview.

Offline: one question per requirement line of the job description (its own words, with key points
an answer should cover), one about the CV line closest to the job, then question-bank entries
ranked by how many of the job's terms they share.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis

from interview_room.messages import LlmJob

from .bank import QuestionBank
from .prompts import DATA_RULE, data_block
from .text import STOPWORDS, sentences, terms, words

log = logging.getLogger("llm.suggest")

CHANNEL = "suggested_questions"
RESULT_TTL_S = 7 * 3600  # outlives the once-per-request guard of bus.add_once (6 h)
MAX_QUESTIONS = 8
MAX_POINTS = 6
MAX_TEXT = 20_000


def result_key(request_key: str) -> str:
    return f"suggested:{request_key}"


@dataclass
class SuggestRequest:
    job_description: str
    cv: str = ""
    count: int = 6


@dataclass
class SuggestedQuestion:
    text: str
    key_points: list[str] = field(default_factory=list)
    source: str = "job"  # job | cv | bank | model


def requirement_lines(job_description: str, limit: int = 10) -> list[str]:
    parts = re.split(r"[\n\r]+|(?<=[.;!?])\s+", job_description)
    lines = [p.strip(" -*•\t").rstrip(".;") for p in parts]
    return [p for p in lines if len(p.split()) >= 4][:limit]  # a title line is not a requirement


def keywords(text: str, limit: int = 4) -> list[str]:
    """The line's content words as written (no stop words, no duplicates), longest first."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w not in STOPWORDS and len(w) > 2 and not w.isdigit():
            seen.setdefault(w, None)
    return sorted(seen, key=len, reverse=True)[:limit]


def _line_question(line: str) -> SuggestedQuestion:
    kws = keywords(line)
    topic = ", ".join(kws) if kws else line
    return SuggestedQuestion(
        text=f"Tell us about your experience with this part of the role: {line}.",
        key_points=[
            f"A concrete project or situation involving {topic}",
            "What they did themselves and the decisions they made",
            "The result, with figures where possible",
            "What they would do differently now",
        ],
        source="job",
    )


def _cv_question(cv: str, jd_terms: set[str]) -> SuggestedQuestion | None:
    best, best_n = "", 0
    for s in sentences(cv):
        n = len(set(terms(s)) & jd_terms)
        if n > best_n and len(s.split()) >= 3:
            best, best_n = s.strip(" -*•\t"), n
    if not best:
        return None
    return SuggestedQuestion(
        text=f'Your CV mentions: "{best[:300]}". Walk us through it and how it prepares you for this job.',
        key_points=[
            "The context, their role and the size of the work",
            "The skills from the job description they used there",
            "The outcome and what they learned",
        ],
        source="cv",
    )


def offline_suggestions(bank: QuestionBank, req: SuggestRequest) -> list[SuggestedQuestion]:
    count = max(1, min(req.count, MAX_QUESTIONS))
    jd_terms = set(terms(req.job_description))
    out: list[SuggestedQuestion] = [_line_question(line) for line in requirement_lines(req.job_description)]
    out = out[: max(1, count // 2)]
    if req.cv.strip():
        q = _cv_question(req.cv, jd_terms)
        if q is not None:
            out.append(q)
    ranked = []
    for i, e in enumerate(bank.entries):
        entry_terms = set(terms(" ".join((e.question, *e.key_points))))
        ranked.append((len(entry_terms & jd_terms), e.category == "behavioural", -i, e))
    ranked.sort(key=lambda t: (t[0], t[1], t[2]), reverse=True)
    for _n, _b, _i, e in ranked:
        if len(out) >= count:
            break
        out.append(SuggestedQuestion(text=e.question, key_points=list(e.key_points[:MAX_POINTS]), source="bank"))
    return out[:count]


SUGGEST_SYSTEM = (
    "You draft interview questions for a recruiter from a job description (and the candidate's CV when given). "
    'Reply with JSON only: {"questions": [{"text": str, "key_points": [str, ...]}, ...]} with exactly '
    "COUNT questions, each with 3 to 5 short key points a strong answer covers. Ask about the job's own "
    "requirements; at most one question may be about the CV. " + DATA_RULE
)


def suggest_messages(req: SuggestRequest) -> list[dict[str, str]]:
    data = {"job_description": req.job_description[:MAX_TEXT], "cv": req.cv[:MAX_TEXT]}
    system = SUGGEST_SYSTEM.replace("COUNT", str(max(1, min(req.count, MAX_QUESTIONS))))
    return [{"role": "system", "content": system}, {"role": "user", "content": data_block(data)}]


def parse_suggestions(obj: Any) -> list[SuggestedQuestion]:
    if not isinstance(obj, dict) or not isinstance(obj.get("questions"), list):
        raise ValueError("no questions list")
    out = []
    for q in obj["questions"][:MAX_QUESTIONS]:
        if not isinstance(q, dict) or not isinstance(q.get("text"), str) or not q["text"].strip():
            continue
        pts = [p.strip()[:300] for p in q.get("key_points") or [] if isinstance(p, str) and p.strip()]
        out.append(SuggestedQuestion(text=q["text"].strip()[:2000], key_points=pts[:MAX_POINTS], source="model"))
    if not out:
        raise ValueError("no usable question")
    return out


def parse_request(payload: dict[str, Any]) -> SuggestRequest | None:
    jd, cv, n = payload.get("job_description"), payload.get("cv", ""), payload.get("count", 6)
    if not isinstance(jd, str) or not isinstance(cv, str) or not isinstance(n, int) or isinstance(n, bool):
        return None
    return SuggestRequest(job_description=jd[:MAX_TEXT], cv=cv[:MAX_TEXT], count=n)


class QuestionSuggester:
    """The llm worker's part for ``suggest_questions`` jobs."""

    def __init__(self, *, r: aioredis.Redis, provider: Any, llm_sem: asyncio.Semaphore) -> None:
        self.r = r
        self.provider = provider
        self.llm_sem = llm_sem

    async def run(self, job: LlmJob) -> None:
        key = job.payload.get("request_key")
        req = parse_request(job.payload)
        if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{64}", key) or req is None:
            log.error("dropping malformed suggest_questions job")
            return
        fell: list[Any] = []

        async def fell_back(fb: Any) -> None:
            fell.append(fb)

        async with self.llm_sem:
            qs = await self.provider.bind(fell_back).suggest_questions(req)
        provider = fell[-1].to.name if fell else self.provider.name
        result: dict[str, Any] = {"questions": [asdict(q) for q in qs], "provider": provider}
        if fell:
            result["model_error"] = fell[-1].error.message
        data = json.dumps(result)
        await self.r.set(result_key(key), data, ex=RESULT_TTL_S)
        await self.r.publish(CHANNEL, json.dumps({"request_key": key, "result": result}))
        log.info("suggested %d questions provider=%s", len(qs), provider)
