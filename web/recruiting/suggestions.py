"""POST /api/org/interviews/suggest-questions: a draft question set from a job description (and a CV).

The drafting is model work, so it runs in the llm worker (job ``suggest_questions``,
ai_sidecar/llm/suggest.py); this route enqueues it once per request text (``bus.add_once``), waits
up to ``WAIT_S`` for the worker's announcement and answers the draft, or 202 ``{"pending": true}``
(the page asks again with the same text and gets the stored result). Nothing is saved in an
interview: the recruiter edits the draft and saves it with the interview as usual.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from interview_room import bus
from interview_room.messages import LlmJob
from interview_room.store import candidate_cvs
from web.common.context import services
from web.common.errors import ApiError
from web.common.validation import integer, parse, read_json, string

from .fields import parse_uuid
from .recruiter_routes import member_org

log = logging.getLogger("signaling.recruiting.suggestions")

routes = web.RouteTableDef()
WAIT_S = 10.0
CHANNEL = "suggested_questions"  # the worker's announcement (ai_sidecar/llm/suggest.py): {"request_key", "result"}
SPEC = {
    "job_description": string(max_len=20_000, min_len=1),
    "cv": string(max_len=20_000),
    "candidate_id": string(max_len=64),
    "count": integer(1, 8),
}


def request_key(job_description: str, cv: str, count: int) -> str:
    raw = json.dumps([job_description.strip(), cv.strip(), count], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def result_key(key: str) -> str:
    return f"suggested:{key}"  # written by the worker


async def ask_worker(r: aioredis.Redis, key: str, payload: dict[str, Any], wait_s: float) -> dict[str, Any] | None:
    """The stored draft, else enqueue (once) and wait for the worker's announcement; None: not yet."""
    cached = await r.get(result_key(key))
    if cached is not None:
        return json.loads(cached)
    ps = r.pubsub()
    try:
        await ps.subscribe(CHANNEL)  # before the job: the announcement cannot be missed
        job = LlmJob(kind="suggest_questions", session_id=str(uuid.uuid5(uuid.NAMESPACE_URL, key)), payload=payload)
        await bus.add_once(r, f"suggest_questions:{key}", bus.LLM_JOBS, job.to_fields()["data"])
        cached = await r.get(result_key(key))  # done between the first look and the subscription
        if cached is not None:
            return json.loads(cached)
        loop = asyncio.get_running_loop()
        end = loop.time() + wait_s
        while (left := end - loop.time()) > 0:
            msg = await ps.get_message(ignore_subscribe_messages=True, timeout=min(left, 1.0))
            if msg is None or msg.get("type") != "message":
                continue
            try:
                data = json.loads(msg["data"])
                if data["request_key"] == key:
                    return data["result"]
            except (ValueError, KeyError, TypeError):
                continue
        return None
    finally:
        await ps.aclose()


@routes.post("/api/org/interviews/suggest-questions")
async def suggest_questions(request: web.Request) -> web.Response:
    org = await member_org(request, recruiter=True)
    body = parse(await read_json(request), SPEC, required=("job_description",))
    if not body["job_description"].strip():
        raise ApiError(400, "validation_error", "job_description must not be blank", field="job_description")
    svc = services(request)
    cv = body.get("cv", "")
    if body.get("candidate_id"):
        row = await candidate_cvs.get_cv(svc.pool, org["id"], parse_uuid(body["candidate_id"], "candidate"))
        if row is None:
            raise ApiError(404, "not_found", "That candidate has no CV")
        cv = row.text
    count = body.get("count", 6)
    key = request_key(body["job_description"], cv, count)
    payload = {"request_key": key, "job_description": body["job_description"], "cv": cv, "count": count}
    result = await ask_worker(svc.redis, key, payload, WAIT_S)
    if result is None:
        log.info("suggested questions not ready yet")
        return web.json_response({"pending": True}, status=202)
    return web.json_response({"pending": False, **result})
