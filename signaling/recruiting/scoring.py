"""AI score of one recorded answer against the question and the job description.

With a model configured (``LLM_PROVIDER`` / ``OPENAI_API_KEY``, as for the llm worker) the model
scores relevance, completeness, structure and clarity with the job description in its prompt;
delivery is always measured from the captions' timing. Without one, the offline scorer
(ai_sidecar/llm/scoring.py) measures coverage of the job's requirement lines (or the question's
key points). A score is stored per answer with a key of the captions it read, so review pages,
comparisons and exports reuse it until a late caption arrives. Model scores are computed in the
background: a page never waits on the model; it shows the offline score marked ``pending`` until
the model's is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from dataclasses import asdict
from typing import Any

import asyncpg
from aiohttp import web

from ai_sidecar.llm.bank import BankEntry, BankMatch
from ai_sidecar.llm.delivery import measure
from ai_sidecar.llm.factory import make_provider
from ai_sidecar.llm.provider import Provider, ProviderError, ScoreContext
from ai_sidecar.llm.scoring import ScoreResult, offline_score
from interview_room.config import Config
from interview_room.messages import Caption
from interview_room.service import TaskGroup

from . import store

log = logging.getLogger("signaling.recruiting.scoring")

MAX_POINTS = 10
OFFLINE = "offline"
MODEL_CONCURRENCY = 4  # model calls at once per signaling process


def job_points(job_description: str) -> list[str]:
    """The job description's requirement lines (bullets or sentences of three words or more)."""
    parts = re.split(r"[\n\r]+|(?<=[.;!?])\s+", job_description)
    points = [p.strip(" -*•\t") for p in parts]
    return [p for p in points if len(p.split()) >= 3][:MAX_POINTS]


def captions_key(captions: list[Caption]) -> str:
    """Changes whenever the answer's captions do (a late caption, a corrected text)."""
    h = hashlib.sha256()
    for c in captions:
        h.update(f"{c.id}\x1f{c.role}\x1f{c.text}\x1e".encode())
    return f"{len(captions)}:{h.hexdigest()[:32]}"


def _spoken(captions: list[Caption]) -> list[Caption]:
    return [c for c in captions if c.role == "candidate" and c.text.strip()]


def _match(question: dict[str, Any], job_description: str) -> BankMatch | None:
    points = tuple(question.get("key_points") or job_points(job_description))
    if not points:
        return None
    entry = BankEntry(id="job", category="technical", question=question["text"], key_points=points, outline="")
    return BankMatch(entry=entry, similarity=1.0)


def _as_json(res: ScoreResult, provider: str) -> dict[str, Any]:
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
    return _as_json(res, OFFLINE)


async def score_with_model(
    provider: Provider, question: dict[str, Any], job_description: str, captions: list[Caption]
) -> dict[str, Any] | None:
    spoken = _spoken(captions)
    if not spoken:
        return None
    ctx = ScoreContext(
        question=question["text"],
        answer=" ".join(c.text for c in spoken),
        language=spoken[0].lang or "en",
        facts=measure(spoken),
        match=_match(question, job_description),
        job_description=job_description,
    )
    return _as_json(await provider.score(ctx), provider.name)


class AnswerScorer:
    """Stored scores for reviewed answers; the model's in background tasks owned by ``tasks``."""

    def __init__(self, cfg: Config, pool: asyncpg.Pool, tasks: TaskGroup, provider: Provider | None = None) -> None:
        self.pool = pool
        self.tasks = tasks
        self.provider = provider or make_provider(cfg)
        self._running: set[uuid.UUID] = set()
        # a comparison of many unscored answers must not fire every model call at once (rate limits)
        self._model_slots = asyncio.Semaphore(MODEL_CONCURRENCY)

    @property
    def provider_name(self) -> str:
        return OFFLINE if self.provider.offline else self.provider.name

    async def score(
        self,
        session_id: uuid.UUID,
        question: dict[str, Any],
        job_description: str,
        captions: list[Caption],
        stored: dict[str, Any] | None | bool = True,
    ) -> dict[str, Any] | None:
        """``stored``: the answer_scores row read already in bulk (None: there is none); True: look it up."""
        key = captions_key(captions)
        if stored is True:
            hit, cached = await store.cached_score(self.pool, session_id, key, self.provider_name)
        else:
            row = stored if isinstance(stored, dict) else None
            hit = row is not None and row["captions_key"] == key and row["provider"] == self.provider_name
            cached = row["score"] if hit and row is not None else None
        if hit:
            return cached
        offline = await asyncio.to_thread(score_offline, question, job_description, captions)  # CPU off the loop
        if self.provider.offline or offline is None:
            await store.save_score(self.pool, session_id, key, OFFLINE, offline)
            return offline
        self._start_model(session_id, key, question, job_description, captions)
        return {**offline, "pending": True}

    def _start_model(
        self, session_id: uuid.UUID, key: str, question: dict[str, Any], job_description: str, captions: list[Caption]
    ) -> None:
        if session_id in self._running:
            return
        self._running.add(session_id)
        self.tasks.spawn(self._model(session_id, key, question, job_description, captions), f"score-{session_id}")

    async def _model(
        self, session_id: uuid.UUID, key: str, question: dict[str, Any], job_description: str, captions: list[Caption]
    ) -> None:
        try:
            try:
                async with self._model_slots:
                    result = await score_with_model(self.provider, question, job_description, captions)
            except ProviderError as e:
                # stored as the offline score under the model's name, so a broken model is not asked on
                # every page view; a new caption (a new key) asks again
                log.warning("model scoring failed session=%s code=%s error=%s", session_id, e.code, e.message)
                result = await asyncio.to_thread(score_offline, question, job_description, captions)
                if result is not None:
                    result["model_error"] = e.message
            else:
                log.info("answer scored by the model session=%s provider=%s", session_id, self.provider.name)
            await store.save_score(self.pool, session_id, key, self.provider_name, result)
        finally:
            self._running.discard(session_id)  # after the save: a page view in between must not ask again

    async def close(self) -> None:
        await self.provider.close()


SCORER: web.AppKey[AnswerScorer] = web.AppKey("answer_scorer", AnswerScorer)
