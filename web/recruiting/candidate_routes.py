"""/api/c/*: the candidate's side, reached by the link alone (no account).

The link's token travels in the ``X-Candidate-Token`` header, never in the API path: paths land in
access logs and proxies' logs, and the token opens the interview. (The page's own URL carries it in
the fragment, which browsers never send.)

The token names exactly one candidate row; every query below takes that row's id, so a link
never reaches another candidate's answers or another organisation. Each answer attempt is a
session (mode ``recorded_answer``) owned by the organisation's owner, recorded and captioned by
the ordinary pipeline; it is saved as it streams, so a closed tab loses only the attempt in
progress, which does not count against the retakes.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from interview_room.config import Config
from interview_room.store import credits, users
from interview_room.store import recruiting as store
from interview_room.store import sessions as sessions_store
from signaling.ice import ice_servers_for
from signaling.offers import OFFER_SPEC, forward_offer
from web.common.context import Services, services
from web.common.errors import ApiError, not_found
from web.common.serialize import iso
from web.common.validation import parse, read_json
from web.sessions import recordings

from . import accommodations, ats_events, candidate_mail, links, mail, practice, webhooks
from .answer_limits import GRACE_S as OVERRUN_S
from .answer_sessions import end_answer_session

log = logging.getLogger("signaling.recruiting.candidate")

routes = web.RouteTableDef()
TOKEN_HEADER = "X-Candidate-Token"
MODE = "recorded_answer"
LATE_GRACE_S = 1800 + 300  # the longest answer time allowed, and a few minutes to save it


async def not_cached(request: web.Request, response: web.StreamResponse) -> None:
    """Every /api/c/ answer (errors too) depends on the token header: no cache may keep or share it
    (a browser would otherwise answer one link's URL with another link's 410)."""
    if request.path.startswith("/api/c/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Vary"] = TOKEN_HEADER


async def _candidate(request: web.Request, *, late_ok: bool = False) -> dict[str, Any]:
    """The link's candidate. ``late_ok``: an answer started before the link expired may still be
    connected, finished and the interview completed for ``LATE_GRACE_S`` after (a new one may not)."""
    svc = services(request)
    token = request.headers.get(TOKEN_HEADER, "").strip()
    c = (
        await store.candidate_by_token(svc.pool, links.token_hash(svc, "candidate", token))
        if 0 < len(token) < 200
        else None
    )
    if c is None:
        raise not_found("This interview link is not valid")
    if c["revoked_at"] is not None:
        raise ApiError(410, "link_revoked", "This interview link has been withdrawn by the hiring team")
    until = c["expires_at"] + timedelta(seconds=LATE_GRACE_S) if late_ok else c["expires_at"]
    if c["status"] != "completed" and until <= datetime.now(UTC):
        raise ApiError(410, "link_expired", "This interview link has expired")
    return c


async def link_candidate(request: web.Request) -> dict[str, Any]:
    """The candidate of the request's ``X-Candidate-Token`` (404/410 as every candidate route)."""
    return await _candidate(request)


def _progress(questions: list[dict[str, Any]], attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, q in enumerate(questions):
        mine = [a for a in attempts if a["question_idx"] == i]
        used = sum(1 for a in mine if a["status"] == "done")
        out.append(
            {
                "index": i,
                "text": q["text"],
                "think_seconds": q["think_seconds"],
                "answer_seconds": q["answer_seconds"],
                "retakes": q["retakes"],
                "answered": used > 0,
                "retakes_left": max(0, q["retakes"] + 1 - used) if used else q["retakes"],
            }
        )
    return out


def _practice(iv: dict[str, Any], attempts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The practice question's state: offered while no real answer was started (then it is closed)."""
    q = practice.question(iv)
    if q is None:
        return None
    mine = [a for a in attempts if a["question_idx"] == practice.INDEX]
    used = sum(1 for a in mine if a["status"] == "done")
    return {
        "index": practice.PATH_NAME,
        **q,
        "answered": used > 0,
        "retakes_left": max(0, practice.TAKES - used) if used else q["retakes"],
        "available": not any(a["question_idx"] >= 0 for a in attempts),
    }


async def _state(svc: Services, c: dict[str, Any]) -> dict[str, Any]:
    iv = await store.interview_of_candidate(svc.pool, c)
    attempts = await store.attempts(svc.pool, c["id"])
    qs = _progress(accommodations.extended(iv["questions"], c), attempts)
    return {
        "candidate": {"name": c["name"], "status": c["status"], "consented": c["consent_at"] is not None},
        "interview": {
            "title": iv["title"],
            "company_name": iv["company_name"] or c["org_name"],
            "intro_text": iv["intro_text"],
            "deadline": iso(iv["deadline"]),
        },
        "expires_at": iso(c["expires_at"]),
        "questions": qs,
        "practice": _practice(iv, attempts),
        "privacy": {"retention_days": svc.cfg.candidate_retention_days or None},  # the consent page says it
        "answered": sum(1 for q in qs if q["answered"]),
        "total": len(qs),
    }


@routes.get("/api/c/state")
async def intro(request: web.Request) -> web.Response:
    c = await _candidate(request)
    return web.json_response(await _state(services(request), c))


@routes.get("/api/c/config")
async def rtc_config(request: web.Request) -> web.Response:
    """ICE servers for the candidate's browser (no account: the link vouches for the TURN credentials)."""
    c = await _candidate(request, late_ok=True)
    cfg = services(request).cfg
    return web.json_response({"ice_servers": ice_servers_for(cfg, f"cand-{c['id']}")})


@routes.post("/api/c/consent")
async def consent(request: web.Request) -> web.Response:
    svc = services(request)
    c = await _candidate(request)
    await ats_events.consent(request, svc, c)  # invited -> started queues candidate.started
    return web.json_response(await _state(svc, await _candidate(request)))


def _index(request: web.Request, iv: dict[str, Any]) -> int:
    """The question of the path: 0.. for real ones, ``practice`` (index -1) when the interview has one."""
    raw = request.match_info["n"]
    if raw == practice.PATH_NAME and practice.question(iv) is not None:
        return practice.INDEX
    try:
        idx = int(raw)
    except ValueError:
        raise not_found("No such question") from None
    if not 0 <= idx < len(iv["questions"]):
        raise not_found("No such question")
    return idx


def _question(iv: dict[str, Any], idx: int) -> dict[str, Any]:
    q = practice.question(iv) if idx == practice.INDEX else iv["questions"][idx]
    assert q is not None  # _index checked it
    return q


def _open(c: dict[str, Any]) -> None:
    if c["consent_at"] is None:
        raise ApiError(409, "consent_required", "Agree to the recording first")
    if c["status"] == "completed":
        raise ApiError(409, "already_completed", "You have already completed this interview")


def max_recorded_seconds(cfg: Config, questions: list[dict[str, Any]]) -> float:
    """CANDIDATE_MAX_RECORDED_SECONDS, else every answer and retake at its full time (and the 30 s the
    time limit allows past it; the practice question's takes are among ``questions`` when it has one),
    plus 10 minutes for attempts lost to a closed tab or a dropped connection."""
    if cfg.candidate_max_recorded_seconds > 0:
        return cfg.candidate_max_recorded_seconds
    return sum((q["answer_seconds"] + OVERRUN_S) * (q["retakes"] + 1) for q in questions) + 600.0


async def _current_attempt(svc: Services, c: dict[str, Any], idx: int) -> dict[str, Any]:
    mine = [a for a in await store.attempts(svc.pool, c["id"]) if a["question_idx"] == idx]
    if not mine or mine[-1]["status"] != "recording":
        raise ApiError(409, "no_answer_started", "Start the answer first")
    return mine[-1]


async def _tell_owner_credits_ran_out(svc: Services, c: dict[str, Any], base_url: str) -> None:
    """A candidate could not record: the organisation's owner hears of it by e-mail, at most once a day."""
    if not await svc.redis.set(f"org:{c['org_id']}:no_credits_mail", "1", nx=True, ex=86400):
        return
    owner = await users.get_user(svc.pool, c["owner_id"])
    log.warning("candidate could not record: no credits org=%s candidate=%s", c["org_id"], c["id"])
    if owner is not None:
        await mail.credits_ran_out(svc.cfg, owner.email, c["org_name"], base_url)


@routes.post("/api/c/answers/{n}/start")
async def start_answer(request: web.Request) -> web.Response:
    """A new attempt at question n: the questions are answered in order, retakes while any are left."""
    svc = services(request)
    c = await _candidate(request)
    _open(c)
    iv = await store.interview_of_candidate(svc.pool, c)
    idx = _index(request, iv)
    all_attempts = await store.attempts(svc.pool, c["id"])
    done = {a["question_idx"] for a in all_attempts if a["status"] == "done"}
    if any(i not in done for i in range(idx)):
        raise ApiError(409, "previous_unanswered", "Answer the earlier questions first")
    if idx == practice.INDEX and any(a["question_idx"] >= 0 for a in all_attempts):
        raise ApiError(409, "practice_closed", "The practice question comes before the first real one")
    mine = [a for a in all_attempts if a["question_idx"] == idx]
    q = _question(iv, idx)
    used = sum(1 for a in mine if a["status"] == "done")
    if used >= q["retakes"] + 1:
        raise ApiError(409, "no_retakes_left", "No retakes are left for this question")
    if len(mine) >= q["retakes"] + 1 + svc.cfg.candidate_spare_attempts:
        raise ApiError(
            409, "too_many_attempts", "This question has been started too often; please contact the hiring team"
        )
    allowed = [*accommodations.extended(iv["questions"], c), *([pq] if (pq := practice.question(iv)) else [])]
    if await store.recorded_seconds(svc.pool, c["id"]) >= max_recorded_seconds(svc.cfg, allowed):
        raise ApiError(
            409,
            "recording_limit_reached",
            "You have recorded as much as this interview allows; please contact the hiring team",
        )
    for a in mine:  # an attempt left open by a closed tab: end it; it does not count
        if a["status"] == "recording":
            await end_answer_session(svc, c["owner_id"], a["session_id"])
            await store.set_attempt_status(svc.pool, c["id"], idx, a["attempt"], "abandoned")
    if not await credits.has_credits(svc.pool, c["owner_id"]):
        await _tell_owner_credits_ran_out(svc, c, links.base_url(request))
        raise ApiError(
            503, "recording_unavailable", "Recording is not available right now; please contact the hiring team"
        )
    s = await sessions_store.create_session(
        svc.pool,
        c["owner_id"],
        {
            "title": f"{c['name'] or c['email'] or 'Candidate'}: {iv['title']} "
            + ("practice" if idx == practice.INDEX else f"Q{idx + 1}"),
            "mode": MODE,
            "listen_language": "en",
            "answer_language": "en",
            "hints": q["text"],
            "instructions": "",
            "resume_text": "",
            "hangover": "balanced",
            "mock": None,
        },
    )
    attempt = (mine[-1]["attempt"] + 1) if mine else 1
    await store.add_attempt(svc.pool, c["id"], idx, attempt, s.id)
    log.info("answer started candidate=%s question=%d attempt=%d session=%s", c["id"], idx, attempt, s.id)
    index: int | str = practice.PATH_NAME if idx == practice.INDEX else idx
    return web.json_response(
        {"index": index, "attempt": attempt, "session_id": str(s.id), "retakes_left": q["retakes"] - used}, status=201
    )


_MID = re.compile(r"^a=mid:(\S+)", re.M)


def audio_mids(sdp: str) -> list[str]:
    """Every audio m-section's mid: each is the candidate's voice whatever the client claims."""
    out = []
    for section in re.split(r"\r?\n(?=m=)", sdp):
        if section.startswith("m=audio") and (m := _MID.search(section)):
            out.append(m.group(1))
    return out


@routes.post("/api/c/answers/{n}/offer")
async def offer(request: web.Request) -> web.Response:
    svc = services(request)
    c = await _candidate(request, late_ok=True)
    _open(c)
    iv = await store.interview_of_candidate(svc.pool, c)
    idx = _index(request, iv)
    body = parse(await read_json(request), OFFER_SPEC, required=("sdp", "type"))
    a = await _current_attempt(svc, c, idx)
    s = await sessions_store.get_session(svc.pool, c["owner_id"], a["session_id"])
    if s is None or s.status == "ended":
        raise ApiError(409, "no_answer_started", "Start the answer first")
    roles = {mid: "candidate" for mid in audio_mids(body["sdp"])}
    return await forward_offer(svc, s, body["sdp"], roles)


@routes.post("/api/c/answers/{n}/finish")
async def finish_answer(request: web.Request) -> web.Response:
    svc = services(request)
    c = await _candidate(request, late_ok=True)
    _open(c)
    iv = await store.interview_of_candidate(svc.pool, c)
    idx = _index(request, iv)
    a = await _current_attempt(svc, c, idx)
    await end_answer_session(svc, c["owner_id"], a["session_id"])
    await store.set_attempt_status(svc.pool, c["id"], idx, a["attempt"], "done")
    return web.json_response(await _state(svc, c))


@routes.get("/api/c/answers/{n}/recording")
async def own_take(request: web.Request) -> web.FileResponse:
    """The candidate's latest saved take at question n (or the practice one), to watch before retaking
    or moving on. The link's token names the candidate; nothing else is reachable from here."""
    svc = services(request)
    c = await _candidate(request, late_ok=True)
    if c["consent_at"] is None:
        raise ApiError(409, "consent_required", "Agree to the recording first")
    iv = await store.interview_of_candidate(svc.pool, c)
    idx = _index(request, iv)
    take = await store.latest_take(svc.pool, c["id"], idx)
    s = await sessions_store.get_session(svc.pool, c["owner_id"], take["session_id"]) if take else None
    path = await recordings.playback_file(svc.cfg, svc.pool, s) if s is not None else None
    if path is None:
        raise ApiError(404, "no_recording", "This answer has no saved recording yet")
    ctype = "video/webm" if await recordings.has_video(path) else "audio/webm"
    return web.FileResponse(path, headers={"Content-Type": ctype, "Cache-Control": "no-store"})


@routes.post("/api/c/complete")
async def complete(request: web.Request) -> web.Response:
    """Every question answered: completed, confirmation e-mail, ATS webhook (each once)."""
    svc = services(request)
    c = await _candidate(request, late_ok=True)
    state = await _state(svc, c)
    if c["status"] != "completed":
        _open(c)
        if state["answered"] < state["total"]:
            raise ApiError(409, "unanswered_questions", "Answer every question first")
        iv = await store.interview_of_candidate(svc.pool, c)
        org = await store.org_by_id(svc.pool, c["org_id"])
        payload = {
            "candidate": {"id": str(c["id"]), "email": c["email"], "name": c["name"]},
            "interview": {"id": str(iv["id"]), "title": iv["title"]},
            "completed_at": iso(datetime.now(UTC)),
            # the recruiter's review page (signed-in members of the organisation only)
            "review_url": f"{links.base_url(request)}/recruit/review.html?id={c['id']}",
        }
        async with svc.pool.acquire() as conn, conn.transaction():  # completed iff the ATS event is queued
            first = await store.complete(conn, c["id"])
            if first:
                await webhooks.enqueue(conn, org, c["id"], "candidate.completed", payload)
        if first:
            webhooks.wake(request.app)
            if c["email"]:
                await candidate_mail.thank_you(svc, c, iv)
            if recruiter := await store.interview_owner_email(svc.pool, iv["id"]):
                who = c["name"] or c["email"] or "A candidate"
                await mail.candidate_completed(svc.cfg, recruiter, who, iv, payload["review_url"])
        state = await _state(svc, await _candidate(request, late_ok=True))
    return web.json_response(state)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
