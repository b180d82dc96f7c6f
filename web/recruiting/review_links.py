"""Read-only review links for a hiring manager without an account (issue 21).

A recruiter (not a reviewer) creates a link for one candidate; it expires (``days``, at most
``MAX_DAYS``) and can be revoked. The token is random, travels in the URL's fragment and the
``X-Share-Token`` header (never in a path or query, so never in an access log), and only its keyed
hash is stored. ``GET /api/share/review`` answers the candidate's review without recordings or the
candidate's e-mail, with the team's ratings; there is no route that changes anything with it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from interview_room.store import recruiting as store
from interview_room.store import team_review as tr_store
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import ApiError, not_found
from web.common.serialize import iso
from web.common.validation import integer, parse, read_json

from . import links, recruiter_routes
from .fields import parse_uuid
from .team_review import ratings_summary

log = logging.getLogger("signaling.recruiting.review_links")
routes = web.RouteTableDef()
TOKEN_HEADER = "X-Share-Token"
PURPOSE = "review-share"
DEFAULT_DAYS = 7
MAX_DAYS = 30


def share_url(base: str, token: str) -> str:
    return f"{base}/recruit/shared.html#{token}"


def link_json(s: tr_store.ShareLink) -> dict[str, Any]:
    now = datetime.now(UTC)
    state = "revoked" if s.revoked_at else ("expired" if s.expires_at <= now else "active")
    return {
        "id": str(s.id),
        "candidate_id": str(s.candidate_id),
        "created_at": iso(s.created_at),
        "expires_at": iso(s.expires_at),
        "revoked_at": iso(s.revoked_at),
        "state": state,
    }


@routes.post("/api/org/candidates/{candidate_id}/share-links")
async def create(request: web.Request) -> web.Response:
    svc = services(request)
    org = await recruiter_routes.member_org(request)
    cid = parse_uuid(request.match_info["candidate_id"], "candidate")
    body = parse(await read_json(request), {"days": integer(1, MAX_DAYS)})
    token = links.new_link_token()
    expires = datetime.now(UTC) + timedelta(days=body.get("days", DEFAULT_DAYS))
    made = await tr_store.create_share_link(
        svc.pool, org["id"], cid, links.token_hash(svc, PURPOSE, token), current_user(request).id, expires
    )
    if made is None:
        raise not_found("No such candidate")
    log.info("review share link created org=%s candidate=%s link=%s", org["id"], cid, made.id)
    return web.json_response({**link_json(made), "link": share_url(links.base_url(request), token)}, status=201)


@routes.get("/api/org/candidates/{candidate_id}/share-links")
async def list_links(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request, recruiter=True)
    cid = parse_uuid(request.match_info["candidate_id"], "candidate")
    if await store.get_candidate(services(request).pool, org["id"], cid) is None:
        raise not_found("No such candidate")
    rows = await tr_store.share_links_of(services(request).pool, org["id"], cid)
    return web.json_response({"links": [link_json(s) for s in rows]})


@routes.delete("/api/org/share-links/{link_id}")
async def revoke(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request)
    lid = parse_uuid(request.match_info["link_id"], "share link")
    if not await tr_store.revoke_share_link(services(request).pool, org["id"], lid):
        raise not_found("No such share link")
    log.info("review share link revoked org=%s link=%s", org["id"], lid)
    return web.Response(status=204)


def _public(review: dict[str, Any]) -> dict[str, Any]:
    """The review without media URLs, session ids or the candidate's e-mail."""
    c = review["candidate"]
    answers = []
    for a in review["answers"]:
        item = {k: a[k] for k in ("index", "question", "answered") if k in a}
        if a.get("answered"):
            item["transcript"] = [t["text"] for t in a.get("transcript", [])]
            s = a.get("score") or {}
            item["ai_score"] = s.get("score")
            item["ai_summary"] = s.get("summary") or s.get("feedback") or ""
        answers.append(item)
    return {
        "candidate": {"name": c.get("name") or "Candidate", "status": c.get("status"), "decision": c.get("decision")},
        "interview": {"title": review["interview"]["title"]},
        "overall_score": review["overall_score"],
        "answers": answers,
    }


@routes.get("/api/share/review")
async def shared_review(request: web.Request) -> web.Response:
    svc = services(request)
    token = request.headers.get(TOKEN_HEADER, "").strip()
    found = await tr_store.shared_candidate(svc.pool, links.token_hash(svc, PURPOSE, token)) if token else None
    if found is None:
        raise ApiError(410, "share_link_invalid", "This review link is unknown, expired or was revoked")
    c = await store.get_candidate(svc.pool, found.org_id, found.candidate_id)
    if c is None:
        raise ApiError(410, "share_link_invalid", "This review link is unknown, expired or was revoked")
    org = {"id": found.org_id}
    review = await recruiter_routes.review_of(request, org, c)
    ratings = await tr_store.ratings_of(svc.pool, found.org_id, c["id"])
    out = _public(review)
    out["team"] = ratings_summary(ratings, len(review["answers"]), with_emails=False)
    out["expires_at"] = iso(found.expires_at)
    return web.json_response(out, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def not_cached(request: web.Request, response: web.StreamResponse) -> None:
    """Every /api/share/ answer depends on the token header (errors too): nothing may cache it."""
    if request.path.startswith("/api/share/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Vary"] = TOKEN_HEADER
