"""A candidate's CV: uploaded on the candidate page, read for the reviewer.

- ``POST /api/c/cv`` (``X-Candidate-Token``, multipart field ``file``): .pdf/.docx/.txt parsed to text by
  the résumé sandbox (size, zip-inflation, memory and time limits: web/accounts/resume.py); a new
  upload replaces the old one. ``GET /api/c/cv``: what the candidate uploaded (name, when).
- ``GET /api/org/candidates/{id}/cv``: the reviewer's view: skills, experience, education, a summary
  and the match with the interview's job description, each requirement with its evidence. The
  reading is model work, so it is the llm worker's (job ``cv_reading``, ai_sidecar/llm/cv.py),
  enqueued once per CV and job description; until it is stored the answer is ``{"pending": true}``
  and the page asks again.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web

from interview_room import bus
from interview_room.messages import LlmJob
from interview_room.store import candidate_cvs as store
from interview_room.store import recruiting as recruiting_store
from web.accounts.account_routes import document_text, read_upload
from web.common.context import Services, services
from web.common.errors import ApiError, not_found
from web.common.serialize import iso

from .candidate_routes import link_candidate
from .fields import parse_uuid
from .recruiter_routes import member_org

log = logging.getLogger("signaling.recruiting.cv")

routes = web.RouteTableDef()
MIN_CHARS = 20


async def _enqueue(svc: Services, cid: uuid.UUID, key: str, job_description: str) -> None:
    job = LlmJob(kind="cv_reading", session_id=str(cid), payload={"key": key, "job_description": job_description})
    await bus.add_once(svc.redis, f"cv_reading:{cid}:{key}", bus.LLM_JOBS, job.to_fields()["data"])


async def _job_description(svc: Services, c: dict[str, Any]) -> str:
    iv = await recruiting_store.get_interview(svc.pool, c["org_id"], c["interview_id"])
    return (iv or {}).get("job_description") or ""


@routes.post("/api/c/cv")
async def upload_cv(request: web.Request) -> web.Response:
    c = await link_candidate(request)
    filename, data = await read_upload(request)
    text = await document_text(filename, data)
    if len(text.strip()) < MIN_CHARS:
        raise ApiError(400, "unreadable_file", "The file has almost no text: upload the CV as a text PDF or .docx")
    svc = services(request)
    jd = await _job_description(svc, c)
    key = store.reading_key(text, jd)
    await store.save_cv(svc.pool, c["org_id"], c["id"], filename[:200], text, key)
    await _enqueue(svc, c["id"], key, jd)  # read ahead of the review
    log.info("candidate CV uploaded chars=%d", len(text))
    return web.json_response({"filename": filename[:200], "chars": len(text)}, status=201)


@routes.get("/api/c/cv")
async def own_cv(request: web.Request) -> web.Response:
    c = await link_candidate(request)
    row = await store.get_cv(services(request).pool, c["org_id"], c["id"])
    if row is None:
        return web.json_response({"uploaded": False})
    return web.json_response({"uploaded": True, "filename": row.filename, "uploaded_at": iso(row.uploaded_at)})


@routes.get("/api/org/candidates/{candidate_id}/cv")
async def review_cv(request: web.Request) -> web.Response:
    org = await member_org(request)
    svc = services(request)
    cid = parse_uuid(request.match_info["candidate_id"], "candidate")
    c = await recruiting_store.get_candidate(svc.pool, org["id"], cid)
    if c is None:
        raise not_found("No such candidate")
    row = await store.get_cv(svc.pool, org["id"], cid)
    if row is None:
        return web.json_response({"uploaded": False})
    jd = await _job_description(svc, c)
    key = store.reading_key(row.text, jd)
    out: dict[str, Any] = {"uploaded": True, "filename": row.filename, "uploaded_at": iso(row.uploaded_at)}
    reading = row.reading
    if reading is not None and reading.get("key") == key:
        out.update({k: v for k, v in reading.items() if k != "key"})
        out.setdefault("pending", False)
        return web.json_response(out)
    if row.reading_key != key:
        await store.set_reading_key(svc.pool, cid, key)  # the job description changed since the upload
    await _enqueue(svc, cid, key, jd)
    out["pending"] = True
    return web.json_response(out)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
