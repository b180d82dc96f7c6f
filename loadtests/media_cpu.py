"""CPU cost of one audio stream on a media node. Prints figures; asserts nothing.

    .venv/bin/python -m loadtests.media_cpu pipeline            # decode -> resample -> VAD -> recorder, no network
    .venv/bin/python -m loadtests.media_cpu node --streams 8    # a real node process + N loopback peers

``pipeline`` times the node's per-frame path on 20 ms Opus packets exactly as aiortc delivers them
(48 kHz stereo s16) and splits it into what runs on the event loop (AudioConverter + Segmenter +
recorder.write) and what runs in threads (Opus decode in aiortc's decoder thread, Opus encode in
the recorder thread). ``node`` starts ``interview-room media`` against embedded Postgres/Redis,
connects N single-track sessions speaking ``conversation.wav`` in a loop, and reads the node
process' CPU time from /proc over the steady part: everything included (ICE, DTLS/SRTP, jitter
buffer, decode, segmenting, recording, Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "conversation.wav"


def _opus_packets(seconds: float) -> list[av.Packet]:
    from loadtests.client import decode_wav

    mono = decode_wav(FIXTURE, 48000)
    reps = int(np.ceil(seconds * 48000 / len(mono)))
    x = np.tile(mono, reps)[: int(seconds * 48000)]
    stereo = np.repeat(x, 2).reshape(1, -1)
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "stereo", "s16", 32000
    enc.time_base = fractions.Fraction(1, 48000)
    out: list[av.Packet] = []
    for i in range(0, stereo.shape[1] // 2, 960):
        f = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(stereo[:, 2 * i : 2 * (i + 960)]), format="s16", layout="stereo"
        )
        f.sample_rate, f.pts, f.time_base = 48000, i, fractions.Fraction(1, 48000)
        out.extend(enc.encode(f))
    return out


def pipeline(seconds: float) -> None:
    from media_server.audio import AudioConverter
    from media_server.segmenter import Segmenter
    from recorder import SessionRecorder

    packets = _opus_packets(seconds)
    dec = av.CodecContext.create("libopus", "r")
    dec.format, dec.layout, dec.sample_rate = "s16", "stereo", 48000
    t = time.process_time()
    frames = [f for p in packets for f in dec.decode(p)]
    t_decode = time.process_time() - t

    conv, seg = AudioConverter(), Segmenter()
    chunks = []
    t = time.process_time()
    n_utt = 0
    for f in frames:
        ch = conv.convert(f)
        n_utt += len(seg.push(ch.pcm16k, ch.t))
        chunks.append(ch)
    t_loop = time.process_time() - t

    with tempfile.TemporaryDirectory() as d:
        rec = SessionRecorder(Path(d) / "r.webm")
        t = time.process_time()
        for ch in chunks:
            rec.write(ch.t, ch.pcm48k)
        rec.close()
        t_rec = time.process_time() - t

    audio = len(frames) * 0.02
    print(f"audio: {audio:.0f} s in {len(frames)} frames, {n_utt} utterances")
    for name, v in (
        ("event loop: resample + VAD segmenter", t_loop),
        ("aiortc decoder thread: Opus decode", t_decode),
        ("recorder thread: mix + Opus encode + mux", t_rec),
    ):
        print(
            f"  {name:42s} {1000 * v / audio:6.2f} ms CPU per audio second = {100 * v / audio:5.2f} % of a core per stream"
        )
    total = t_loop + t_decode + t_rec
    print(f"  {'sum':42s} {1000 * total / audio:6.2f} ms per audio second = {100 * total / audio:5.2f} % of a core")
    print(f"  per 20 ms frame on the loop: {1e6 * t_loop / len(frames):.1f} us")


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


async def _node(
    streams: int,
    seconds: float,
    *,
    env: dict[str, str] | None = None,
    camera: Callable[[], MediaStreamTrack] | None = None,
) -> float:
    """Per-stream share of a core; ``env`` adds node settings, ``camera`` makes each peer's video track."""
    import aiohttp
    import asyncpg
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from interview_room import db
    from interview_room.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
    from interview_room.loopback_ice import filter_sdp_candidates, restrict_ice_hosts
    from loadtests.client import WavTrack

    data = Path(tempfile.mkdtemp(prefix="ir-media-cpu-"))
    pg, rd = EmbeddedPostgres(data / "postgres"), EmbeddedRedis(data / "redis")
    db_url, redis_url = pg.start(), rd.start()
    await db.migrate(db_url)
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "MEDIA_PORT": str(port),
        "ICE_HOSTS": "127.0.0.1",
        "ICE_SERVERS": "",
        "LOG_LEVEL": "WARNING",
        "INTERNAL_TOKEN": os.environ.get("INTERNAL_TOKEN") or uuid.uuid4().hex,
        "MEDIA_MAX_SESSIONS": "0",  # measured, not capped
        **(env or {}),
    }
    internal = {"Authorization": f"Bearer {env['INTERNAL_TOKEN']}"}
    node = subprocess.Popen([sys.executable, "-m", "interview_room.cli", "media"], env=env)
    pcs: list[RTCPeerConnection] = []
    tracks: list[WavTrack] = []
    cameras: list[MediaStreamTrack] = []
    pool = await asyncpg.create_pool(db_url)
    try:
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(f"{url}/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            idle0, w0 = _proc_cpu(node.pid), time.monotonic()
            await asyncio.sleep(3)
            idle = (_proc_cpu(node.pid) - idle0) / (time.monotonic() - w0)
            restrict_ice_hosts(["127.0.0.1"])
            for _ in range(streams):
                uid, sid = uuid.uuid4(), uuid.uuid4()
                await pool.execute("INSERT INTO users (id, email) VALUES ($1, $2)", uid, f"{uid}@example.com")
                await pool.execute("INSERT INTO sessions (id, user_id) VALUES ($1, $2)", sid, uid)
                await pool.execute(
                    "INSERT INTO credit_ledger (user_id, seconds, kind) VALUES ($1, 36000, 'grant')", uid
                )
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                track = WavTrack(FIXTURE, loop_seconds=seconds + 30)
                pc.addTrack(track)
                if camera is not None:
                    cameras.append(camera())
                    pc.addTrack(cameras[-1])
                pc.createDataChannel("events")
                await pc.setLocalDescription(await pc.createOffer())
                body = {"session_id": str(sid), "user_id": str(uid), "sdp": pc.localDescription.sdp, "type": "offer"}
                async with http.post(f"{url}/internal/offer", json=body, headers=internal) as r:
                    ans = await r.json()
                await pc.setRemoteDescription(
                    RTCSessionDescription(filter_sdp_candidates(ans["sdp"], ["127.0.0.1"]), "answer")
                )
                pcs.append(pc)
                tracks.append(track)
            await asyncio.sleep(5)  # warm-up: connections up, first segments out
            c0, w0 = _proc_cpu(node.pid), time.monotonic()
            await asyncio.sleep(seconds)
            busy = (_proc_cpu(node.pid) - c0) / (time.monotonic() - w0)
            stalls = sum(t.stalls for t in tracks)
            print(f"node with {streams} streams: {100 * busy:.1f} % of a core (idle node {100 * idle:.1f} %)")
            print(f"  per stream: {100 * (busy - idle) / streams:.2f} % of a core   (client stalls: {stalls})")
            return (busy - idle) / streams
    finally:
        for t in [*tracks, *cameras]:
            t.stop()
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        node.terminate()
        node.wait(60)
        await pool.close()
        rd.stop()
        pg.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("pipeline", "node"))
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    if a.mode == "pipeline":
        pipeline(max(a.seconds, 60.0))
    else:
        asyncio.run(_node(a.streams, a.seconds))


if __name__ == "__main__":
    main()
