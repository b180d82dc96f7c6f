"""/api/org/*: the recruiter's organisation, team, interviews, candidates, review and exports.

Every handler starts from the caller's organisation (``member_org``) and passes its id to every
query: an id from another organisation answers the same 404 as an unknown one.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from interview_room.store import answer_scores, credits
from interview_room.store import captions as captions_store
from interview_room.store import recruiting as store
from interview_room.store import sessions as sessions_store
from interview_room.store import team_review as team_review_store
from web.accounts.auth import READ_METHODS, current_user
from web.common.context import services
from web.common.errors import ApiError, not_found
from web.common.serialize import iso
from web.common.validation import Invalid, email, nullable, parse, read_json, string
from web.sessions import recordings, webvtt

from . import ats_events, candidate_mail, links, mail, reminders, report_pdf
from .csv_cells import safe_row
from .erase import erase_candidate
from .fields import (
    INTERVIEW_SPEC,
    boolean,
    candidate_json,
    candidate_status,
    jsonable,
    parse_uuid,
    timestamp,
    webhook_url,
)
from .scoring import SCORER, Answer, AnswerScorer

log = logging.getLogger("signaling.recruiting")

routes = web.RouteTableDef()
DEFAULT_LINK_DAYS = 14
INVITE_DAYS = 7
MAX_CSV_ROWS = 1000
CANDIDATE_SPEC = {
    "email": nullable(email),
    "name": string(max_len=200),
    "expires_at": timestamp,
    "send_email": boolean,
}


async def member_org(
    request: web.Request, *, owner: bool = False, recruiter: bool = False, reviewer_ok: bool = False
) -> dict[str, Any]:
    """The caller's organisation, read afresh on every request (a removed member is refused at once).

    A reviewer reads and rates only: any other change (``reviewer_ok`` false on a non-read method), and what
    ``recruiter`` marks, answers 403."""
    org = await store.org_of_user(services(request).pool, current_user(request).id)
    if org is None:
        if await team_review_store.was_removed(services(request).pool, current_user(request).id):
            raise ApiError(403, "removed_from_organisation", "You were removed from the organisation")
        raise ApiError(404, "no_organisation", "Create an organisation first (POST /api/org) or accept an invitation")
    if owner and org["role"] != "owner":
        raise ApiError(403, "owner_only", "Only the organisation's owner can do this")
    writes = request.method not in READ_METHODS and not reviewer_ok
    if org["role"] == "reviewer" and (recruiter or writes):
        raise ApiError(403, "reviewer_read_only", "Reviewers can read and rate answers, not change anything else")
    return org


def _org_json(org: dict[str, Any]) -> dict[str, Any]:
    out = jsonable(org)
    if org["role"] == "owner":
        out["webhook_secret"] = org["webhook_secret"]
    return out


async def _interview(request: web.Request, org: dict[str, Any]) -> dict[str, Any]:
    iid = parse_uuid(request.match_info["interview_id"], "interview")
    iv = await store.get_interview(services(request).pool, org["id"], iid)
    if iv is None:
        raise not_found("No such interview")
    return iv


async def _candidate(request: web.Request, org: dict[str, Any]) -> dict[str, Any]:
    cid = parse_uuid(request.match_info["candidate_id"], "candidate")
    c = await store.get_candidate(services(request).pool, org["id"], cid)
    if c is None:
        raise not_found("No such candidate")
    return c


# ---- organisation and team ----


@routes.post("/api/org")
async def create_org(request: web.Request) -> web.Response:
    body = parse(await read_json(request), {"name": string(max_len=200, min_len=1)}, required=("name",))
    org = await store.create_org(services(request).pool, current_user(request).id, body["name"])
    if org is None:
        raise ApiError(409, "already_member", "You already belong to an organisation")
    return web.json_response(_org_json(org), status=201)


LOW_CREDIT_S = 1800.0  # below this the dashboard warns that candidates may soon be unable to record


@routes.get("/api/org")
async def get_org(request: web.Request) -> web.Response:
    """Also how much recording time candidates have left: their answers use the owner's credits."""
    org = await member_org(request)
    out = _org_json(org)
    async with services(request).pool.acquire() as conn:
        left = await credits.balance(conn, org["owner_id"])
    out["recording_seconds_left"] = max(0, int(left))
    out["recording_low"] = left < LOW_CREDIT_S
    return web.json_response(out)


@routes.patch("/api/org")
async def update_org(request: web.Request) -> web.Response:
    org = await member_org(request, owner=True)
    allow_private = services(request).cfg.webhook_allow_private
    spec = {
        "name": string(max_len=200, min_len=1),
        "webhook_url": lambda v: webhook_url(v, allow_private=allow_private),
    }
    body = parse(await read_json(request), spec)
    await store.update_org(services(request).pool, org["id"], body)
    return web.json_response(_org_json(await member_org(request)))


@routes.get("/api/org/members")
async def members(request: web.Request) -> web.Response:
    org = await member_org(request)
    pool = services(request).pool
    return web.json_response(
        {
            "members": [
                {**jsonable(m), "founder": m["id"] == org["owner_id"]}
                for m in await store.list_members(pool, org["id"])
            ],
            "invites": [jsonable(i) for i in await store.list_invites(pool, org["id"])],
        }
    )


@routes.post("/api/org/invites")
async def invite_member(request: web.Request) -> web.Response:
    svc = services(request)
    org = await member_org(request, owner=True)
    spec = {"email": email, "role": string(choices=("recruiter", "reviewer"))}
    body = parse(await read_json(request), spec, required=("email",))
    token = links.new_link_token()
    expires = datetime.now(UTC) + timedelta(days=INVITE_DAYS)
    await store.create_invite(
        svc.pool,
        org["id"],
        body["email"],
        links.token_hash(svc, "org-invite", token),
        current_user(request).id,
        expires,
    )
    role = body.get("role", "recruiter")
    await team_review_store.set_invite_role(svc.pool, org["id"], links.token_hash(svc, "org-invite", token), role)
    link = links.join_link(request, token)
    sent = await mail.team_invite(svc.cfg, body["email"], org["name"], link)
    return web.json_response(
        {"email": body["email"], "link": link, "emailed": sent, "expires_at": iso(expires), "role": role}, status=201
    )


@routes.post("/api/org/join")
async def join(request: web.Request) -> web.Response:
    svc = services(request)
    body = parse(await read_json(request), {"token": string(max_len=200, min_len=1)}, required=("token",))
    user = current_user(request)
    outcome = await store.accept_invite(
        svc.pool, links.token_hash(svc, "org-invite", body["token"]), user.id, user.email
    )
    if outcome == "has_org":
        raise ApiError(409, "already_member", "You already belong to an organisation")
    if outcome != "ok":
        raise ApiError(
            404, "invalid_invite", "This invitation is unknown, used, expired, or for another e-mail address"
        )
    return web.json_response(_org_json(await member_org(request, reviewer_ok=True)))


# ---- interviews ----


@routes.post("/api/org/interviews")
async def create_interview(request: web.Request) -> web.Response:
    org = await member_org(request)
    body = parse(await read_json(request), INTERVIEW_SPEC, required=("title",))
    iv = await store.create_interview(services(request).pool, org["id"], current_user(request).id, body)
    return web.json_response(jsonable(iv), status=201)


@routes.get("/api/org/interviews")
async def list_interviews(request: web.Request) -> web.Response:
    org = await member_org(request)
    t = request.query.get("templates")
    templates = None if t is None else t in ("1", "true")
    rows = await store.list_interviews(services(request).pool, org["id"], templates)
    return web.json_response({"interviews": [jsonable(r) for r in rows]})


@routes.get("/api/org/interviews/{interview_id}")
async def get_interview(request: web.Request) -> web.Response:
    org = await member_org(request)
    return web.json_response(jsonable(await _interview(request, org)))


@routes.patch("/api/org/interviews/{interview_id}")
async def update_interview(request: web.Request) -> web.Response:
    org = await member_org(request)
    iv = await _interview(request, org)
    body = parse(await read_json(request), INTERVIEW_SPEC)
    pool = services(request).pool
    if "questions" in body and await store.has_attempts(pool, org["id"], iv["id"]):
        old_texts = [q["text"] for q in iv["questions"]]
        new_texts = [q["text"] for q in body["questions"]]
        if new_texts[: len(old_texts)] != old_texts:
            raise ApiError(
                409,
                "questions_locked",
                "Candidates have started answering: questions can be added at the end and their times changed, "
                "but not reworded, reordered or removed (clone the interview to change them)",
                field="questions",
            )
    async with pool.acquire() as conn, conn.transaction():
        await store.update_interview(conn, org["id"], iv["id"], body)
        if "deadline" in body and body["deadline"] != iv["deadline"]:
            moved = await store.follow_deadline(conn, org["id"], iv["id"], iv["deadline"], body["deadline"])
            log.info("deadline moved interview=%s links_moved=%d", iv["id"], moved)
    return web.json_response(jsonable(await _interview(request, org)))


@routes.delete("/api/org/interviews/{interview_id}")
async def delete_interview(request: web.Request) -> web.Response:
    """The interview with its candidates and every recorded answer (files included)."""
    org = await member_org(request)
    iv = await _interview(request, org)
    pool = services(request).pool
    for c in await store.list_candidates(pool, org["id"], iv["id"]):
        await erase_candidate(services(request), org, c)
    await store.delete_interview(pool, org["id"], iv["id"])
    log.info("interview deleted interview=%s", iv["id"])
    return web.Response(status=204)


@routes.post("/api/org/interviews/{interview_id}/clone")
async def clone_interview(request: web.Request) -> web.Response:
    """A template (or any interview) copied into a new, editable interview with no candidates."""
    org = await member_org(request)
    src = await _interview(request, org)
    body = parse(await read_json(request), {"title": string(max_len=200, min_len=1), "deadline": timestamp})
    values = {k: src[k] for k in ("job_description", "questions", "company_name", "intro_text", "practice_question")}
    values.update(title=body.get("title") or f"{src['title']} (copy)", deadline=body.get("deadline"), is_template=False)
    iv = await store.create_interview(services(request).pool, org["id"], current_user(request).id, values)
    return web.json_response(jsonable(iv), status=201)


# ---- candidates ----


def _expiry(iv: dict[str, Any], asked: datetime | None) -> datetime:
    limit = iv.get("deadline") or datetime.now(UTC) + timedelta(days=DEFAULT_LINK_DAYS)
    return min(asked, limit) if asked else limit


async def _invite(
    request: web.Request, org: dict[str, Any], iv: dict[str, Any], addr: str, name: str, expires: datetime, send: bool
) -> dict[str, Any] | None:
    svc = services(request)
    cid, nonce = uuid.uuid4(), links.new_nonce()
    token = links.candidate_token(svc.secret, cid, nonce)
    c = await store.add_candidate(
        svc.pool,
        org["id"],
        iv["id"],
        addr,
        name,
        expires,
        candidate_id=cid,
        link_nonce=nonce,
        token_hash=links.token_hash(svc, "candidate", token),
    )
    if c is None:
        return None
    link = links.candidate_link(request, token)
    emailed = bool(addr and send) and await candidate_mail.invite(svc, org["id"], c, iv, link)
    return {"candidate": candidate_json(c), "link": link, "emailed": emailed}


@routes.post("/api/org/interviews/{interview_id}/candidates")
async def invite_candidate(request: web.Request) -> web.Response:
    org = await member_org(request)
    iv = await _interview(request, org)
    body = parse(await read_json(request), CANDIDATE_SPEC)
    out = await _invite(
        request,
        org,
        iv,
        body.get("email") or "",
        body.get("name", ""),
        _expiry(iv, body.get("expires_at")),
        body.get("send_email", True),
    )
    if out is None:
        raise ApiError(
            409, "already_invited", "This e-mail address is already invited to this interview", field="email"
        )
    return web.json_response(out, status=201)


@routes.post("/api/org/interviews/{interview_id}/candidates/csv")
async def invite_csv(request: web.Request) -> web.Response:
    """Body: CSV text with a header row naming ``email`` and optionally ``name``; one invitation per row."""
    org = await member_org(request)
    iv = await _interview(request, org)
    try:
        text = (await request.read()).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ApiError(400, "invalid_csv", "The CSV must be UTF-8 text") from e
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise ApiError(400, "invalid_csv", "The CSV needs a header row with an 'email' column")
    reader.fieldnames = fields
    rows = list(reader)
    if len(rows) > MAX_CSV_ROWS:
        raise ApiError(400, "invalid_csv", f"At most {MAX_CSV_ROWS} rows per upload")
    created, skipped = [], []
    expires = _expiry(iv, None)
    for n, row in enumerate(rows, start=2):
        raw = (row.get("email") or "").strip()
        try:
            addr = email(raw)
        except Invalid:
            skipped.append({"line": n, "email": raw, "reason": "not an e-mail address"})
            continue
        out = await _invite(request, org, iv, addr, (row.get("name") or "").strip()[:200], expires, True)
        if out is None:
            skipped.append({"line": n, "email": addr, "reason": "already invited"})
        else:
            created.append(out)
    return web.json_response({"created": created, "skipped": skipped}, status=201 if created else 200)


@routes.get("/api/org/interviews/{interview_id}/candidates")
async def list_candidates(request: web.Request) -> web.Response:
    org = await member_org(request)
    iv = await _interview(request, org)
    rows = await store.list_candidates(services(request).pool, org["id"], iv["id"])
    return web.json_response({"candidates": [candidate_json(c) for c in rows], "questions": len(iv["questions"])})


@routes.post("/api/org/candidates/{candidate_id}/revoke")
async def revoke(request: web.Request) -> web.Response:
    org = await member_org(request)
    c = await _candidate(request, org)
    await store.revoke_candidate(services(request).pool, org["id"], c["id"])
    return web.json_response(candidate_json(await _candidate(request, org)))


def _pending(c: dict[str, Any]) -> bool:
    return candidate_status(c) in ("invited", "started") and c["revoked_at"] is None


@routes.get("/api/org/candidates/{candidate_id}/link")
async def get_link(request: web.Request) -> web.Response:
    """The candidate's current link, to copy again (derived from its nonce; nothing secret is stored)."""
    svc = services(request)
    org = await member_org(request, recruiter=True)
    c = await _candidate(request, org)
    if c["revoked_at"] is not None or not c["link_nonce"]:
        raise ApiError(409, "link_unavailable", "This link was withdrawn or cannot be shown again; issue a new link")
    link = links.candidate_link(request, links.candidate_token(svc.secret, c["id"], c["link_nonce"]))
    return web.json_response({"link": link, "expires_at": iso(c["expires_at"]), "candidate": candidate_json(c)})


@routes.post("/api/org/candidates/{candidate_id}/link")
async def new_link(request: web.Request) -> web.Response:
    """A new link: the old one stops working, a withdrawal is lifted, the expiry starts again."""
    svc = services(request)
    org = await member_org(request)
    c = await _candidate(request, org)
    if c["status"] == "completed":
        raise ApiError(409, "already_completed", "This candidate has completed the interview")
    body = parse(await read_json(request), {"send_email": boolean, "expires_at": timestamp})
    iv = await store.get_interview(svc.pool, org["id"], c["interview_id"])
    assert iv is not None
    expires = _expiry(iv, body.get("expires_at"))
    if expires <= datetime.now(UTC):
        raise ApiError(409, "deadline_passed", "The interview's deadline has passed; move the deadline first")
    nonce = links.new_nonce()
    token = links.candidate_token(svc.secret, c["id"], nonce)
    await store.replace_link(svc.pool, org["id"], c["id"], nonce, links.token_hash(svc, "candidate", token), expires)
    link = links.candidate_link(request, token)
    emailed = bool(c["email"] and body.get("send_email")) and await candidate_mail.invite(svc, org["id"], c, iv, link)
    log.info("new candidate link candidate=%s emailed=%s", c["id"], emailed)
    return web.json_response(
        {"candidate": candidate_json(await _candidate(request, org)), "link": link, "emailed": emailed}
    )


@routes.post("/api/org/candidates/{candidate_id}/remind")
async def remind(request: web.Request) -> web.Response:
    """E-mail the candidate their link again now (the automatic reminder goes before the deadline)."""
    svc = services(request)
    org = await member_org(request)
    c = await _candidate(request, org)
    if not c["email"]:
        raise ApiError(409, "no_email", "This candidate was invited by link only; copy the link instead")
    if not _pending(c) or not c["link_nonce"]:
        raise ApiError(409, "not_pending", "Only a candidate who has not finished, with a live link, can be reminded")
    emailed = await reminders.send_reminder(svc, c, links.base_url(request))
    if emailed:
        await store.set_reminded(svc.pool, c["id"], datetime.now(UTC))
    return web.json_response({"candidate": candidate_json(await _candidate(request, org)), "emailed": emailed})


@routes.delete("/api/org/candidates/{candidate_id}")
async def delete_candidate(request: web.Request) -> web.Response:
    """Erase a candidate (a deletion request, or data kept no longer than needed)."""
    org = await member_org(request)
    await erase_candidate(services(request), org, await _candidate(request, org))
    return web.Response(status=204)


@routes.post("/api/org/candidates/{candidate_id}/decision")
async def decide(request: web.Request) -> web.Response:
    org = await member_org(request)
    c = await _candidate(request, org)
    spec = {"decision": nullable(string(choices=("pass", "fail"))), "note": string(max_len=5000)}
    body = parse(await read_json(request), spec, required=("decision",))
    await ats_events.decide(request, org, c, body["decision"], body.get("note", ""))  # queues candidate.decided
    return web.json_response(candidate_json(await _candidate(request, org)))


# ---- review ----


def scorer(request: web.Request) -> AnswerScorer:
    return request.app[SCORER]


async def _has_video(request: web.Request, answer: dict[str, Any]) -> bool:
    s = await sessions_store.get_session(services(request).pool, answer["user_id"], answer["session_id"])
    path = recordings.recording_file(services(request).cfg, s) if s else None
    return path is not None and await recordings.has_video(path)


async def review_of(request: web.Request, org: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    """The candidate with each question's reviewed answer: transcript, score, media URLs."""
    pool = services(request).pool
    iv = await store.get_interview(pool, org["id"], c["interview_id"])
    assert iv is not None
    finals = await store.final_answers(pool, c["id"])
    answers = []
    to_score: list[tuple[dict[str, Any], Answer]] = []
    for i, q in enumerate(iv["questions"]):
        a = finals.get(i)
        item: dict[str, Any] = {"index": i, "question": q["text"], "answered": a is not None}
        if a is not None:
            caps = await captions_store.list_captions(pool, str(a["session_id"]))
            base = f"/api/org/candidates/{c['id']}/answers/{i}"
            item.update(
                attempt=a["attempt"],
                session_id=str(a["session_id"]),
                seconds=a["media_seconds"],
                recording_url=f"{base}/recording",
                captions_url=f"{base}/captions.vtt",
                has_video=await _has_video(request, a),
                transcript=[{"t0": x.t0, "t1": x.t1, "text": x.text, "lang": x.lang} for x in caps],
            )
            to_score.append((item, Answer(a["session_id"], q, iv["job_description"], caps)))
        answers.append(item)
    got = await scorer(request).scores([ans for _, ans in to_score])  # asked of the llm worker together
    for (item, _), score in zip(to_score, got, strict=True):
        item["score"] = score
    scored = [a["score"]["score"] for a in answers if a.get("score") and a["score"].get("score") is not None]
    return {
        "candidate": candidate_json(c),
        "interview": {"id": str(iv["id"]), "title": iv["title"], "job_description": iv["job_description"]},
        "answers": answers,
        "overall_score": round(sum(scored) / len(scored)) if scored else None,
    }


@routes.get("/api/org/candidates/{candidate_id}")
async def review(request: web.Request) -> web.Response:
    org = await member_org(request)
    return web.json_response(await review_of(request, org, await _candidate(request, org)))


@routes.get("/api/org/candidates/{candidate_id}/report.pdf")
async def review_pdf(request: web.Request) -> web.Response:
    """The review as a PDF to file or forward (same content as the review page, no media)."""
    org = await member_org(request)
    c = await _candidate(request, org)
    r = await review_of(request, org, c)
    pdf = await asyncio.to_thread(report_pdf.render, r)  # CPU work off the loop
    who = re.sub(r"[^A-Za-z0-9._-]+", "-", c["name"] or c["email"] or "candidate").strip("-") or "candidate"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{who}-report.pdf"',
            "Cache-Control": "private, no-cache",
        },
    )


async def _answer_session(request: web.Request) -> sessions_store.Session:
    org = await member_org(request)
    c = await _candidate(request, org)
    try:
        idx = int(request.match_info["n"])
    except ValueError:
        raise not_found("No such answer") from None
    pool = services(request).pool
    a = await store.org_answer_session(pool, org["id"], c["id"], idx)
    s = await sessions_store.get_session(pool, a["user_id"], a["session_id"]) if a else None
    if s is None:
        raise not_found("No such answer")
    return s


@routes.get("/api/org/candidates/{candidate_id}/answers/{n}/recording")
async def answer_recording(request: web.Request) -> web.FileResponse:
    s = await _answer_session(request)
    path = await recordings.playback_file(services(request).cfg, services(request).pool, s)
    if path is None:
        raise ApiError(404, "no_recording", "This answer has no recording")
    ctype = "video/webm" if await recordings.has_video(path) else "audio/webm"
    return web.FileResponse(path, headers={"Content-Type": ctype, "Cache-Control": "private, no-cache"})


@routes.get("/api/org/candidates/{candidate_id}/answers/{n}/captions.vtt")
async def answer_captions(request: web.Request) -> web.Response:
    s = await _answer_session(request)
    text = webvtt.render(await sessions_store.captions(services(request).pool, s.user_id, s.id))
    return web.Response(
        text=text, content_type="text/vtt", charset="utf-8", headers={"Cache-Control": "private, no-cache"}
    )


async def interview_scores(
    request: web.Request, org: dict[str, Any], iv: dict[str, Any]
) -> dict[uuid.UUID, list[dict[str, Any] | None]]:
    """Each candidate's score per question, read in three queries for the whole interview (stored
    scores reused; an answer not scored yet is scored now)."""
    pool = services(request).pool
    finals = await store.final_answers_of_interview(pool, org["id"], iv["id"])
    sids = [a["session_id"] for a in finals.values()]
    caps = await captions_store.captions_of_sessions(pool, sids)
    stored = await answer_scores.stored_scores(pool, sids)
    out: dict[uuid.UUID, list[dict[str, Any] | None]] = {}
    places: list[tuple[uuid.UUID, int]] = []
    wanted: list[Answer] = []
    for (cid, idx), a in sorted(finals.items(), key=lambda kv: kv[0][1]):
        if idx >= len(iv["questions"]):
            continue
        sid = a["session_id"]
        out.setdefault(cid, [None] * len(iv["questions"]))
        places.append((cid, idx))
        wanted.append(Answer(sid, iv["questions"][idx], iv["job_description"], caps[str(sid)]))
    for (cid, idx), score in zip(places, await scorer(request).scores(wanted, stored), strict=True):
        out[cid][idx] = score
    return out


def _figure(s: dict[str, Any] | None) -> int | None:
    """A score's number; None while the worker has not scored the answer yet."""
    return s.get("score") if s else None


def _overall(scores: list[dict[str, Any] | None]) -> int | None:
    got = [n for n in map(_figure, scores) if n is not None]
    return round(sum(got) / len(got)) if got else None


@routes.get("/api/org/interviews/{interview_id}/compare")
async def compare(request: web.Request) -> web.Response:
    """Every candidate of the interview side by side: per-question scores, overall, decision."""
    org = await member_org(request)
    iv = await _interview(request, org)
    rows = await store.list_candidates(services(request).pool, org["id"], iv["id"])
    scores = await interview_scores(request, org, iv)
    empty: list[dict[str, Any] | None] = [None] * len(iv["questions"])
    out = [
        {
            "candidate": candidate_json(c),
            "overall_score": _overall(scores.get(c["id"], empty)),
            "scores": [_figure(s) for s in scores.get(c["id"], empty)],
        }
        for c in rows
    ]
    return web.json_response({"questions": [q["text"] for q in iv["questions"]], "candidates": out})


@routes.get("/api/org/interviews/{interview_id}/export.csv")
async def export_csv(request: web.Request) -> web.Response:
    org = await member_org(request)
    iv = await _interview(request, org)
    rows = await store.list_candidates(services(request).pool, org["id"], iv["id"])
    scores = await interview_scores(request, org, iv)
    buf = io.StringIO()
    w = csv.writer(buf)
    n = len(iv["questions"])
    w.writerow(
        ["name", "email", "status", "invited_at", "completed_at", "overall_score", "decision", "note"]
        + [f"q{i + 1}_score" for i in range(n)]
    )
    for c in rows:
        mine = scores.get(c["id"], [None] * n)
        overall = _overall(mine)
        w.writerow(
            safe_row(
                [
                    c["name"],
                    c["email"],
                    candidate_status(c),
                    iso(c["created_at"]),
                    iso(c["completed_at"]),
                    overall if overall is not None else "",
                    c["decision"] or "",
                    c["decision_note"],
                ]
                + [_figure(s) if _figure(s) is not None else "" for s in mine]
            )
        )
    return web.Response(
        text=buf.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="candidates-{iv["id"]}.csv"'},
    )


@routes.get("/api/org/webhook-deliveries")
async def deliveries(request: web.Request) -> web.Response:
    org = await member_org(request)
    rows = await store.list_deliveries(services(request).pool, org["id"])
    return web.json_response({"deliveries": [jsonable(r) for r in rows]})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
