"""Checking a client's offer and answering it with an aiortc peer connection.

Why check before aiortc: a malformed or audio-less offer is a user error that must come back as
a PROTOCOL error (400 ``invalid_sdp`` / ``no_audio``) and change nothing, so it is refused before
any session state, database row or peer connection exists.
"""

from __future__ import annotations

import asyncio
import logging

from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription, sdp

from interview_room.loopback_ice import filter_sdp_candidates

log = logging.getLogger("media.peer")

MAX_SDP_BYTES = 64 * 1024
# what a browser sends: microphone + a meeting tab's audio, and a camera. Every track is decoded (and
# each one costs the node CPU), while credits bill the session's time once, so more are refused.
MAX_AUDIO_TRACKS = 2
MAX_VIDEO_TRACKS = 1
ROLES = ("interviewer", "candidate")


class OfferError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def parse_offer(text: object, *, require_audio: bool = True) -> sdp.SessionDescription:
    """The parsed offer, or OfferError(400, invalid_sdp | too_many_tracks | no_audio)."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_SDP_BYTES:
        raise OfferError(400, "invalid_sdp", "The offer must be an SDP text")
    if not text.lstrip().startswith("v=0") or "\nm=" not in text.replace("\r\n", "\n"):
        raise OfferError(400, "invalid_sdp", "The offer is not a valid SDP offer")
    try:
        desc = sdp.SessionDescription.parse(text)
    except Exception:
        raise OfferError(400, "invalid_sdp", "The offer is not a valid SDP offer") from None
    for m in desc.media:
        if m.kind in ("audio", "video") and (not m.ice.usernameFragment or not m.ice.password or not m.dtls):
            raise OfferError(400, "invalid_sdp", "The offer lacks ICE credentials or a DTLS fingerprint")
    audio = sum(1 for m in desc.media if m.kind == "audio")
    video = sum(1 for m in desc.media if m.kind == "video")
    if audio > MAX_AUDIO_TRACKS or video > MAX_VIDEO_TRACKS:
        raise OfferError(
            400,
            "too_many_tracks",
            f"An offer may carry at most {MAX_AUDIO_TRACKS} audio tracks (microphone and meeting audio) and "
            f"{MAX_VIDEO_TRACKS} video track (the camera); this one has {audio} audio and {video} video",
        )
    sending_audio = [
        m for m in desc.media if m.kind == "audio" and (m.direction or "sendrecv") in ("sendrecv", "sendonly")
    ]
    if require_audio and not sending_audio:
        raise OfferError(400, "no_audio", "The offer has no audio track to receive")
    return desc


def parse_roles(value: object) -> dict[str, str]:
    """``roles`` of an offer: {mid: "interviewer" | "candidate"}."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and v in ROLES for k, v in value.items()):
        raise OfferError(400, "invalid_roles", "roles must map each audio mid to 'interviewer' or 'candidate'")
    return dict(value)


def default_role(mode: str) -> str:
    """The role of an audio track the offer does not name (docs/protocol.md)."""
    return "candidate" if mode == "mock" else "interviewer"


def records_video(setting: str, mode: object) -> bool:
    """Whether a session's camera is received and recorded (setting RECORD_VIDEO, ``cfg.record_video``).

    ``answers`` (default): only recorded answers of recruiter candidates (mode ``recorded_answer``);
    ``all``: every session whose client sends a camera; ``off``: never.
    """
    setting = setting.strip().lower()
    if setting == "all":
        return True
    if setting in ("off", "0", "false", "no", "none", ""):
        return False
    return mode == "recorded_answer"


def server_ice_urls(ice_servers: list[str]) -> list[str]:
    """The STUN URLs of ICE_SERVERS: a media node with a public address never relays through TURN (the
    ``turn:`` entries are for browsers, with credentials minted per user), and a TURN URL without
    credentials would only slow its gathering down."""
    return [u for u in ice_servers if u.startswith(("stun:", "stuns:"))]


def new_peer_connection(ice_servers: list[str]) -> RTCPeerConnection:
    urls = server_ice_urls(ice_servers)
    return RTCPeerConnection(RTCConfiguration(iceServers=[RTCIceServer(u) for u in urls]))


async def answer_offer(
    pc: RTCPeerConnection,
    offer_sdp: str,
    ice_hosts: list[str],
    *,
    accept_video: bool,
    voice: MediaStreamTrack | None = None,
) -> str:
    """Apply the offer (remote candidates outside ICE_HOSTS dropped) and return the complete answer.

    Video the node does not record is declined (direction inactive) so aiortc never decodes it; with
    ``accept_video`` the first video the client sends is received (recvonly), any other declined.
    ``voice`` (a mock session's interviewer) is sent back on the first audio transceiver the client
    offered as sendrecv, so the browser plays it from the same connection without renegotiating.
    Raises OfferError(400, invalid_sdp) when aiortc refuses the description.
    """
    try:
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=filter_sdp_candidates(offer_sdp, ice_hosts), type="offer")
        )
    except (ValueError, KeyError, IndexError, AssertionError) as e:
        raise OfferError(400, "invalid_sdp", f"The offer was refused: {e}") from None
    except Exception as e:  # aiortc's OperationError/InvalidStateError: e.g. no codec in common
        if type(e).__module__.startswith("aiortc"):
            raise OfferError(400, "invalid_sdp", f"The offer was refused: {e}") from None
        raise
    for t in pc.getTransceivers():
        if t.kind == "video":
            sending = t._offerDirection in ("sendrecv", "sendonly")  # aiortc has no public getter
            t.direction = "recvonly" if accept_video and sending else "inactive"
            accept_video = accept_video and not sending
        elif t.kind == "audio":
            if voice is not None and t._offerDirection == "sendrecv":  # aiortc has no public getter
                t.sender.replaceTrack(voice)
                t.direction = "sendrecv"
                voice = None
            else:
                t.direction = "recvonly"
    await pc.setLocalDescription(await pc.createAnswer())  # non-trickle: gathers every candidate here
    while pc.iceGatheringState != "complete":
        await asyncio.sleep(0.01)
    return pc.localDescription.sdp
