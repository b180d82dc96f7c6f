"""The candidate's camera in the recording, end to end over real WebRTC on loopback.

A recruiter's candidate answers a question with a microphone and a camera (an aiortc peer through the
candidate link, mode ``recorded_answer``): the recruiter's review plays a WebM with a VP8 picture on the
same clock as the sound. A plain assistant session with a camera, under the default RECORD_VIDEO=answers,
declines the camera and records audio only; with the media node restarted under RECORD_VIDEO=all it records the
assistant session's camera, and under RECORD_VIDEO=off it declines even a recorded answer's camera.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import pytest_asyncio
from aiortc import RTCConfiguration, RTCPeerConnection
from conftest import FIXTURES, Stack, confirm_client
from test_llm_e2e import _wait_health
from test_recruiting_e2e import CandidateClient

from interview_room.loopback_ice import restrict_ice_hosts
from loadtests.client import RoomClient, WavTrack
from loadtests.video_cpu import CameraTrack, solid_picture
from media_server.peer import answer_offer, new_peer_connection, records_video

pytestmark = pytest.mark.whisper  # transcribes speech with the Whisper model (not in make test-fast)

RED, BLUE = (220, 30, 30), (30, 40, 220)
ANSWER = FIXTURES / "c_billing_migration.wav"
SPEECH_AT = 3.0  # s of silence before the candidate speaks
CAMERA_AT = 1.5  # s before the camera sends its first picture


def video_direction(answer_sdp: str) -> str:
    media = answer_sdp.split("\nm=")
    video = [m for m in media if m.startswith("video")]
    assert len(video) == 1, answer_sdp
    found = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", video[0], re.M)
    assert found, video[0]
    return found.group(1)


async def fetch(client: RoomClient, url: str, dest: Path) -> str:
    headers = {"Authorization": f"Bearer {client.token}"}
    async with client._session().get(url, headers=headers) as r:
        assert r.status == 200, await r.text()
        dest.write_bytes(await r.read())
        return r.headers["Content-Type"]


def video_stats(log: str, session_id: str) -> dict[str, int]:
    """The media node's closing figures for one session's recording (its ``video finalized`` log line)."""
    lines = [ln for ln in log.splitlines() if f"session={session_id}" in ln and "video finalized" in ln]
    assert len(lines) == 1, lines
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[0].split("video finalized", 1)[1])}


def speech_onset(path: Path) -> tuple[float, float]:
    """(first time the sound is loud, seconds of audio) of a recording."""
    with av.open(str(path)) as c:
        x = np.concatenate([f.to_ndarray().astype(np.float32).mean(axis=0) for f in c.decode(audio=0)])
    win = 480  # 10 ms at 48 kHz
    rms = np.sqrt((x[: len(x) // win * win].reshape(-1, win) ** 2).mean(axis=1))
    return float(np.argmax(rms > 0.1 * rms.max()) * win / 48000), len(x) / 48000


async def invited(stack: Stack, org: str, interview: dict[str, Any], name: str) -> tuple[RoomClient, dict[str, Any]]:
    """A verified recruiter with an organisation and one interview, and the invitation of one candidate."""
    rec = RoomClient(stack.base_url)
    await rec.register(f"rec-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "Recruiter")
    await confirm_client(rec)
    await rec.request("POST", "/api/org", {"name": org})
    iv = await rec.request("POST", "/api/org/interviews", interview)
    return rec, await rec.request("POST", f"/api/org/interviews/{iv['id']}/candidates", {"name": name})


async def answer_first_question(
    stack: Stack, inv: dict[str, Any], voice: WavTrack, camera: Any
) -> tuple[str, str]:
    """The candidate consents and records question 0 through the link; returns (the answer's video direction,
    the answer's session id)."""
    token = inv["link"].split("#", 1)[1]
    cand = CandidateClient(stack.base_url, token)
    peer = CandidateClient(stack.base_url, token)
    try:
        await cand.request("POST", "/api/c/consent")
        started = await cand.request("POST", "/api/c/answers/0/start")
        await peer.connect(started["session_id"], [("candidate", voice)], video=camera)
        assert peer.answer_sdp is not None
        await peer.wait_played(timeout=60)
        await peer.close()
        await cand.request("POST", "/api/c/answers/0/finish")
        return video_direction(peer.answer_sdp), str(started["session_id"])
    finally:
        await peer.close()
        await cand.close()


async def test_recorded_answer_keeps_the_camera_in_sync(stack: Stack, tmp_path: Path) -> None:
    interview = {
        "title": "Platform engineer",
        "job_description": "- Led database migrations",
        "questions": ["Tell us about a migration you led."],
    }
    rec, inv = await invited(stack, "Video Org", interview, "Dana")
    try:
        voice = WavTrack([ANSWER], lead_silence=SPEECH_AT)
        red, blue = solid_picture(RED), solid_picture(BLUE)
        # the picture turns blue the moment the candidate starts to speak
        camera = CameraTrack(picture=lambda t: blue if voice.utterances[0].t0 is not None else red, start_delay=CAMERA_AT)
        direction, sid = await answer_first_question(stack, inv, voice, camera)
        assert direction == "recvonly"

        review = await rec.request("GET", f"/api/org/candidates/{inv['candidate']['id']}")
        assert review["answers"][0]["has_video"] is True
        path = tmp_path / "answer.webm"
        assert await fetch(rec, stack.base_url + review["answers"][0]["recording_url"], path) == "video/webm"
    finally:
        await rec.close()

    onset, audio_seconds = speech_onset(path)
    assert abs(onset - SPEECH_AT) <= 0.5  # the sound itself is where the client put it
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "vp8"
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        pictures = [(float(f.time), f.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)) for f in c.decode(video=0)]
    times = [t for t, _ in pictures]
    assert abs(times[0] - CAMERA_AT) <= 0.5  # a camera that starts late starts late in the file
    # every picture the node encoded is in the file, plus the held last picture's repeats; none is invented
    # (how many arrive per second depends on the machine: loadtests/video_cpu.py measures that)
    node = video_stats(stack.log_of("media"), sid)
    assert node["frames"] >= 1 and len(pictures) == node["frames"] + node["repeats"], (node, len(pictures))
    assert node["frames"] + node["late"] + node["dropped_busy"] + node["above_fps"] <= camera.sent, node
    assert times == sorted(set(times))
    assert abs(times[-1] + 1 / 15 - audio_seconds) <= 0.05 * audio_seconds + 0.2
    colours = [(t, RED if rgb[0] > rgb[2] else BLUE) for t, rgb in pictures]
    assert all(np.abs(rgb - np.array(c)).max() <= 40 for (_, rgb), (_, c) in zip(pictures, colours, strict=True))
    first_blue = min(t for t, c in colours if c == BLUE)
    # one clock: the picture turns blue when the sound starts (both as sent by the client)
    assert abs(first_blue - onset) <= 0.25, (first_blue, onset)


async def test_assistant_session_declines_the_camera_by_default(stack: Stack, tmp_path: Path) -> None:
    async with RoomClient(stack.base_url) as c:
        await c.register(f"a-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "A")
        await confirm_client(c)
        s = await c.create_session(title="Camera on", mode="assistant")
        camera = CameraTrack([solid_picture(BLUE)])
        await c.connect(s["id"], [("interviewer", WavTrack([ANSWER]))], video=camera)
        assert c.answer_sdp is not None and video_direction(c.answer_sdp) == "inactive"
        await c.wait_played(timeout=60)
        await c.end()
        path = tmp_path / "assistant.webm"
        assert await fetch(c, f"{stack.base_url}/api/sessions/{s['id']}/recording", path) == "audio/webm"
        detail = await c.get_session(s["id"])
        assert detail["has_video"] is False
    with av.open(str(path)) as f:
        assert len(f.streams.video) == 0 and len(f.streams.audio) == 1
    _, audio_seconds = speech_onset(path)
    assert audio_seconds >= 4.5  # the answer fixture is 4.8 s long


def test_the_setting_decides_which_sessions_record_video() -> None:
    assert records_video("answers", "recorded_answer") and not records_video("answers", "assistant")
    assert records_video("all", "assistant") and records_video("all", "mock")
    assert not records_video("off", "recorded_answer") and not records_video("answers", None)


async def test_only_the_first_camera_is_received() -> None:
    """A second video (say a screen share) is declined: the node records one camera and decodes nothing else."""
    restrict_ice_hosts(["127.0.0.1"])
    for accept, want in ((True, ["recvonly", "inactive"]), (False, ["inactive", "inactive"])):
        client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        node = new_peer_connection([])
        try:
            client.addTrack(WavTrack(None))
            client.addTrack(CameraTrack())
            client.addTrack(CameraTrack())
            await client.setLocalDescription(await client.createOffer())
            answer = await answer_offer(node, client.localDescription.sdp, ["127.0.0.1"], accept_video=accept)
            videos = [m for m in answer.split("\nm=") if m.startswith("video")]
            assert [re.search(r"^a=(recvonly|inactive)\s*$", m, re.M).group(1) for m in videos] == want  # type: ignore[union-attr]
        finally:
            await client.close()
            await node.close()


@pytest_asyncio.fixture
async def media_with(stack: Stack) -> AsyncIterator[Callable[[str], Awaitable[None]]]:
    """Restart the stack's media node under another RECORD_VIDEO; the default one is put back afterwards."""
    port = stack.env["MEDIA_PORT"]

    async def restart(record_video: str) -> None:
        await asyncio.to_thread(stack.stop_part, "media")
        stack.start_part("media", RECORD_VIDEO=record_video)
        await _wait_health(port)

    try:
        yield restart
    finally:
        await asyncio.to_thread(stack.stop_part, "media")
        stack.start_part("media")
        await _wait_health(port)


async def test_record_video_all_records_an_assistant_sessions_camera(
    stack: Stack, tmp_path: Path, media_with: Callable[[str], Awaitable[None]]
) -> None:
    await media_with("all")
    async with RoomClient(stack.base_url) as c:
        await c.register(f"all-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "A")
        await confirm_client(c)
        s = await c.create_session(title="Camera on", mode="assistant")
        camera = CameraTrack([solid_picture(BLUE)])
        await c.connect(s["id"], [("interviewer", WavTrack([ANSWER]))], video=camera)
        assert c.answer_sdp is not None and video_direction(c.answer_sdp) == "recvonly"
        await c.wait_played(timeout=60)
        await c.end()
        path = tmp_path / "all.webm"
        assert await fetch(c, f"{stack.base_url}/api/sessions/{s['id']}/recording", path) == "video/webm"
        assert (await c.get_session(s["id"]))["has_video"] is True
    with av.open(str(path)) as container:
        assert len(container.streams.video) == 1 and len(container.streams.audio) == 1
        pictures = [p.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0) for p in container.decode(video=0)]
    assert pictures and all(np.abs(rgb - np.array(BLUE)).max() <= 40 for rgb in pictures)
    node = video_stats(stack.log_of("media"), s["id"])
    assert node["frames"] >= 1 and len(pictures) == node["frames"] + node["repeats"]


async def test_record_video_off_declines_even_a_recorded_answers_camera(
    stack: Stack, tmp_path: Path, media_with: Callable[[str], Awaitable[None]]
) -> None:
    await media_with("off")
    interview = {"title": "Engineer", "job_description": "- Migrations", "questions": ["Why?"]}
    rec, inv = await invited(stack, "No Video Org", interview, "Lee")
    try:
        camera = CameraTrack([solid_picture(RED)])
        direction, _ = await answer_first_question(stack, inv, WavTrack([ANSWER]), camera)
        assert direction == "inactive"
        review = await rec.request("GET", f"/api/org/candidates/{inv['candidate']['id']}")
        assert review["answers"][0]["has_video"] is False
        path = tmp_path / "off.webm"
        assert await fetch(rec, stack.base_url + review["answers"][0]["recording_url"], path) == "audio/webm"
    finally:
        await rec.close()
    with av.open(str(path)) as f:
        assert len(f.streams.video) == 0 and len(f.streams.audio) == 1
    _, audio_seconds = speech_onset(path)
    assert audio_seconds >= 4.5  # the answer fixture is 4.8 s long
