"""Hostile users against a running stack: what gets through, and what it costs the servers.

    .venv/bin/python -m loadtests.abuse                     # starts its own embedded stack
    .venv/bin/python -m loadtests.abuse --url http://127.0.0.1:8080 --media-url http://127.0.0.1:8081

Scenarios, in order (each row of the table is one):
  - idle: one session speaks a question (tests/fixtures/q_process_thread.wav); end of speech -> answer.done
    is the baseline for the ask flood;
  - login burst: --logins wrong-password logins for one account at once, then the right password once;
  - ask flood: one session sends --asks ``ask`` messages within a second on its data channel while
    another session speaks the same question as in "idle" (its answer time is compared with idle);
  - troubleshoot flood: --troubleshoot POST /api/troubleshoot/offer at once (one real aiortc offer
    reused: every accepted one is a peer connection on the media node that never connects);
  - many-track offers: --offers sessions, each offering --tracks audio tracks, once with every track
    named in ``roles`` and once with no ``roles`` at all; accepted ones stay connected --hold seconds
    sending silence.
Every request's HTTP status is counted (2xx / 429 / other 4xx / 5xx / no answer, with the error codes);
the media node's
CPU (process_cpu_seconds_total on its /metrics, over the scenario) and signaling's RSS
(process_resident_memory_bytes on its /metrics, before -> after) are printed per scenario.
Traffic stays on 127.0.0.1 (loopback ICE only, no STUN).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection

from interview_room import db
from interview_room.embedded import EmbeddedPostgres, EmbeddedRedis
from interview_room.loopback_ice import restrict_ice_hosts
from loadtests import accounts
from loadtests.client import FIXTURES, LOOPBACK, ApiError, RoomClient, WavTrack
from loadtests.cluster_bench import Layout, scrape, start_layout

PASSWORD = "correct horse battery"
QUESTION = FIXTURES / "q_process_thread.wav"
AI_TIMEOUT = 120.0


@dataclass
class Row:
    scenario: str
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)  # error codes of the 4xx/5xx answers
    through: str = ""
    media_cpu: float | None = None
    rss_before: float | None = None
    rss_after: float | None = None

    def count(self, status: int | None, code: str | None = None) -> None:
        if code:
            self.codes[code] += 1
        if status is None:
            self.statuses["none"] += 1
        elif status >= 500:
            self.statuses["5xx"] += 1
        elif status == 429:
            self.statuses["429"] += 1
        elif status >= 400:
            self.statuses["4xx"] += 1
        else:
            self.statuses["2xx"] += 1

    def codes_text(self) -> str:
        return "; errors: " + ", ".join(f"{k} x{v}" for k, v in self.codes.most_common(4)) if self.codes else ""


class Probe:
    """CPU of the media node and RSS of signaling from their /metrics."""

    def __init__(self, base_url: str, media_url: str | None) -> None:
        self.base_url = base_url
        self.media_url = media_url

    def rss_mb(self) -> float | None:
        v = scrape(self.base_url).get("process_resident_memory_bytes")
        return v / 1e6 if v else None

    def media_cpu_s(self) -> float | None:
        if not self.media_url:
            return None
        return scrape(self.media_url).get("process_cpu_seconds_total")

    async def measure(self, row: Row, work: Callable[[], Awaitable[None]]) -> Row:
        row.rss_before = await asyncio.to_thread(self.rss_mb)
        cpu0, t0 = await asyncio.to_thread(self.media_cpu_s), time.monotonic()
        await work()
        cpu1, t1 = await asyncio.to_thread(self.media_cpu_s), time.monotonic()
        if cpu0 is not None and cpu1 is not None:
            row.media_cpu = 100.0 * (cpu1 - cpu0) / (t1 - t0)
        row.rss_after = await asyncio.to_thread(self.rss_mb)
        return row


async def user(base_url: str, name: str) -> RoomClient:
    c = RoomClient(base_url)
    await c.register(f"abuse-{name}-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, name)
    await accounts.verify(str(c.user["id"]) if c.user else "")  # the stack's DATABASE_URL: as the e-mailed code does
    return c


async def spoken_answer_seconds(base_url: str, name: str, during: Callable[[], Awaitable[Any]] | None = None) -> float:
    """One session speaks QUESTION; seconds from the end of its speech to its answer.done.

    ``during`` runs right after the speech is queued (the flood of another session)."""
    c = await user(base_url, name)
    try:
        await c.create_session(title=name, mode="assistant")
        track = WavTrack(None)
        await c.connect(c.session_id or "", [("interviewer", track)])
        utt = track.enqueue(QUESTION, gap=0.2)
        if during is not None:
            await during()
        q = await c.wait_for(lambda e: e["type"] == "question", AI_TIMEOUT)
        done = await c.wait_for(lambda e: e["type"] == "answer.done" and e["question_id"] == q["id"], AI_TIMEOUT)
        assert utt.end_wall is not None
        return float(done["_rx"]) - utt.end_wall
    finally:
        await c.close()


async def login_burst(base_url: str, row: Row, n: int) -> None:
    victim = await user(base_url, "victim")
    email = (victim.user or {}).get("email", "")
    await victim.close()
    url = f"{base_url}/api/auth/login"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def attempt(password: str) -> tuple[int | None, str | None]:
            return await post_status(http, url, {"email": email, "password": password})

        results = await asyncio.gather(*(attempt(f"wrong-{i}") for i in range(n)))
        for st, code in results:
            row.count(st, code)
        row.sent = n
        right, right_code = await attempt(PASSWORD)
    row.through = (
        f"{sum(1 for s, _ in results if s == 401)} passwords checked (401); the right password just after: "
        f"{right} {right_code or ''}{row.codes_text()}"
    )


async def post_status(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int | None, str | None]:
    """HTTP status and error code of one POST (None, exception name when no answer came)."""
    try:
        async with http.post(url, json=body) as r:
            data = await r.json(content_type=None) if r.status >= 400 else None
            await r.read()
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        return None, type(e).__name__
    err = data.get("error") if isinstance(data, dict) else None
    return r.status, (str(err.get("code")) if isinstance(err, dict) else None)


async def ask_flood(base_url: str, row: Row, n: int, idle_s: float) -> None:
    a = await user(base_url, "flood")
    try:
        await a.create_session(title="flood", mode="assistant")
        await a.connect(a.session_id or "", [("interviewer", None)])
        sent_in = 0.0

        async def flood() -> None:
            nonlocal sent_in
            t0 = time.monotonic()
            for i in range(n):
                await a.send({"type": "ask", "text": f"Flood question {i}: what is a hash map?"})
                await asyncio.sleep(1.0 / n)
            sent_in = time.monotonic() - t0

        other_s = await spoken_answer_seconds(base_url, "bystander", flood)
        row.sent = n
        quiet_since, last = time.monotonic(), -1
        while time.monotonic() - quiet_since < 5.0:  # until the flood's answers stop coming
            k = sum(1 for e in a.received if e.get("type") == "answer.done")
            if k != last:
                last, quiet_since = k, time.monotonic()
            await asyncio.sleep(0.2)
        kinds = Counter(e.get("code") if e.get("type") in ("notice", "error") else e.get("type") for e in a.received)
        row.statuses["data channel"] = n
        row.through = (
            f"{kinds['answer.done']} answered of {n} sent in {sent_in:.2f} s; {kinds['rate_limited']} rate_limited "
            f"notice(s); other session's spoken question answered in {other_s:.2f} s (idle stack {idle_s:.2f} s)"
        )
    finally:
        await a.close()


async def one_offer_sdp() -> str:
    """A real troubleshoot-style offer (one audio track + "events"), made once and reused."""
    restrict_ice_hosts(LOOPBACK)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(WavTrack(None))
    pc.createDataChannel("events")
    await pc.setLocalDescription(await pc.createOffer())
    while pc.iceGatheringState != "complete":
        await asyncio.sleep(0.01)
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def troubleshoot_flood(base_url: str, row: Row, n: int) -> None:
    c = await user(base_url, "troubleshoot")
    await c.close()
    sdp = await one_offer_sdp()
    headers = {"Authorization": f"Bearer {c.token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers=headers) as http:

        url = f"{base_url}/api/troubleshoot/offer"
        results = await asyncio.gather(*(post_status(http, url, {"sdp": sdp, "type": "offer"}) for _ in range(n)))
    for st, code in results:
        row.count(st, code)
    row.sent = n
    row.through = f"{row.statuses['2xx']} peer connections answered{row.codes_text()}"


class UnnamedTracksClient(RoomClient):
    """Offers without ``roles`` (every track then gets the session's default role), as an attacker can."""

    async def request(self, method: str, path: str, json_body: Any = None) -> Any:
        if path.endswith("/offer") and isinstance(json_body, dict):
            json_body = {k: v for k, v in json_body.items() if k != "roles"}
        return await super().request(method, path, json_body)


async def many_tracks(base_url: str, row: Row, offers: int, tracks: int, hold: float, named: bool) -> None:
    owner = await user(base_url, "tracks")
    clients: list[RoomClient] = []
    accepted = connected = 0
    try:
        for _ in range(offers):
            s = await owner.create_session(title="tracks", mode="assistant")
            c = RoomClient(base_url, owner.token) if named else UnnamedTracksClient(base_url, owner.token)
            clients.append(c)
            try:
                await c.connect(s["id"], [("interviewer", None)] * tracks)
                row.count(200)
                accepted += 1
                connected += 1
            except ApiError as e:
                row.count(e.status, e.code)
            except (TimeoutError, ConnectionError):
                row.count(200)
                accepted += 1
        row.sent = offers
        if connected:
            await asyncio.sleep(hold)
        row.through = (
            f"{accepted} offers of {tracks} audio tracks answered, {connected} connected for {hold:.0f} s"
            f"{row.codes_text()}"
        )
    finally:
        for c in clients:
            await c.close()
        await owner.close()


def table(rows: list[Row]) -> str:
    out = [
        "| scenario | sent | 2xx | 429 | other 4xx | 5xx | no answer | what got through | media CPU % "
        "| signaling RSS MB before → after |",
        "| --- " * 10 + "|",
    ]
    for r in rows:
        cpu = f"{r.media_cpu:.0f}" if r.media_cpu is not None else "n/a"
        rss = f"{r.rss_before:.0f} → {r.rss_after:.0f}" if r.rss_before and r.rss_after else "n/a"
        st = r.statuses
        http = r.statuses.get("data channel") is None
        cells = [str(st[k]) for k in ("2xx", "429", "4xx", "5xx", "none")] if http else ["-"] * 5
        out.append(f"| {r.scenario} | {r.sent} | {' | '.join(cells)} | {r.through} | {cpu} | {rss} |")
    return "\n".join(out)


async def run(args: argparse.Namespace, base_url: str, media_url: str | None) -> list[Row]:
    probe = Probe(base_url, media_url)
    rows: list[Row] = []
    idle = Row("idle: one spoken question")
    idle_s = 0.0

    async def idle_work() -> None:
        nonlocal idle_s
        idle_s = await spoken_answer_seconds(base_url, "idle")
        idle.sent = 1
        idle.statuses["data channel"] = 1
        idle.through = f"answer.done {idle_s:.2f} s after the end of speech"

    rows.append(await probe.measure(idle, idle_work))
    print(table(rows[-1:]).splitlines()[-1], flush=True)
    scenarios: list[tuple[str, Callable[[Row], Awaitable[None]]]] = [
        (f"login burst ({args.logins} wrong passwords at once)", lambda r: login_burst(base_url, r, args.logins)),
        (f"ask flood ({args.asks} asks in 1 s, one session)", lambda r: ask_flood(base_url, r, args.asks, idle_s)),
        (f"troubleshoot flood ({args.troubleshoot} offers at once)", lambda r: troubleshoot_flood(base_url, r, args.troubleshoot)),
        (
            f"many-track offers ({args.offers} x {args.tracks} tracks, each named in roles)",
            lambda r: many_tracks(base_url, r, args.offers, args.tracks, args.hold, named=True),
        ),
        (
            f"many-track offers ({args.offers} x {args.tracks} tracks, no roles)",
            lambda r: many_tracks(base_url, r, args.offers, args.tracks, args.hold, named=False),
        ),
    ]
    for name, fn in scenarios:
        row = Row(name)
        try:
            await probe.measure(row, lambda fn=fn, row=row: fn(row))  # type: ignore[misc]
        except Exception as e:  # report and go on: one broken scenario must not hide the others
            row.through = f"scenario failed: {type(e).__name__}: {str(e)[:120]}"
        rows.append(row)
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="", help="a running stack's signaling URL; empty = start an embedded stack")
    ap.add_argument("--media-url", default="", help="its media node (for the CPU figures)")
    ap.add_argument("--logins", type=int, default=200)
    ap.add_argument("--asks", type=int, default=300)
    ap.add_argument("--troubleshoot", type=int, default=100)
    ap.add_argument("--offers", type=int, default=3)
    ap.add_argument("--tracks", type=int, default=32)
    ap.add_argument("--hold", type=float, default=10.0, help="seconds the many-track peers stay connected")
    args = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores", flush=True)
    if args.url:
        rows = asyncio.run(run(args, args.url.rstrip("/"), args.media_url.rstrip("/") or None))
        print("\n" + table(rows))
        return
    data_dir = Path(tempfile.mkdtemp(prefix="ir-abuse-"))
    pg, rd = EmbeddedPostgres(data_dir / "postgres"), EmbeddedRedis(data_dir / "redis")
    layout: Layout | None = None
    try:
        database_url, redis_url = pg.start(), rd.start()
        os.environ["DATABASE_URL"] = database_url  # new accounts are verified in it (loadtests/accounts.py)
        asyncio.run(db.migrate(database_url))
        stack = argparse.Namespace(media=1, stt=1, stt_threads=0)
        layout = start_layout(stack, data_dir, database_url, redis_url)
        base_url = f"http://127.0.0.1:{layout.env['HTTP_PORT']}"
        print(f"embedded stack: signaling, 1 media, 1 stt, 1 llm (offline provider); logs in {data_dir}", flush=True)
        print(table([]), flush=True)
        rows = asyncio.run(run(args, base_url, next(iter(layout.media_urls.values()))))
        print("\n" + table(rows))
    finally:
        if layout is not None:
            layout.stop()
        rd.stop()
        pg.stop()
        if not os.environ.get("IR_KEEP_BENCH_DATA"):
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
