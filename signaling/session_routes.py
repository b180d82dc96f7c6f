"""/api/sessions/*: create, history, detail, WebRTC offer, end, recording, captions, delete.

Every path looks the session up by (id, current user) first: an unknown id, a malformed id and
another user's session are all the same 404, before anything else about the request is checked.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from interview_room.bus import events_stream
from interview_room.config import HANGOVER_MS
from interview_room.store import credits
from interview_room.store import media as media_store
from interview_room.store import pauses as pauses_store
from interview_room.store import sessions as store
from interview_room.store.sessions import Session
from web.accounts.auth import current_user
from web.common.context import Services, services
from web.common.errors import ApiError, not_found
from web.common.serialize import session_detail_json, session_summary_json
from web.common.validation import Invalid, integer, language, nullable, parse, read_json, string, string_list
from web.sessions import recordings, webvtt
from web.sessions.owned import owned_session

from . import media_nodes, troubleshoot_limits
from .offers import OFFER_SPEC, forward_offer, require_disk_room, sdp_text

log = logging.getLogger("signaling.sessions")

MODES = ("assistant", "mock")
MOCK_DEFAULTS: dict[str, Any] = {
    "type": "behavioral",
    "difficulty": "medium",
    "focus_areas": [],
    "requirements": "",
    "duration_minutes": 30,
}
MOCK_TYPES = ("behavioral", "frontend", "dsa", "system_design", "machine_coding", "custom")
MOCK_DIFFICULTIES = ("easy", "medium", "hard", "expert")
MOCK_SPEC = {
    "type": string(choices=MOCK_TYPES, lower=True),
    "difficulty": string(choices=MOCK_DIFFICULTIES, lower=True),
    "focus_areas": string_list(max_items=20, max_len=100),
    "requirements": string(max_len=10_000),
    "duration_minutes": integer(1, 240),
}


def _mock(value: Any) -> dict[str, Any]:
    """The shape only: its fields are checked once the mode is known to be "mock"."""
    if not isinstance(value, dict):
        raise Invalid("must be an object")
    return value


SESSION_SPEC = {
    "title": string(max_len=200),
    "mode": string(choices=MODES),
    "listen_language": language(allow_auto=True),
    "answer_language": language(),
    "hints": string(max_len=10_000),
    "instructions": string(max_len=10_000),
    "resume_text": string(max_len=100_000),
    "hangover": string(choices=tuple(HANGOVER_MS)),
    "mock": nullable(_mock),
}


TROUBLESHOOT_SPEC = {"sdp": sdp_text, "type": string(choices=("offer",))}


async def _detail(svc: Services, user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any]:
    d = await store.session_detail(svc.pool, user_id, session_id)
    if d is None:
        raise not_found("No such session")
    path = recordings.recording_file(svc.cfg, d.session)
    video = await recordings.has_video(path) if path else False
    detail = session_detail_json(d, has_recording=path is not None, has_video=video)
    detail["pauses"] = [p.to_json() for p in await pauses_store.pauses(svc.pool, session_id)]  # recording markers
    return detail


# ---- create / list / detail ----


async def create_session(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    body = parse(await read_json(request), SESSION_SPEC)
    mode = body.get("mode", "assistant")
    require_disk_room(svc)
    if mode == "mock":
        body["mock"] = {**MOCK_DEFAULTS, **parse(body.get("mock") or {}, MOCK_SPEC, prefix="mock.")}
    elif body.get("mock") is not None:
        raise ApiError(400, "validation_error", "mock is only for sessions with mode 'mock'", field="mock")
    default_hangover = svc.cfg.segment_hangover if svc.cfg.segment_hangover in HANGOVER_MS else "balanced"
    values = {
        "title": body.get("title") or ("Mock interview" if mode == "mock" else "Interview"),
        "mode": mode,
        "listen_language": body.get("listen_language", user.default_listen_language),
        "answer_language": body.get("answer_language", user.default_answer_language),
        "hints": body.get("hints", ""),
        "instructions": body.get("instructions", user.default_instructions),
        "resume_text": body.get("resume_text", ""),
        "hangover": body.get("hangover", default_hangover),
        "mock": body.get("mock"),
    }
    s = await store.create_session(svc.pool, user.id, values)
    log.info("session created session=%s mode=%s", s.id, s.mode)
    return web.json_response(await _detail(svc, user.id, s.id), status=201)


def _encode_cursor(key: tuple[datetime, uuid.UUID]) -> str:
    raw = f"{key[0].isoformat()}|{key[1]}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, sid = raw.split("|")
        dt = datetime.fromisoformat(at)
        if dt.tzinfo is None:
            raise ValueError("naive time")
        return dt, uuid.UUID(sid)
    except (ValueError, binascii.Error, UnicodeDecodeError) as e:
        raise ApiError(400, "validation_error", "before is not a cursor from a previous page", field="before") from e


async def list_sessions(request: web.Request) -> web.Response:
    svc = services(request)
    q = request.query
    try:
        limit = int(q.get("limit") or "20")
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise ApiError(400, "validation_error", "limit must be an integer between 1 and 100", field="limit")
    before = _decode_cursor(q["before"]) if q.get("before") else None
    page, nxt = await store.list_sessions(svc.pool, current_user(request).id, limit, before)
    return web.json_response(
        {"sessions": [session_summary_json(s) for s in page], "next": _encode_cursor(nxt) if nxt else None}
    )


async def get_session(request: web.Request) -> web.Response:
    s = await owned_session(request)
    return web.json_response(await _detail(services(request), s.user_id, s.id))


# ---- media ----


async def offer(request: web.Request) -> web.Response:
    svc = services(request)
    s = await owned_session(request)
    body = parse(await read_json(request), OFFER_SPEC, required=("sdp", "type"))
    if s.status == "ended":
        raise ApiError(409, "session_ended", "This session has ended; start a new one")
    if not await credits.has_credits(svc.pool, s.user_id):
        raise ApiError(402, "no_credits", "You have no interview time left; buy more to start a session")
    cap = svc.cfg.max_live_sessions_per_user
    if s.status != "live" and cap > 0:  # the node checks again as the session goes live (atomically)
        live = await media_store.live_session_count(svc.pool, s.user_id, exclude=s.id)
        if live >= cap:
            raise ApiError(
                409,
                "too_many_live_sessions",
                f"You already have {live} live sessions; end one before starting another",
            )
    return await forward_offer(svc, s, body["sdp"], body.get("roles", {}))


async def troubleshoot_offer(request: web.Request) -> web.Response:
    svc = services(request)
    user_id = str(current_user(request).id)
    body = parse(await read_json(request), TROUBLESHOOT_SPEC, required=("sdp", "type"))
    limits = troubleshoot_limits.TroubleshootLimits(svc.cfg.troubleshoot_per_user, svc.cfg.troubleshoot_per_minute)
    peer_id = await troubleshoot_limits.reserve(svc.redis, user_id, limits)
    nodes = media_nodes.placement_order(await media_nodes.live_nodes(svc.redis))
    payload = {"sdp": body["sdp"], "type": "offer", "user_id": user_id, "peer_id": peer_id}
    try:
        _, status, answer = await media_nodes.post_to_placed_node(
            svc.http, nodes, "/internal/troubleshoot/offer", payload, svc.internal_token
        )
    except BaseException:
        await troubleshoot_limits.release(svc.redis, user_id, peer_id)
        raise
    if status != 200:
        await troubleshoot_limits.release(svc.redis, user_id, peer_id)
        return web.json_response(answer, status=status)
    if not isinstance(answer.get("sdp"), str):
        raise ApiError(502, "media_node_error", "The media server gave an unexpected answer; please try again")
    return web.json_response({"sdp": answer["sdp"], "type": "answer"})


async def _stop_media(svc: Services, s: Session) -> dict[str, Any] | None:
    if not s.media_node or s.status == "ended":
        return None
    return await media_nodes.end_on_node(svc.http, s.media_node, str(s.id), svc.internal_token)


async def end_session(request: web.Request) -> web.Response:
    """Idempotent: ending an ended session answers the same final session."""
    svc = services(request)
    s = await owned_session(request)
    if s.status != "ended":
        res = await _stop_media(svc, s) or {}
        media_seconds = res.get("media_seconds")
        recording_path = res.get("recording_path")
        await store.mark_ended(
            svc.pool,
            s.user_id,
            s.id,
            float(media_seconds) if isinstance(media_seconds, int | float) else None,
            recording_path if isinstance(recording_path, str) and recording_path else None,
        )
        log.info("session ended session=%s", s.id)
    return web.json_response(await _detail(svc, s.user_id, s.id))


async def recording(request: web.Request) -> web.FileResponse:
    svc = services(request)
    s = await owned_session(request)
    path = await recordings.playback_file(svc.cfg, svc.pool, s)
    if path is None:
        raise ApiError(404, "no_recording", "This session has no recording")
    ctype = "video/webm" if await recordings.has_video(path) else "audio/webm"
    return web.FileResponse(path, headers={"Content-Type": ctype, "Cache-Control": "private, no-cache"})


async def captions_vtt(request: web.Request) -> web.Response:
    """WebVTT of the final captions; ``?lang=xx`` uses translations where there are some."""
    svc = services(request)
    s = await owned_session(request)
    translated = None
    if request.query.get("lang"):
        try:
            lang = language()(request.query["lang"])
        except Invalid as e:
            raise ApiError(400, "validation_error", f"lang {e}", field="lang") from e
        translated = await store.caption_translations(svc.pool, s.user_id, s.id, lang)
    text = webvtt.render(await store.captions(svc.pool, s.user_id, s.id), translated)
    return web.Response(text=text, content_type="text/vtt", charset="utf-8", headers={"Cache-Control": "private, no-cache"})


async def delete_session(request: web.Request) -> web.Response:
    """Removes the recording, the live event stream and every row of the session but the ledger's."""
    svc = services(request)
    s = await owned_session(request)
    await _stop_media(svc, s)
    removed = recordings.delete_files(svc.cfg, s)
    await svc.redis.delete(events_stream(str(s.id)))
    await store.delete_session(svc.pool, s.user_id, s.id)
    log.info("session deleted session=%s files_removed=%d", s.id, len(removed))
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/sessions", create_session)
    app.router.add_get("/api/sessions", list_sessions)
    app.router.add_get("/api/sessions/{id}", get_session)
    app.router.add_delete("/api/sessions/{id}", delete_session)
    app.router.add_post("/api/sessions/{id}/offer", offer)
    app.router.add_post("/api/sessions/{id}/end", end_session)
    app.router.add_get("/api/sessions/{id}/recording", recording)
    app.router.add_get("/api/sessions/{id}/captions.vtt", captions_vtt)
    app.router.add_post("/api/troubleshoot/offer", troubleshoot_offer)
