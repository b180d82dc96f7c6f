"""One speaker streaming a fixture in real time to one system, recording what comes back.

- ours: the public API and WebRTC (loadtests.client.RoomClient), audio as Opus packets encoded once
  (OpusTrack), captions from the "events" data channel;
- WhisperLive: its websocket protocol (JSON options, SERVER_READY, float32 PCM, ``segments`` with
  ``completed``);
- WhisperLiveKit: its ``/asr`` websocket with ``--pcm-input`` (s16le PCM; ``lines`` = committed text,
  ``buffer_transcription`` = not yet committed).

The peers get 16 kHz PCM in 20 ms chunks, the same pacing as our 20 ms Opus frames (paced against
``time.monotonic``; a stall over 60 ms skips the backlog and is counted, as WavTrack does). Each driver
returns the Snapshot timeline on the local clock and the local time the fixture's first sample was sent.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from loadtests import accounts
from loadtests.client import MAX_LAG, PTIME, OpusTrack, RoomClient, decode_wav
from loadtests.peers.measure import Snapshot

LEAD = 0.5  # silence before the fixture (a noise floor for every VAD)


@dataclass
class StreamResult:
    snaps: list[Snapshot] = field(default_factory=list)
    send_wall0: float = 0.0
    stalls: int = 0
    error: str = ""


async def paced_pcm(samples: np.ndarray, tail: float, send: Any, res: StreamResult) -> None:
    """Send LEAD s of silence, ``samples`` (16 kHz int16), then ``tail`` s of silence, 20 ms a chunk."""
    n = int(16000 * PTIME)
    lead = int(LEAD / PTIME)
    audio = np.concatenate([np.zeros(lead * n, np.int16), samples, np.zeros(int(tail * 16000), np.int16)])
    chunks = -(-len(audio) // n)
    t0 = time.monotonic()
    for k in range(chunks):
        delay = t0 + k * PTIME - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -MAX_LAG:
            t0 -= delay
            res.stalls += 1
        if k == lead:
            res.send_wall0 = time.time()
        await send(audio[k * n : (k + 1) * n])


async def whisperlive(port: int, fixture: Path, tail: float) -> StreamResult:
    res = StreamResult()
    uid = str(uuid.uuid4())
    completed: dict[str, tuple[float, str]] = {}
    samples = decode_wav(fixture, 16000)
    async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{port}", max_msg_size=0) as ws:
        # the options WhisperLive's own client sends by default
        await ws.send_str(
            json.dumps(
                {
                    "uid": uid,
                    "language": "en",
                    "task": "transcribe",
                    "model": "tiny.en",
                    "use_vad": True,
                    "send_last_n_segments": 10,
                    "no_speech_thresh": 0.45,
                    "clip_audio": False,
                    "same_output_threshold": 10,
                }
            )
        )
        async with asyncio.timeout(60):
            while True:
                m = json.loads(await ws.receive_str())
                if m.get("message") == "SERVER_READY":
                    break
                if m.get("status") in ("ERROR", "WAIT"):
                    raise RuntimeError(f"WhisperLive refused: {m}")

        async def reader() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                rx = time.time()
                m = json.loads(msg.data)
                segs = m.get("segments")
                if not isinstance(segs, list):
                    continue
                partial = ""
                for s in segs:
                    if s.get("completed"):
                        completed[str(s.get("start"))] = (float(s.get("start", 0)), str(s.get("text", "")))
                    else:
                        partial = str(s.get("text", ""))
                final = " ".join(t for _, t in sorted(completed.values()))
                res.snaps.append(Snapshot(rx, final, partial))

        task = asyncio.create_task(reader())

        async def send(chunk: np.ndarray) -> None:
            await ws.send_bytes((chunk.astype(np.float32) / 32768.0).tobytes())

        await paced_pcm(samples, tail, send, res)
        await ws.send_bytes(b"END_OF_AUDIO")
        await asyncio.sleep(0.5)
        task.cancel()
    return res


async def whisperlivekit(port: int, fixture: Path, tail: float) -> StreamResult:
    res = StreamResult()
    samples = decode_wav(fixture, 16000)
    async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{port}/asr", max_msg_size=0) as ws:

        async def reader() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                rx = time.time()
                m = json.loads(msg.data)
                if "lines" not in m:
                    continue
                final = " ".join(str(x.get("text") or "") for x in m["lines"])
                res.snaps.append(Snapshot(rx, final, str(m.get("buffer_transcription") or "")))

        task = asyncio.create_task(reader())

        async def send(chunk: np.ndarray) -> None:
            await ws.send_bytes(chunk.astype("<i2").tobytes())

        await paced_pcm(samples, tail, send, res)
        task.cancel()
    return res


async def ours(url: str, database_url: str, fixture: Path, tail: float) -> StreamResult:
    res = StreamResult()
    c = RoomClient(url)
    finals: list[tuple[float, str]] = []
    try:
        await c.register(f"peers-{uuid.uuid4().hex[:10]}@example.com", "bench password 123", "Peers")
        await accounts.verify(str(c.user["id"]) if c.user else "", database_url)
        s = await c.create_session(title="peers", mode="assistant")
        track = OpusTrack(fixture, lead_silence=LEAD)
        await c.connect(s["id"], [("interviewer", track)])
        partial = ""

        async def reader() -> None:
            nonlocal partial
            while True:
                e = await c.events.get()
                if e.get("type") != "caption":
                    continue
                if e.get("final"):
                    finals.append((float(e.get("t0", 0.0)), str(e.get("text", ""))))
                    partial = ""
                else:
                    partial = str(e.get("text", ""))
                final = " ".join(t for _, t in sorted(finals))
                res.snaps.append(Snapshot(float(e["_rx"]), final, partial))

        task = asyncio.create_task(reader())
        await c.wait_played(timeout=3600)
        await asyncio.sleep(tail)
        task.cancel()
        res.send_wall0 = track.utterances[0].start_wall or 0.0
        res.stalls = track.stalls
        await c.end()
    finally:
        await c.close()
    return res
