"""A scripted interview-room client: HTTP API + one aiortc peer speaking WAV files.

Why one module: the pytest suite and the benchmarks must drive the server exactly the way a
browser does (docs/protocol.md: non-trickle offer, data channel "events" created before the offer,
``roles`` by mid) and must obey the network rule (docs/internals.md) (no STUN, loopback candidates
only, non-loopback remote candidates dropped). Keeping that in one place keeps them honest.

Typical use::

    async with RoomClient("http://127.0.0.1:8080") as c:
        await c.register("a@example.com", "correct horse", "A")
        s = await c.create_session(title="t", mode="assistant")
        await c.connect(s["id"], [("interviewer", "tests/fixtures/q_why_company.wav")])
        cap = await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=60)
        await c.end()
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from interview_room.loopback_ice import filter_sdp_candidates, restrict_ice_hosts

__all__ = [
    "ApiError",
    "RoomClient",
    "TrackSource",
    "Utterance",
    "WavTrack",
    "OpusTrack",
    "encode_opus",
    "FIXTURES",
    "load_references",
    "decode_wav",
]

log = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
LOOPBACK = ["127.0.0.1"]
PTIME = 0.020  # 20 ms frames, what browsers and aiortc packetize Opus at
MAX_LAG = 0.060  # if the loop stalls longer than this, drop the backlog instead of bursting
REMOTE_VOICE_RMS = 300.0  # int16 RMS above which a received frame counts as sound (speech), not silence


def load_references(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """tests/fixtures/references.json: reference text, role hint, durations per fixture."""
    with open(path or FIXTURES / "references.json", encoding="utf-8") as f:
        data: dict[str, dict[str, Any]] = json.load(f)
    return data


@functools.lru_cache(maxsize=64)
def _decode_cached(path: str, rate: int) -> np.ndarray:
    container = av.open(path)
    try:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    finally:
        container.close()
    samples = np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)
    samples.setflags(write=False)  # shared between tracks through the cache
    return samples


def decode_wav(path: str | Path, rate: int = 48000) -> np.ndarray:
    """Decode any audio file to mono int16 at ``rate`` with PyAV (cached: many clients share files)."""
    return _decode_cached(str(Path(path).resolve()), rate)


@dataclass
class Utterance:
    """One file played by a WavTrack, with when it actually went out.

    ``t0``/``t1`` are seconds on the track's own sample clock (0 = first frame sent), which is
    also the server's session clock when this is the session's only/first track. The wall
    times are ``time.time()`` when the first/last sample left ``recv()``: end-of-speech ->
    caption latency is ``caption["_rx"] - end_wall`` (minus any trailing silence in the file).
    """

    index: int
    path: str
    duration: float
    gap_before: float = 0.0
    t0: float | None = None
    t1: float | None = None
    start_wall: float | None = None
    end_wall: float | None = None

    @property
    def done(self) -> bool:
        return self.end_wall is not None


class WavTrack(MediaStreamTrack):
    """Audio track that plays WAV files in real time, then silence until stopped.

    Why real time: the server's VAD, recorder and latency metrics all assume a live
    microphone; a track that bursts faster than real time would make every figure wrong.
    Frames are paced with ``asyncio.sleep`` against ``time.monotonic``; if the event loop
    stalls for more than 60 ms the backlog is skipped (counted in ``stalls``), never burst.
    Silence after the last file lets the server's VAD see the end of speech.
    """

    kind = "audio"

    def __init__(
        self,
        source: str | Path | Sequence[str | Path] | None = None,
        *,
        gap: float = 1.5,
        lead_silence: float = 0.5,
        loop_seconds: float | None = None,
        sample_rate: int = 48000,
    ) -> None:
        """``source``: one file, a sequence of files (played with ``gap`` seconds of silence
        between them), or None for silence only. ``lead_silence`` precedes the first file so
        the VAD has a noise floor. ``loop_seconds`` repeats the whole sequence (separated by
        ``gap``) until at least that many seconds are scheduled, ending on a whole file."""
        super().__init__()
        self.sample_rate = sample_rate
        self.frame_samples = int(sample_rate * PTIME)
        self.utterances: list[Utterance] = []
        self.started_wall: float | None = None
        self.stalls = 0
        self._queue: deque[tuple[np.ndarray, Utterance | None]] = deque()
        self._head_off = 0
        self._frames_sent = 0
        self._t_start: float | None = None
        self._scheduled = 0  # samples queued so far, lead silence and gaps included
        self._finished = asyncio.Event()
        self._finished.set()

        if lead_silence > 0:
            self._push_silence(lead_silence)
        paths: list[str | Path] = [] if source is None else [source] if isinstance(source, str | Path) else list(source)
        if paths:
            first = True
            while True:
                for p in paths:
                    self.enqueue(p, gap=0.0 if first else gap)
                    first = False
                if loop_seconds is None or self._scheduled / sample_rate >= loop_seconds:
                    break

    # -- scheduling -------------------------------------------------------------------------
    def _push_silence(self, seconds: float) -> None:
        n = int(round(seconds * self.sample_rate))
        if n > 0:
            self._queue.append((np.zeros(n, np.int16), None))
            self._scheduled += n
            self._finished.clear()

    def enqueue(self, path: str | Path, gap: float = 0.0) -> Utterance:
        """Queue another file after what is queued (or after ``gap`` s from now when idle).

        Why: tests react to server events (e.g. speak the answer after the question caption).
        """
        samples = decode_wav(path, self.sample_rate)
        self._push_silence(gap)
        utt = Utterance(len(self.utterances), str(path), len(samples) / self.sample_rate, gap_before=gap)
        self.utterances.append(utt)
        if len(samples):
            self._queue.append((samples, utt))
            self._scheduled += len(samples)
            self._finished.clear()
        else:  # empty file: it is "played" instantly
            utt.t0 = utt.t1 = self._frames_sent * PTIME
        return utt

    # -- figures ------------------------------------------------------------------------------
    @property
    def sent_seconds(self) -> float:
        """Audio handed to the sender so far (speech + silence), for the recording-length check."""
        return self._frames_sent * self.frame_samples / self.sample_rate

    @property
    def speech_seconds(self) -> float:
        """Total length of the files queued (gaps and silence excluded)."""
        return sum(u.duration for u in self.utterances)

    @property
    def speech_end_wall(self) -> float | None:
        """time.time() when the last sample of the latest finished file was sent, else None."""
        done = [u.end_wall for u in self.utterances if u.end_wall is not None]
        return max(done) if done else None

    @property
    def playing(self) -> bool:
        """True while queued audio (files, gaps) remains to be sent."""
        return not self._finished.is_set()

    async def wait_played(self, timeout: float | None = None) -> None:
        """Wait until every queued file has been sent (silence continues afterwards)."""
        async with asyncio.timeout(timeout):
            await self._finished.wait()

    # -- MediaStreamTrack ---------------------------------------------------------------------
    def _take(self, n: int, now_t: float, wall: float) -> np.ndarray:
        """Next ``n`` samples of the queue, zero-padded; stamps utterance start/end as they pass."""
        out = np.zeros(n, np.int16)
        filled = 0
        while filled < n and self._queue:
            chunk, utt = self._queue[0]
            if utt is not None and self._head_off == 0:
                utt.t0 = now_t + filled / self.sample_rate
                utt.start_wall = wall
            k = min(n - filled, len(chunk) - self._head_off)
            out[filled : filled + k] = chunk[self._head_off : self._head_off + k]
            filled += k
            self._head_off += k
            if self._head_off >= len(chunk):
                self._queue.popleft()
                self._head_off = 0
                if utt is not None:
                    utt.t1 = now_t + filled / self.sample_rate
                    utt.end_wall = wall
        if not self._queue:
            self._finished.set()
        return out

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await _pace(self)
        if self.readyState != "live":
            raise MediaStreamError
        pos = self._frames_sent * self.frame_samples
        data = self._take(self.frame_samples, pos / self.sample_rate, time.time())
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = pos
        frame.time_base = fractions.Fraction(1, self.sample_rate)
        self._frames_sent += 1
        return frame

    def stop(self) -> None:
        super().stop()
        self._finished.set()  # nothing more will be played; release waiters


OPUS_RATE = 48000
_opus_cache: dict[tuple[Any, ...], tuple[list[bytes], bytes]] = {}


def encode_opus(samples: np.ndarray, rate: int = OPUS_RATE) -> tuple[list[bytes], bytes]:
    """Mono int16 at ``rate`` -> one Opus packet per 20 ms (the last frame zero-padded), plus one
    packet of silence to repeat afterwards. Same settings as aiortc's own encoder (48 kHz stereo,
    96 kbit/s, "voip"), so the server decodes what a live aiortc peer would send."""
    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate = 96000
    codec.format = "s16"
    codec.layout = "stereo"
    codec.options = {"application": "voip"}
    codec.sample_rate = OPUS_RATE
    codec.time_base = fractions.Fraction(1, OPUS_RATE)
    if rate != OPUS_RATE:
        raise ValueError("encode_opus takes 48 kHz samples")
    n = int(OPUS_RATE * PTIME)
    frames = -(-len(samples) // n) + 1  # one trailing silent frame flushes the encoder's look-ahead
    padded = np.zeros(frames * n, np.int16)
    padded[: len(samples)] = samples
    stereo = np.repeat(padded, 2)
    out: list[bytes] = []
    for i in range(frames):
        f = av.AudioFrame.from_ndarray(stereo[i * 2 * n : (i + 1) * 2 * n].reshape(1, -1), format="s16", layout="stereo")
        f.sample_rate = OPUS_RATE
        f.pts = i * n
        out += [bytes(p) for p in codec.encode(f)]
    out += [bytes(p) for p in codec.encode(None)]
    silence = out[-1]
    return out, silence


async def _pace(track: Any) -> None:
    """Wait until the track's next 20 ms frame is due on the wall clock (the first call starts the clock);
    a sender that fell more than MAX_LAG behind skips the backlog rather than bursting it."""
    if track._t_start is None:
        track._t_start = time.monotonic()
        track.started_wall = time.time()
    target = track._t_start + track._frames_sent * PTIME
    delay = target - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    elif delay < -MAX_LAG:
        track._t_start -= delay  # rebase the clock: skip the backlog rather than burst
        track.stalls += 1


class OpusTrack(WavTrack):
    """A WavTrack that sends Opus packets encoded once, before the first frame, and replayed on the clock.

    Why: aiortc encodes every 20 ms frame of a WavTrack in a worker thread; with many peers in one
    client process that encoding, not the server, is what runs out of CPU. Here each distinct
    schedule (files, gaps, loops) is encoded once per process and shared by every peer playing it;
    ``recv`` only waits for the frame's time and hands the packet to the sender (aiortc packs
    ``av.Packet``s without re-encoding). Pacing, stall handling and the Utterance times are the
    WavTrack's own. Files must be queued before the first ``recv`` (no ``enqueue`` while playing).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._packets: list[bytes] | None = None
        self._silence = b""

    def enqueue(self, path: str | Path, gap: float = 0.0) -> Utterance:
        if getattr(self, "_packets", None) is not None:
            raise RuntimeError("OpusTrack: queue every file before playing starts")
        return super().enqueue(path, gap)

    def _prepare(self) -> None:
        if self.sample_rate != OPUS_RATE:
            raise ValueError("OpusTrack plays at 48 kHz")
        key = tuple((u.path if u is not None else "", len(chunk)) for chunk, u in self._queue)
        if key not in _opus_cache:
            whole = np.concatenate([c for c, _ in self._queue]) if self._queue else np.zeros(0, np.int16)
            _opus_cache[key] = encode_opus(whole)
        self._packets, self._silence = _opus_cache[key]

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        if self._packets is None:
            self._prepare()
        await _pace(self)
        if self.readyState != "live":
            raise MediaStreamError
        i = self._frames_sent
        pos = i * self.frame_samples
        self._take(self.frame_samples, pos / self.sample_rate, time.time())  # utterance bookkeeping
        assert self._packets is not None
        packet = av.Packet(self._packets[i] if i < len(self._packets) else self._silence)
        packet.pts = pos
        packet.time_base = fractions.Fraction(1, self.sample_rate)
        self._frames_sent += 1
        return packet


class ApiError(Exception):
    """A docs/protocol.md error answer: ``{"error": {"code", "message"}}`` with a 4xx/5xx status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


TrackSource = str | Path | Sequence[str | Path] | WavTrack | None


class RoomClient:
    """One user in one session: HTTP calls plus a WebRTC peer with audio tracks and "events".

    Every data-channel message lands in ``events`` (in order, with ``_rx`` = local
    ``time.time()`` at receipt) and in the complete log ``received``.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        ice_hosts: Sequence[str] = LOOPBACK,
        http_timeout: float = 120.0,
    ) -> None:
        """``ice_hosts``: the only local addresses offered and remote addresses accepted
        (the network rule of docs/internals.md; default loopback). Applied process-wide at ``connect``."""
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.headers: dict[str, str] = {}  # sent with every API call (a candidate's X-Candidate-Token)
        self.ice_hosts = list(ice_hosts)
        self.user: dict[str, Any] | None = None
        self.session_id: str | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.tracks: list[WavTrack] = []
        self.video: MediaStreamTrack | None = None
        self.roles: dict[str, str] = {}
        self.offer_sdp: str | None = None
        self.answer_sdp: str | None = None
        self.pc: RTCPeerConnection | None = None
        self.channel: RTCDataChannel | None = None
        self.remote_frames = 0
        # what the server sends back (e.g. a mock interviewer's voice): loudness of the received audio
        self.remote_voiced_frames = 0  # frames with RMS above REMOTE_VOICE_RMS
        self.remote_voice_wall: float | None = None  # time.time() of the latest voiced frame
        self.remote_rms: deque[tuple[float, float]] = deque(maxlen=30_000)  # (time.time(), RMS) per frame
        self._http: aiohttp.ClientSession | None = None
        self._http_timeout = aiohttp.ClientTimeout(total=http_timeout)
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RoomClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- HTTP ---------------------------------------------------------------------------------
    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            # unsafe=True: keep cookies set by 127.0.0.1 (the default jar ignores IP hosts)
            self._http = aiohttp.ClientSession(timeout=self._http_timeout, cookie_jar=aiohttp.CookieJar(unsafe=True))
        return self._http

    async def request(self, method: str, path: str, json_body: Any = None) -> Any:
        """Call the API; returns parsed JSON ({} for 204 / empty), raises ApiError on 4xx/5xx."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(self.headers)
        async with self._session().request(method, self.base_url + path, json=json_body, headers=headers) as r:
            body = await r.read()
            data: Any = None
            if body:
                try:
                    data = json.loads(body)
                except ValueError:
                    data = None
            if r.status >= 400:
                err = data.get("error") if isinstance(data, dict) else None
                if isinstance(err, dict):
                    raise ApiError(r.status, str(err.get("code", "")), str(err.get("message", "")))
                raise ApiError(r.status, "non_json_error", body[:300].decode("utf-8", "replace"))
            if data is None and body:
                raise ApiError(r.status, "non_json_response", body[:300].decode("utf-8", "replace"))
            return {} if data is None else data

    async def register(self, email: str, password: str, name: str) -> dict[str, Any]:
        """POST /api/auth/register; keeps the token for later calls."""
        data: dict[str, Any] = await self.request(
            "POST", "/api/auth/register", {"email": email, "password": password, "name": name}
        )
        self.token, self.user = data.get("token"), data.get("user")
        return data

    async def login(self, email: str, password: str) -> dict[str, Any]:
        """POST /api/auth/login; keeps the token for later calls."""
        data: dict[str, Any] = await self.request("POST", "/api/auth/login", {"email": email, "password": password})
        self.token, self.user = data.get("token"), data.get("user")
        return data

    async def create_session(self, **fields: Any) -> dict[str, Any]:
        """POST /api/sessions (defaults: assistant mode, English) and remember its id."""
        body = {"title": "Load test", "mode": "assistant", "listen_language": "en", "answer_language": "en", **fields}
        data: dict[str, Any] = await self.request("POST", "/api/sessions", body)
        self.session_id = data.get("id", self.session_id)
        return data

    async def get_session(self, session_id: str | None = None) -> dict[str, Any]:
        """GET /api/sessions/{id}: transcript, questions, answers, scores."""
        data: dict[str, Any] = await self.request("GET", f"/api/sessions/{session_id or self._sid()}")
        return data

    async def end(self) -> dict[str, Any]:
        """POST /api/sessions/{id}/end: the final session."""
        data: dict[str, Any] = await self.request("POST", f"/api/sessions/{self._sid()}/end")
        return data

    def _sid(self) -> str:
        if not self.session_id:
            raise RuntimeError("no session: call create_session() or connect() first")
        return self.session_id

    # -- WebRTC -------------------------------------------------------------------------------
    async def connect(
        self,
        session_id: str,
        tracks: Sequence[tuple[str, TrackSource]],
        *,
        timeout: float = 30.0,
        video: MediaStreamTrack | None = None,
    ) -> None:
        """Offer one audio track per ``(role, source)`` plus the "events" channel; wait until open.

        ``source``: a WAV path, a sequence of paths (1.5 s gaps), a ready WavTrack, or None
        for silence. ``video``: a camera track offered after the audio (stopped by ``close``).
        Non-trickle as docs/protocol.md says: the offer is sent after ICE gathering completes, and
        the answer's non-allowed candidates are dropped before it is applied.
        """
        if self.pc is not None:
            raise RuntimeError("already connected")
        if not tracks:
            raise ValueError("at least one audio track is needed")
        self.session_id = session_id
        restrict_ice_hosts(self.ice_hosts)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc = pc
        pc.on("track", self._on_remote_track)

        by_track: list[tuple[WavTrack, str]] = []
        for role, source in tracks:
            track = source if isinstance(source, WavTrack) else WavTrack(source)
            pc.addTrack(track)
            self.tracks.append(track)
            by_track.append((track, role))
        if video is not None:
            pc.addTrack(video)
            self.video = video

        channel = pc.createDataChannel("events")
        self.channel = channel
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._on_message)

        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers here
        async with asyncio.timeout(timeout):
            while pc.iceGatheringState != "complete":
                await asyncio.sleep(0.01)

        for transceiver in pc.getTransceivers():
            for track, role in by_track:
                if transceiver.sender.track is track and transceiver.mid is not None:
                    self.roles[transceiver.mid] = role
        self.offer_sdp = pc.localDescription.sdp
        answer = await self.request(
            "POST",
            f"/api/sessions/{session_id}/offer",
            {"sdp": self.offer_sdp, "type": "offer", "roles": self.roles},
        )
        self.answer_sdp = filter_sdp_candidates(answer["sdp"], self.ice_hosts)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=self.answer_sdp, type=answer.get("type", "answer")))

        try:
            async with asyncio.timeout(timeout):
                while not opened.is_set():
                    if pc.connectionState in ("failed", "closed"):
                        raise ConnectionError(f"peer connection {pc.connectionState}")
                    try:
                        await asyncio.wait_for(opened.wait(), 0.1)
                    except TimeoutError:
                        pass
        except TimeoutError:
            raise TimeoutError(
                f"data channel not open after {timeout}s (ice={pc.iceConnectionState}, pc={pc.connectionState})"
            ) from None

    def _on_remote_track(self, track: MediaStreamTrack) -> None:
        """Drain whatever the server sends back so aiortc's receive queue never grows."""

        async def drain() -> None:
            try:
                while True:
                    frame = await track.recv()
                    self.remote_frames += 1
                    if track.kind == "audio":
                        self._measure_remote(frame)  # type: ignore[arg-type]
            except (MediaStreamError, asyncio.CancelledError):
                pass

        task = asyncio.ensure_future(drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _measure_remote(self, frame: av.AudioFrame) -> None:
        x = frame.to_ndarray().astype(np.float32)
        rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
        now = time.time()
        self.remote_rms.append((now, rms))
        if rms >= REMOTE_VOICE_RMS:
            self.remote_voiced_frames += 1
            self.remote_voice_wall = now

    async def wait_remote_quiet(self, quiet: float = 1.0, timeout: float = 60.0, since: float | None = None) -> None:
        """Wait until the server's audio has had voice (after ``since``, a time.time()) and then
        ``quiet`` seconds without it: e.g. the interviewer finished saying a question."""
        since = time.time() if since is None else since
        async with asyncio.timeout(timeout):
            while True:
                last = self.remote_voice_wall
                if last is not None and last >= since and time.time() - last >= quiet:
                    return
                await asyncio.sleep(0.05)

    def _on_message(self, message: str | bytes) -> None:
        rx = time.time()
        try:
            event = json.loads(message)
        except ValueError:
            event = {"type": "_invalid", "raw": message if isinstance(message, str) else message.hex()}
        if not isinstance(event, dict):
            event = {"type": "_invalid", "raw": event}
        event["_rx"] = rx
        self.received.append(event)
        self.events.put_nowait(event)

    async def send(self, msg: dict[str, Any]) -> None:
        """Send one JSON message on "events" (e.g. ``{"type": "ask", "text": "..."}``)."""
        if self.channel is None or self.channel.readyState != "open":
            raise RuntimeError("data channel is not open")
        self.channel.send(json.dumps(msg))

    async def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """Return (and consume) the first event matching ``pred``.

        Events skipped by earlier calls are in ``self.seen`` and are searched first, so a
        test can wait for B then for A even if A arrived before B. Non-matching events taken
        from the queue are appended to ``seen``. Raises TimeoutError naming what did arrive.
        """
        for i, event in enumerate(self.seen):
            if pred(event):
                return self.seen.pop(i)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = await self.events.get()
                    if pred(event):
                        return event
                    self.seen.append(event)
        except TimeoutError:
            kinds = [e.get("type") for e in self.seen[-15:]]
            raise TimeoutError(f"no matching event within {timeout}s; last seen types: {kinds}") from None

    async def wait_played(self, timeout: float | None = None) -> None:
        """Wait until every track has sent all its queued files."""
        await asyncio.gather(*(t.wait_played(timeout) for t in self.tracks))

    @property
    def sent_seconds(self) -> float:
        """Longest audio sent on any track (the recording mixes tracks on one timeline)."""
        return max((t.sent_seconds for t in self.tracks), default=0.0)

    async def close(self) -> None:
        """Stop tracks, close the peer connection and the HTTP session. Safe to call twice."""
        for t in self.tracks:
            t.stop()
        if self.video is not None:
            self.video.stop()
        if self.pc is not None:
            await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None and not self._http.closed:
            await self._http.close()
