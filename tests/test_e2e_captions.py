"""The spine, end to end: a WebRTC client speaks fixtures through the public API and gets captions.

Runs the real stack (signaling, media, stt, llm as processes; embedded Postgres + Redis),
loopback only. Asserts what a user sees: captions with the right words, in order, on the
recording's clock; a recording that plays for as long as the audio sent; captions.vtt that parses.
"""

from __future__ import annotations

import io
import re
import uuid

import av
import jiwer
import pytest
from conftest import confirm_client

from loadtests.client import FIXTURES, ApiError, RoomClient, WavTrack, load_references

pytestmark = pytest.mark.whisper  # transcribes speech with the Whisper model (not in make test-fast)

REFS = load_references()
QUESTIONS = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav"]


def _norm(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def wer(ref: str, hyp: str) -> float:
    return float(jiwer.wer(_norm(ref), _norm(hyp)))


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """A strict-enough WebVTT reader: header, then cues of 'HH:MM:SS.mmm --> HH:MM:SS.mmm' + text."""
    assert text.startswith("WEBVTT"), text[:40]

    def secs(stamp: str) -> float:
        parts = stamp.split(":")
        h, m, s = (["0"] + parts)[-3:] if len(parts) == 2 else parts
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = []
    for block in re.split(r"\n\s*\n", text.strip())[1:]:
        lines = [ln for ln in block.splitlines() if ln.strip()]
        idx = next(i for i, ln in enumerate(lines) if "-->" in ln)
        a, b = (x.strip().split(" ")[0] for x in lines[idx].split("-->"))
        cues.append((secs(a), secs(b), " ".join(lines[idx + 1 :])))
    return cues


async def _user(base_url: str) -> RoomClient:
    c = RoomClient(base_url)
    await c.register(f"e2e-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "E2E")
    await confirm_client(c)
    return c


async def test_spoken_questions_become_captions_recording_and_vtt(stack) -> None:
    c = await _user(stack.base_url)
    try:
        s = await c.create_session(title="e2e", mode="assistant", listen_language="en", answer_language="en")
        track = WavTrack([FIXTURES / q for q in QUESTIONS], gap=1.5)
        await c.connect(s["id"], [("interviewer", track)])
        finals = []
        while len(finals) < len(QUESTIONS):
            ev = await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=90)
            finals.append(ev)
        await c.wait_played(timeout=60)

        # words: each utterance's caption matches its reference (WER over the whole run ≤ 0.25)
        hyp = " ".join(e["text"] for e in finals)
        ref = " ".join(REFS[q]["text"] for q in QUESTIONS)
        assert wer(ref, hyp) <= 0.25, (ref, hyp)
        for e in finals:
            assert e["v"] == 1 and e["role"] == "interviewer" and e["lang"] == "en" and e["id"]
        # order and clock: t0 increasing, each caption overlaps the span its utterance was sent in
        assert [e["t0"] for e in finals] == sorted(e["t0"] for e in finals)
        for e, utt in zip(finals, track.utterances, strict=True):
            assert utt.t0 is not None and utt.t1 is not None
            assert e["t0"] < e["t1"]
            assert utt.t0 - 0.6 <= e["t0"] <= utt.t1 and utt.t0 <= e["t1"] <= utt.t1 + 0.8, (e, utt)

        final = await c.end()
        sent = c.sent_seconds  # the node records until /end closes the peer connection
        assert final["status"] == "ended"
        await c.close()
        auth = {"Authorization": f"Bearer {c.token}"}

        # the recording plays (Range too) and lasts within 5% of what was sent
        async with c._session().get(
            f"{stack.base_url}/api/sessions/{s['id']}/recording", headers={"Range": "bytes=0-99", **auth}
        ) as r:
            assert r.status == 206 and len(await r.read()) == 100
        async with c._session().get(f"{stack.base_url}/api/sessions/{s['id']}/recording", headers=auth) as r:
            assert r.status == 200
            body = await r.read()
        with av.open(io.BytesIO(body)) as container:
            stream = container.streams.audio[0]
            samples = sum(f.samples for f in container.decode(stream))
            played = samples / stream.codec_context.sample_rate
        assert abs(played - sent) <= 0.05 * sent, (played, sent, final["duration_seconds"])

        # captions.vtt lines up with the captions the client saw
        async with c._session().get(f"{stack.base_url}/api/sessions/{s['id']}/captions.vtt", headers=auth) as r:
            assert r.status == 200 and r.content_type == "text/vtt"
            cues = parse_vtt(await r.text())
        assert len(cues) == len(finals)
        for (a, b, text), e in zip(cues, finals, strict=True):
            assert abs(a - e["t0"]) < 0.01 and abs(b - e["t1"]) < 0.01
            assert _norm(e["text"]) in _norm(text)

        # the stored transcript is the same, once each
        detail = await c.get_session(s["id"])
        assert [t["id"] for t in detail["transcript"]] == [e["id"] for e in finals]
    finally:
        await c.close()


async def test_two_roles_real_human_speech(stack) -> None:
    """The candidate track carries real human speech (jfk.wav); its captions come back as `candidate`."""
    c = await _user(stack.base_url)
    try:
        s = await c.create_session(title="roles", mode="assistant")
        await c.connect(
            s["id"],
            [("interviewer", FIXTURES / "q_why_company.wav"), ("candidate", WavTrack(FIXTURES / "jfk.wav", lead_silence=4.0))],
        )
        got: dict[str, list[dict]] = {"interviewer": [], "candidate": []}
        while not got["interviewer"] or sum(len(x["text"]) for x in got["candidate"]) < 60:
            ev = await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=90)
            got[ev["role"]].append(ev)
        await c.wait_played(timeout=60)
        # let the last candidate utterance close
        try:
            while True:
                ev = await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=8)
                got[ev["role"]].append(ev)
        except TimeoutError:
            pass
        assert wer(REFS["q_why_company.wav"]["text"], " ".join(e["text"] for e in got["interviewer"])) <= 0.25
        assert wer(REFS["jfk.wav"]["text"], " ".join(e["text"] for e in got["candidate"])) <= 0.25
        await c.end()
    finally:
        await c.close()


async def test_noise_makes_no_caption(stack) -> None:
    """Typing and hum must not turn into captions (webrtcvad alone says speech; the second check says no)."""
    c = await _user(stack.base_url)
    try:
        s = await c.create_session(title="noise", mode="assistant")
        await c.connect(s["id"], [("interviewer", FIXTURES / "noise_typing_hum.wav"), ("candidate", FIXTURES / "q_why_company.wav")])
        # the real utterance proves the pipeline is alive; anything from the noise track is a false caption
        ev = await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=90)
        await c.wait_played(timeout=60)
        try:
            while True:
                await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=8)
        except TimeoutError:
            pass
        captions = [e for e in c.received if e.get("type") == "caption" and e.get("final")]
        assert ev["role"] == "candidate"
        assert [e for e in captions if e["role"] == "interviewer"] == []
        await c.end()
    finally:
        await c.close()


@pytest.mark.parametrize(
    "body,code",
    [
        ({"sdp": "v=0\r\nthis is not sdp", "type": "offer", "roles": {}}, "invalid_sdp"),
        ({"sdp": "hello", "type": "offer", "roles": {}}, "invalid_sdp"),
        ({"sdp": "v=0\r\n", "type": "answer", "roles": {}}, None),
    ],
)
async def test_bad_offers_get_clear_errors_and_server_keeps_serving(stack, body, code) -> None:
    c = await _user(stack.base_url)
    try:
        s = await c.create_session(title="bad", mode="assistant")
        with pytest.raises(ApiError) as ei:
            await c.request("POST", f"/api/sessions/{s['id']}/offer", body)
        assert 400 <= ei.value.status < 500
        if code:
            assert ei.value.code == code
        # foreign / unknown session ids are 404 even with a valid-looking offer
        with pytest.raises(ApiError) as ei2:
            await c.request("POST", f"/api/sessions/{uuid.uuid4()}/offer", body)
        assert ei2.value.status == 404 and ei2.value.code == "not_found"
        # the next good client is served
        await c.connect(s["id"], [("interviewer", FIXTURES / "alsa_front_center.wav")])
        ev = await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=90)
        assert "front" in _norm(ev["text"])
        await c.end()
    finally:
        await c.close()


async def test_offer_without_audio_is_refused(stack) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection

    from interview_room.loopback_ice import restrict_ice_hosts

    c = await _user(stack.base_url)
    restrict_ice_hosts(["127.0.0.1"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        s = await c.create_session(title="no audio", mode="assistant")
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(ApiError) as ei:
            await c.request("POST", f"/api/sessions/{s['id']}/offer", {"sdp": pc.localDescription.sdp, "type": "offer", "roles": {}})
        assert ei.value.status == 400 and ei.value.code == "no_audio"
    finally:
        await pc.close()
        await c.close()
