"""AI score of one recruiter-reviewed answer against its question and the job description (job ``answer_score``).

The web process enqueues the job when the review needs a score it does not have (no row, or a
row of older captions); this worker reads the answer's captions, scores them with its provider
and stores the result (``interview_room/store/answer_scores.py``), announcing each write on the
``answer_scores`` channel so the waiting review request gets it at once. With a model the
offline score is stored first, marked ``pending``, so a page never waits on the model; the
model's score replaces it. A model that fails leaves the offline score with ``model_error``
(stored under the model's name, so a broken model is not asked again until the captions change).
Delivery is always measured from the captions' timing; without a model the offline scorer
measures coverage of the job's requirement lines (or the question's key points).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from dataclasses import asdict
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from interview_room.messages import Caption, LlmJob
from interview_room.store import answer_scores as store
from interview_room.store import captions as captions_store

from .bank import BankEntry, BankMatch
from .delivery import measure
from .provider import Fallback, Provider, ScoreContext
from .scoring import ScoreResult, offline_score

log = logging.getLogger("llm.answer_scores")

MAX_POINTS = 10
OFFLINE = "offline"


def job_points(job_description: str) -> list[str]:
    """The job description's requirement lines (bullets or sentences of three words or more)."""
    parts = re.split(r"[\n\r]+|(?<=[.;!?])\s+", job_description)
    points = [p.strip(" -*•\t") for p in parts]
    return [p for p in points if len(p.split()) >= 3][:MAX_POINTS]


def _spoken(captions: list[Caption]) -> list[Caption]:
    return [c for c in captions if c.role == "candidate" and c.text.strip()]


def _match(question: dict[str, Any], job_description: str) -> BankMatch | None:
    points = tuple(question.get("key_points") or job_points(job_description))
    if not points:
        return None
    entry = BankEntry(id="job", category="technical", question=question["text"], key_points=points, outline="")
    return BankMatch(entry=entry, similarity=1.0)


def as_json(res: ScoreResult, provider: str) -> dict[str, Any]:
    out = asdict(res)
    out["summary"] = res.feedback
    out["provider"] = provider
    return out


def score_offline(question: dict[str, Any], job_description: str, captions: list[Caption]) -> dict[str, Any] | None:
    """Score, rubric, summary and delivery facts; None when nothing was said. Same captions, same score."""
    spoken = _spoken(captions)
    if not spoken:
        return None
    answer = " ".join(c.text for c in spoken)
    res = offline_score(question["text"], _match(question, job_description), answer, measure(spoken))
    return as_json(res, OFFLINE)


def score_context(question: dict[str, Any], job_description: str, captions: list[Caption]) -> ScoreContext | None:
    spoken = _spoken(captions)
    if not spoken:
        return None
    return ScoreContext(
        question=question["text"],
        answer=" ".join(c.text for c in spoken),
        language=spoken[0].lang or "en",
        facts=measure(spoken),
        match=_match(question, job_description),
        job_description=job_description,
    )


class AnswerScorer:
    """The llm worker's part for ``answer_score`` jobs: the worker's provider, under its one limit."""

    def __init__(self, *, r: aioredis.Redis, pool: asyncpg.Pool, provider: Provider, llm_sem: asyncio.Semaphore) -> None:
        self.r = r
        self.pool = pool
        self.provider = provider
        self.llm_sem = llm_sem

    async def _save(self, sid: uuid.UUID, key: str, provider: str, score: dict[str, Any] | None) -> None:
        await store.save_score(self.pool, sid, key, provider, score)
        msg = {"session_id": str(sid), "captions_key": key, "score": score}
        await self.r.publish(store.CHANNEL, json.dumps(msg))

    async def run(self, job: LlmJob) -> None:
        sid = uuid.UUID(job.session_id)
        question = job.payload.get("question")
        jd = job.payload.get("job_description") or ""
        if not isinstance(question, dict) or not isinstance(question.get("text"), str) or not isinstance(jd, str):
            log.error("dropping malformed answer_score job")
            return
        caps = await captions_store.list_captions(self.pool, str(sid))
        key = store.captions_key(caps)  # the captions as they are now (a late one may have come since)
        row = await store.get_score(self.pool, sid)
        if row is not None and row.captions_key == key and not (row.score or {}).get("pending"):
            await self.r.publish(store.CHANNEL, json.dumps({"session_id": str(sid), "captions_key": key, "score": row.score}))
            return  # scored already (a redelivered or repeated job)
        offline = await asyncio.to_thread(score_offline, question, jd, caps)  # CPU off the loop
        name = OFFLINE if self.provider.offline else self.provider.name
        ctx = score_context(question, jd, caps)
        if self.provider.offline or offline is None or ctx is None:
            await self._save(sid, key, OFFLINE, offline)
            return
        await self._save(sid, key, name, {**offline, "pending": True})  # stands in while the model scores
        failed: list[Fallback] = []

        async def fell_back(fb: Fallback) -> None:
            failed.append(fb)

        async with self.llm_sem:
            res = await self.provider.bind(fell_back).score(ctx)
        if failed:
            e = failed[-1].error
            log.warning("model scoring failed session=%s code=%s", sid, e.code)
            result = {**as_json(res, failed[-1].to.name), "model_error": e.message}
        else:
            log.info("answer scored by the model session=%s provider=%s", sid, name)
            result = as_json(res, name)
        await self._save(sid, key, name, result)
