"""Self-test of loadtests.client.WavTrack and interview_room.loopback_ice, no server needed.

Two aiortc peers in this process, loopback only: what one speaks, the other must hear,
in real time, and neither may offer or accept a non-loopback candidate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace

import aioice.ice
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from interview_room.loopback_ice import (
    filter_sdp_candidates,
    restrict_ice_hosts,
    restricted_hosts,
    sdp_candidate_addresses,
)
from loadtests import client
from loadtests.client import FIXTURES, PTIME, WavTrack, decode_wav, load_references

LOOPBACK = ["127.0.0.1"]


@pytest.fixture
def loopback_only() -> Iterator[None]:
    restrict_ice_hosts(LOOPBACK)
    yield
    restrict_ice_hosts([])


def speech_span(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """First/last 10 ms block above -40 dBFS, the same rule references.json uses."""
    hop = rate // 100
    blocks = samples[: len(samples) // hop * hop].astype(np.float64).reshape(-1, hop)
    rms = np.sqrt((blocks**2).mean(axis=1)) / 32768.0
    idx = np.flatnonzero(rms > 0.01)
    assert idx.size, "no audible block"
    return idx[0] / 100, (idx[-1] + 1) / 100


def test_restrict_and_restore() -> None:
    original = aioice.ice.get_host_addresses
    restrict_ice_hosts(["127.0.0.1", "::1", " 127.0.0.1 "])
    try:
        assert restricted_hosts() == ["127.0.0.1", "::1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
        with pytest.raises(ValueError):
            restrict_ice_hosts(["localhost"])
    finally:
        restrict_ice_hosts([])
    assert aioice.ice.get_host_addresses is original
    assert restricted_hosts() is None


def test_filter_sdp_candidates() -> None:
    sdp = (
        "v=0\r\n"
        "a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"
        "a=candidate:2 1 udp 2130706431 192.168.1.7 5001 typ host\r\n"
        "a=candidate:3 1 udp 1694498815 203.0.113.9 5002 typ srflx raddr 192.168.1.7 rport 5001\r\n"
        "a=candidate:4 1 udp 2130706431 3f2a1b.local 5003 typ host\r\n"
        "a=end-of-candidates\r\n"
    )
    out = filter_sdp_candidates(sdp, LOOPBACK)
    assert sdp_candidate_addresses(out) == ["127.0.0.1"]
    assert out.startswith("v=0\r\n") and out.endswith("a=end-of-candidates\r\n")
    assert filter_sdp_candidates(sdp, []) == sdp


class VirtualClock:
    """``time`` and ``asyncio.sleep`` as the track sees them: time moves only when the track sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


async def test_wavtrack_schedule_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sequence + gaps + lead silence land on exact sample offsets, paced in real time (no network, no wall clock)."""
    clock = VirtualClock()
    monkeypatch.setattr(client, "time", SimpleNamespace(monotonic=clock.time, time=clock.time))
    monkeypatch.setattr(client, "asyncio", SimpleNamespace(**{**vars(asyncio), "sleep": clock.sleep}))
    a, b = FIXTURES / "alsa_front_center.wav", FIXTURES / "alsa_front_left.wav"
    track = WavTrack([a, b], gap=0.7, lead_silence=0.5)
    rate = track.sample_rate

    async def drain() -> None:
        while track.playing:
            await track.recv()

    await asyncio.wait_for(drain(), 30)
    u0, u1 = track.utterances
    assert u0.t0 == pytest.approx(0.5, abs=1e-6)
    assert u0.t1 == pytest.approx(0.5 + len(decode_wav(a, rate)) / rate, abs=1e-6)
    assert u1.t0 == pytest.approx(u0.t1 + 0.7, abs=1e-6)
    assert track.speech_end_wall == u1.end_wall
    # never faster than real time: each 20 ms frame waited for its slot, so the program took exactly as long
    # on the track's clock as it lasts (the last frame is stamped when it is sent, at its start)
    frames = track.sent_seconds / PTIME
    assert len(clock.sleeps) == round(frames) - 1 and all(d == pytest.approx(PTIME) for d in clock.sleeps)
    assert u1.end_wall - track.started_wall == pytest.approx(u1.t1, abs=PTIME)
    assert track.stalls == 0
    track.stop()


async def test_wavtrack_over_loopback_webrtc(loopback_only: None) -> None:
    name = "q_why_company.wav"
    ref = load_references()[name]
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = WavTrack(FIXTURES / name, lead_silence=0.3)
    chunks: list[np.ndarray] = []
    got_track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    receiver.on("track", lambda t: got_track.done() or got_track.set_result(t))
    try:
        sender.addTrack(track)
        await sender.setLocalDescription(await sender.createOffer())
        offer = sender.localDescription
        assert sender.iceGatheringState == "complete"
        offered = sdp_candidate_addresses(offer.sdp)
        assert offered and set(offered) == {"127.0.0.1"}, offered

        await receiver.setRemoteDescription(
            RTCSessionDescription(filter_sdp_candidates(offer.sdp, LOOPBACK), offer.type)
        )
        await receiver.setLocalDescription(await receiver.createAnswer())
        answer = receiver.localDescription
        assert set(sdp_candidate_addresses(answer.sdp)) == {"127.0.0.1"}
        await sender.setRemoteDescription(RTCSessionDescription(filter_sdp_candidates(answer.sdp, LOOPBACK), "answer"))

        remote = await asyncio.wait_for(got_track, 20)
        rate = 48000

        async def collect() -> None:
            try:
                while True:
                    frame = await remote.recv()
                    rate_ = frame.sample_rate
                    assert rate_ == rate
                    pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]
                    chunks.append(pcm.astype(np.int16))
            except MediaStreamError:
                pass

        collector = asyncio.ensure_future(collect())
        await track.wait_played(timeout=30)
        await asyncio.sleep(1.0)  # jitter buffer + the silence tail after the file
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
    finally:
        track.stop()
        await sender.close()
        await receiver.close()

    audio = np.concatenate(chunks)
    t0, t1 = speech_span(audio, rate)
    expected = ref["speech_t1"] - ref["speech_t0"]
    assert abs((t1 - t0) - expected) <= 0.1 * expected, (t0, t1, expected)
    assert len(audio) / rate >= 0.9 * ref["duration"]
    (utt,) = track.utterances
    assert utt.done and utt.t1 - utt.t0 == pytest.approx(ref["duration"], abs=0.001)
    assert track.sent_seconds >= 0.3 + ref["duration"]
