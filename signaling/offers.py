"""A WebRTC offer placed on a media node: the offer's checks, the disk-room check, and forwarding it to the
session's node (its current one first) for the answer. Used by the session owner's offer route and the
recruiting candidate's answer offers."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from interview_room import disk
from interview_room.store import sessions as store
from interview_room.store.sessions import Session
from web.common.context import Services
from web.common.errors import ApiError
from web.common.validation import Invalid, string

from . import media_nodes

log = logging.getLogger("signaling.sessions")

ROLES = ("interviewer", "candidate")


def roles_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise Invalid("must be an object mapping a transceiver mid to 'interviewer' or 'candidate'")
    if len(value) > 16:
        raise Invalid("must name at most 16 tracks")
    for mid, role in value.items():
        if len(mid) > 64:
            raise Invalid("has a mid that is too long")
        if role not in ROLES:
            raise Invalid(f"values must be 'interviewer' or 'candidate' (got {role!r} for mid {mid!r})")
    return dict(value)


def sdp_text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    if "v=0" not in value[:200]:
        raise ApiError(400, "invalid_sdp", "sdp is not a session description (it must start with v=0)", field="sdp")
    return value


OFFER_SPEC = {"sdp": sdp_text, "type": string(choices=("offer",)), "roles": roles_map}


def require_disk_room(svc: Services) -> None:
    """A new session needs room for its recording under DATA_DIR (``MIN_FREE_DISK_MB``)."""
    if not disk.has_room(svc.cfg.recordings_dir, svc.cfg.min_free_disk_mb):
        log.warning("no disk space for a new session dir=%s", svc.cfg.recordings_dir)
        raise ApiError(507, "insufficient_storage", disk.NO_ROOM_MESSAGE)


async def forward_offer(
    svc: Services, s: Session, sdp: str, roles: dict[str, str], *, peer: str = "browser"
) -> web.Response:
    """Place the session on a media node (its current one first) and answer with the node's SDP.
    ``peer``: ``companion`` for ``interview-room listen`` (a second peer of the session)."""
    if s.status != "live":  # a reconnect of a live session is the media node's to decide
        require_disk_room(svc)
    nodes = media_nodes.placement_order(
        await media_nodes.live_nodes(svc.redis), s.media_node if s.status == "live" else None
    )
    payload = {
        "session_id": str(s.id),
        "user_id": str(s.user_id),
        "sdp": sdp,
        "type": "offer",
        "roles": roles,
        "mode": s.mode,
        "listen_language": s.listen_language,
        "answer_language": s.answer_language,
        "hangover": s.hangover,
        "peer": peer,
    }
    node, status, answer = await media_nodes.post_to_placed_node(
        svc.http, nodes, "/internal/offer", payload, svc.internal_token
    )
    if status != 200:
        return web.json_response(answer, status=status)
    if not isinstance(answer.get("sdp"), str):
        raise ApiError(502, "media_node_error", "The media server gave an unexpected answer; please try again")
    await store.set_media_node(svc.pool, s.user_id, s.id, node.url)
    log.info("session placed session=%s node=%s", s.id, node.node_id)
    return web.json_response({"sdp": answer["sdp"], "type": "answer"})
