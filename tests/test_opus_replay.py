"""loadtests.client.OpusTrack: a fixture encoded to Opus once and replayed as packets on the clock.

What the receiver hears must be the fixture (same speech span as WavTrack gives), the schedule must be
encoded once per process however many peers play it, and the utterance times must be WavTrack's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from interview_room.loopback_ice import filter_sdp_candidates, restrict_ice_hosts
from loadtests import client
from loadtests.client import FIXTURES, OpusTrack, decode_wav, encode_opus, load_references

LOOPBACK = ["127.0.0.1"]


@pytest.fixture
def loopback_only() -> Iterator[None]:
    restrict_ice_hosts(LOOPBACK)
    yield
    restrict_ice_hosts([])


def _decode(packets: list[bytes]) -> np.ndarray:
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate, dec.layout, dec.format = 48000, "stereo", "s16"
    out = []
    for b in packets:
        for f in dec.decode(av.Packet(b)):
            out.append(f.to_ndarray().reshape(-1, 2)[:, 0])
    return np.concatenate(out).astype(np.float64)


def test_encoded_packets_decode_to_the_fixture() -> None:
    x = decode_wav(FIXTURES / "q_why_company.wav", 48000)
    packets, silence = encode_opus(x)
    assert len(packets) >= len(x) / 960
    y = _decode(packets)
    delay = 312  # libopus look-ahead at 48 kHz
    a = x[: len(y) - delay].astype(np.float64)
    assert np.corrcoef(a, y[delay : delay + len(a)])[0, 1] > 0.9
    assert np.abs(_decode([silence] * 5)).max() < 50


async def test_schedule_encoded_once_and_no_late_enqueue() -> None:
    a = OpusTrack([FIXTURES / "alsa_front_left.wav"], lead_silence=0.2)
    b = OpusTrack([FIXTURES / "alsa_front_left.wav"], lead_silence=0.2)
    try:
        first = await a.recv()
        await b.recv()
        assert isinstance(first, av.Packet)
        assert a._packets is b._packets  # one encode shared by both peers
        with pytest.raises(RuntimeError):
            a.enqueue(FIXTURES / "alsa_front_center.wav")
    finally:
        a.stop()
        b.stop()
        client._opus_cache.clear()


async def test_opustrack_over_loopback_webrtc(loopback_only: None) -> None:
    name = "q_why_company.wav"
    ref = load_references()[name]
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = OpusTrack(FIXTURES / name, lead_silence=0.3)
    chunks: list[np.ndarray] = []
    got: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    receiver.on("track", lambda t: got.done() or got.set_result(t))
    try:
        sender.addTrack(track)
        await sender.setLocalDescription(await sender.createOffer())
        offer = sender.localDescription
        await receiver.setRemoteDescription(RTCSessionDescription(filter_sdp_candidates(offer.sdp, LOOPBACK), offer.type))
        await receiver.setLocalDescription(await receiver.createAnswer())
        answer = receiver.localDescription
        await sender.setRemoteDescription(RTCSessionDescription(filter_sdp_candidates(answer.sdp, LOOPBACK), "answer"))
        remote = await asyncio.wait_for(got, 20)

        async def collect() -> None:
            try:
                while True:
                    frame = await remote.recv()
                    chunks.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0].astype(np.int16))
            except MediaStreamError:
                pass

        collector = asyncio.ensure_future(collect())
        await track.wait_played(timeout=30)
        await asyncio.sleep(1.0)
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
    finally:
        track.stop()
        await sender.close()
        await receiver.close()
        client._opus_cache.clear()

    audio = np.concatenate(chunks)
    hop = 480
    blocks = audio[: len(audio) // hop * hop].astype(np.float64).reshape(-1, hop)
    loud = np.flatnonzero(np.sqrt((blocks**2).mean(axis=1)) / 32768.0 > 0.01)
    assert loud.size
    span = (loud[-1] + 1 - loud[0]) / 100
    expected = ref["speech_t1"] - ref["speech_t0"]
    assert abs(span - expected) <= 0.1 * expected, (span, expected)
    (utt,) = track.utterances
    assert utt.done and utt.t1 - utt.t0 == pytest.approx(ref["duration"], abs=0.001)
