"""Scores of reviewed answers: read from ``answer_scores``, asked of the llm worker when missing.

Every model call runs in the llm worker, so this module only reads stored scores and enqueues an
``answer_score`` job (ai_sidecar/llm/answer_scores.py) for an answer without a score of its current
captions (none yet, or a late caption came). The job is enqueued once per answer and captions
(however many replicas or page views ask), and the request waits a moment for the worker's
announcement on the ``answer_scores`` channel: the worker stores the offline score first (marked
``pending`` while a model scores), so a page never waits on the model. An answer the worker has
not reached in ``WAIT_S`` shows ``{"pending": true}`` without figures; the page asks again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from interview_room import bus
from interview_room.messages import Caption, LlmJob
from interview_room.store import answer_scores as store

log = logging.getLogger("signaling.recruiting.scoring")

WAIT_S = 10.0  # how long a review request waits for the worker's first score
PENDING: dict[str, Any] = {"pending": True}


@dataclass
class Answer:
    session_id: uuid.UUID
    question: dict[str, Any]
    job_description: str
    captions: list[Caption]


class AnswerScorer:
    """Stored scores for reviewed answers; missing ones asked of the llm worker."""

    def __init__(self, pool: asyncpg.Pool, r: aioredis.Redis, wait_s: float = WAIT_S) -> None:
        self.pool = pool
        self.r = r
        self.wait_s = wait_s

    async def score(
        self,
        session_id: uuid.UUID,
        question: dict[str, Any],
        job_description: str,
        captions: list[Caption],
        stored: store.StoredScore | None | bool = True,
    ) -> dict[str, Any] | None:
        """One answer's score (see ``scores``); ``stored``: its row read in bulk already, True: look it up."""
        rows = None if stored is True else {session_id: stored} if stored is not None else {}
        return (await self.scores([Answer(session_id, question, job_description, captions)], rows))[0]

    async def scores(
        self, answers: list[Answer], rows: dict[uuid.UUID, Any] | None = None
    ) -> list[dict[str, Any] | None]:
        """Each answer's stored score; the missing ones enqueued together and awaited (bounded) together."""
        if rows is None:
            rows = await store.stored_scores(self.pool, [a.session_id for a in answers])
        out: list[dict[str, Any] | None] = []
        missing: dict[tuple[str, str], int] = {}
        for i, a in enumerate(answers):
            key = store.captions_key(a.captions)
            row = rows.get(a.session_id)
            if row is not None and row.captions_key == key:
                out.append(row.score)
            else:
                out.append(dict(PENDING))
                missing[(str(a.session_id), key)] = i
        if missing:
            await self._ask_worker(answers, missing, out)
        return out

    async def _ask_worker(
        self, answers: list[Answer], missing: dict[tuple[str, str], int], out: list[dict[str, Any] | None]
    ) -> None:
        ps = self.r.pubsub()
        try:
            await ps.subscribe(store.CHANNEL)  # before the jobs: no announcement can be missed
            for (sid, key), i in missing.items():
                a = answers[i]
                job = LlmJob(
                    kind="answer_score",
                    session_id=sid,
                    payload={
                        "captions_key": key,
                        "question": {"text": a.question["text"], "key_points": list(a.question.get("key_points") or [])},
                        "job_description": a.job_description,
                    },
                )
                await bus.add_once(self.r, f"answer_score:{sid}:{key}", bus.LLM_JOBS, job.to_fields()["data"])
            loop = asyncio.get_running_loop()
            end = loop.time() + self.wait_s
            waiting = dict(missing)
            while waiting and (left := end - loop.time()) > 0:
                msg = await ps.get_message(ignore_subscribe_messages=True, timeout=min(left, 1.0))
                if msg is None or msg.get("type") != "message":
                    continue
                try:
                    data = json.loads(msg["data"])
                    i = waiting.pop((data["session_id"], data["captions_key"]))
                except (ValueError, KeyError, TypeError):
                    continue
                out[i] = data["score"]
            if waiting:
                log.info("scores not ready yet answers=%d", len(waiting))
        finally:
            await ps.aclose()


SCORER: web.AppKey[AnswerScorer] = web.AppKey("answer_scorer", AnswerScorer)
