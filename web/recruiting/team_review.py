"""Team review (issue 21): several reviewers rate each answer; owners manage members' roles.

Routes (all scoped to the caller's organisation through ``recruiter_routes.member_org``):

- ``GET  /api/org/candidates/{id}/ratings``: every rating of the candidate's answers, with the
  average and spread of each answer (``review_stats``) and the caller's own rating.
- ``PUT/DELETE /api/org/candidates/{id}/answers/{n}/rating``: the caller's rating of one answer
  (any role, reviewers included: rating is the one change a reviewer may make).
- ``PATCH/DELETE /api/org/members/{user_id}``: change a member's role, remove a member (owners only;
  never the organisation's founding owner). A removed member's next request answers 403.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web

from interview_room.store import recruiting as store
from interview_room.store import team_review as tr_store
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import ApiError, not_found
from web.common.serialize import iso
from web.common.validation import Invalid, parse, read_json, string

from . import recruiter_routes
from .fields import parse_uuid
from .review_stats import CRITERIA, CRITERION_LABELS, HIGH, LOW, answer_stats

log = logging.getLogger("signaling.recruiting.team_review")
routes = web.RouteTableDef()
ROLES = ("owner", "recruiter", "reviewer")


def _scores(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise Invalid("must be an object of criterion: 1-5")
    unknown = set(value) - set(CRITERIA)
    if unknown:
        raise Invalid(f"unknown criterion {sorted(unknown)[0]!r}; the rubric is {', '.join(CRITERIA)}")
    out: dict[str, int] = {}
    for c in CRITERIA:
        v = value.get(c)
        if isinstance(v, bool) or not isinstance(v, int) or not LOW <= v <= HIGH:
            raise Invalid(f"{c} must be a whole number from {LOW} to {HIGH}")
        out[c] = v
    return out


RATING_SPEC = {"scores": _scores, "comment": string(max_len=5000)}


def rating_json(r: tr_store.Rating) -> dict[str, Any]:
    return {
        "reviewer": {"id": str(r.reviewer_id), "name": r.reviewer_name, "email": r.reviewer_email},
        "scores": r.scores,
        "comment": r.comment,
        "updated_at": iso(r.updated_at),
    }


def ratings_summary(
    ratings: list[tr_store.Rating], questions: int, me: uuid.UUID | None = None, *, with_emails: bool = True
) -> dict[str, Any]:
    """Per answer: every rating, the average and spread, and (``me``) the caller's own."""
    answers = []
    for i in range(questions):
        mine = [r for r in ratings if r.question_idx == i]
        items = [rating_json(r) for r in mine]
        if not with_emails:
            for it in items:
                it["reviewer"].pop("email", None)
                it["reviewer"].pop("id", None)
        entry: dict[str, Any] = {"index": i, "ratings": items, **answer_stats([r.scores for r in mine])}
        if me is not None:
            own = next((r for r in mine if r.reviewer_id == me), None)
            entry["mine"] = rating_json(own) if own else None
        answers.append(entry)
    return {
        "rubric": [{"key": c, "label": CRITERION_LABELS[c], "min": LOW, "max": HIGH} for c in CRITERIA],
        "answers": answers,
    }


async def _candidate_and_questions(request: web.Request, org: dict[str, Any]) -> tuple[dict[str, Any], int]:
    pool = services(request).pool
    cid = parse_uuid(request.match_info["candidate_id"], "candidate")
    c = await store.get_candidate(pool, org["id"], cid)
    if c is None:
        raise not_found("No such candidate")
    iv = await store.get_interview(pool, org["id"], c["interview_id"])
    assert iv is not None  # candidates cascade with their interview
    return c, len(iv["questions"])


@routes.get("/api/org/candidates/{candidate_id}/ratings")
async def list_ratings(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request)
    c, n = await _candidate_and_questions(request, org)
    ratings = await tr_store.ratings_of(services(request).pool, org["id"], c["id"])
    return web.json_response(ratings_summary(ratings, n, current_user(request).id))


def _question(request: web.Request, n: int) -> int:
    try:
        idx = int(request.match_info["n"])
    except ValueError:
        raise not_found("No such answer") from None
    if not 0 <= idx < n:
        raise not_found("No such answer")
    return idx


@routes.put("/api/org/candidates/{candidate_id}/answers/{n}/rating")
async def rate(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request, reviewer_ok=True)
    c, n = await _candidate_and_questions(request, org)
    idx = _question(request, n)
    body = parse(await read_json(request), RATING_SPEC, required=("scores",))
    pool = services(request).pool
    me = current_user(request).id
    saved = await tr_store.save_rating(pool, org["id"], c["id"], idx, me, body["scores"], body.get("comment", ""))
    if not saved:
        raise not_found("No such candidate")
    ratings = await tr_store.ratings_of(pool, org["id"], c["id"])
    log.info("answer rated org=%s candidate=%s question=%d", org["id"], c["id"], idx)
    return web.json_response(ratings_summary(ratings, n, me)["answers"][idx])


@routes.delete("/api/org/candidates/{candidate_id}/answers/{n}/rating")
async def unrate(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request, reviewer_ok=True)
    c, n = await _candidate_and_questions(request, org)
    idx = _question(request, n)
    if not await tr_store.delete_rating(services(request).pool, org["id"], c["id"], idx, current_user(request).id):
        raise not_found("You have not rated this answer")
    return web.Response(status=204)


# ---- members ----


async def _member_id(request: web.Request, org: dict[str, Any]) -> uuid.UUID:
    uid = parse_uuid(request.match_info["user_id"], "member")
    if await tr_store.member_role(services(request).pool, org["id"], uid) is None:
        raise not_found("No such member")
    if uid == org["owner_id"]:
        raise ApiError(409, "founding_owner", "The organisation's founding owner cannot be removed or change role")
    return uid


@routes.patch("/api/org/members/{user_id}")
async def change_role(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request, owner=True)
    body = parse(await read_json(request), {"role": string(choices=ROLES)}, required=("role",))
    uid = await _member_id(request, org)
    pool = services(request).pool
    if not await tr_store.set_role(pool, org["id"], uid, body["role"]):
        raise not_found("No such member")
    log.info("member role changed org=%s user=%s role=%s", org["id"], uid, body["role"])
    return web.json_response({"id": str(uid), "role": body["role"]})


@routes.delete("/api/org/members/{user_id}")
async def remove(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request, owner=True)
    uid = await _member_id(request, org)
    if not await tr_store.remove_member(services(request).pool, org["id"], uid, current_user(request).id):
        raise not_found("No such member")
    log.info("member removed org=%s user=%s", org["id"], uid)
    return web.Response(status=204)
