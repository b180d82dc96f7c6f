"""Faults under load: a stack of its own (embedded PostgreSQL + Redis in a temp folder, the parts as
processes: signaling, two media nodes, one stt worker, one llm worker talking to a local fake model),
N aiortc peers speaking the fixtures, and one fault injected per round:

    .venv/bin/python -m loadtests.chaos --sessions 10 --faults none,redis_kill,redis_restart,stt_kill,postgres_crash,media_kill,model_hang

Faults: ``none`` (the load alone: a baseline), ``redis_kill`` (SIGKILL, started again on the same port
after --down seconds, as an orchestrator would), ``redis_restart`` (SIGTERM, started again with its
data), ``stt_kill`` (SIGKILL of the stt worker, started again after --down), ``postgres_crash``
(``pg_ctl -m immediate``, started again after --down), ``media_kill`` (SIGKILL of the media node that
holds the most sessions; started again after --down on a new port, as a rescheduled pod gets a new
address; its clients notice the dead connection as a browser does and re-offer, see ``Watchdog``),
``model_hang`` (the fake OpenAI-wire model stops answering for --hang seconds: no bytes, no error).

Printed per fault: utterances expected (spoken to a live node), captions stored (PostgreSQL) and
delivered live (data channel), utterances without a stored caption (lost), duplicates (an utterance
captioned twice, live or stored, or an id twice), time from the fault's end until every /health
answers 200 again, the worst end-of-speech -> caption latency of utterances that ended during the
fault or the recovery, and the answers: questions detected, answers delivered live, answers from the
offline fallback, the worst question -> answer latency in fault+recovery, and ``ai_circuit_open``
notices. Traffic only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from interview_room import db
from interview_room.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from interview_room.store import recording_parts
from loadtests import accounts
from loadtests.client import FIXTURES, ApiError, RoomClient, Utterance, WavTrack
from tests.fake_openai import FakeOpenAI, Reply, model_responder

SCRIPT = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav", "q_url_shortener.wav", "q_weakness.wav"]
PARTS = ("signaling", "media", "media2", "stt", "llm")
MEDIA = ("media", "media2")
PORTS = {"signaling": "HTTP_PORT", "media": "MEDIA_PORT", "media2": "MEDIA2_PORT", "stt": "STT_METRICS_PORT",
         "llm": "LLM_METRICS_PORT"}  # fmt: skip
FAULTS = ("none", "redis_kill", "redis_restart", "stt_kill", "postgres_crash", "media_kill", "model_hang")
MODEL_PREFIX = "My answer to:"  # how the fake model's answers start (the offline provider's do not)
PASSWORD = "chaos password 123"
# the llm worker's model settings for the benchmark (defaults: 20 s timeout, 2 retries, breaker open 30 s)
LLM_ENV = {"LLM_TIMEOUT_S": "5", "LLM_MAX_RETRIES": "0", "LLM_BREAKER_FAILURES": "3", "LLM_BREAKER_OPEN_S": "10"}


@dataclass
class Stack:
    folder: Path
    pg: EmbeddedPostgres
    redis: EmbeddedRedis
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['HTTP_PORT']}"

    @property
    def health(self) -> list[str]:
        return [f"http://127.0.0.1:{self.env[PORTS[p]]}/health" for p in PARTS]

    def media_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.env[PORTS[name]]}"

    def start(self, name: str) -> None:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - kept for the process' life
        env = {**os.environ, **self.env}
        part = "media" if name in MEDIA else name
        if name in MEDIA:
            env["MEDIA_PORT"] = self.env[PORTS[name]]
        cmd = [sys.executable, "-m", "interview_room.cli", part]
        self.procs[name] = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)

    def kill(self, name: str) -> None:
        p = self.procs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait(10)

    def stop_all(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.redis.stop()
        self.pg.stop()


def health_codes(stack: Stack) -> list[int]:
    codes = []
    for url in stack.health:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                codes.append(r.status)
        except urllib.error.HTTPError as e:
            codes.append(e.code)
        except OSError:
            codes.append(0)
    return codes


async def wait_healthy(stack: Stack, timeout: float = 300) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        codes = await asyncio.to_thread(health_codes, stack)
        if all(c == 200 for c in codes):
            return time.monotonic() - t0
        await asyncio.sleep(0.25)
    raise TimeoutError(f"not healthy after {timeout} s")


def boot(folder: Path, model_url: str) -> Stack:
    pg = EmbeddedPostgres(folder / "postgres")
    rd = EmbeddedRedis(folder / "redis")
    url = pg.start()
    rurl = rd.start()
    asyncio.run(db.migrate(url))
    env = {
        "DATA_DIR": str(folder),
        "DATABASE_URL": url,
        "REDIS_URL": rurl,
        "HTTP_HOST": "127.0.0.1",
        **{port: str(free_port()) for port in PORTS.values()},
        "MEDIA_URL": "",  # each node registers http://127.0.0.1:<its MEDIA_PORT>
        "ICE_HOSTS": "127.0.0.1",
        "ICE_SERVERS": "",
        "SECRET_KEY": "chaos-secret-key-not-for-production",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": model_url,
        "LLM_PROVIDER": "openai",
        **LLM_ENV,
        "STRIPE_API_KEY": "",
        "REGISTER_PER_IP_HOUR": "0",
        "STT_CLAIM_IDLE_MS": "3000",
        "LOG_LEVEL": "INFO",
    }
    s = Stack(folder, pg, rd, env)
    for part in PARTS:
        s.start(part)
    return s


def pg_crash(stack: Stack) -> None:
    pgdata = stack.pg.folder / "pgdata"
    stack.pg._run([stack.pg._bin("pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"], timeout=60)


class Model:
    """The fake model: answers as a model would, or hangs (accepts the request, never answers)."""

    def __init__(self) -> None:
        self.hanging = False
        answer = model_responder(token_delay=0.01)
        self.fake = FakeOpenAI(lambda body: Reply(hang=True) if self.hanging else answer(body))


async def inject(stack: Stack, model: Model, fault: str, args: argparse.Namespace, peers: list[Peer]) -> None:
    """The fault, and the restart an orchestrator would do after ``args.down`` seconds."""
    down = args.down
    if fault == "none":
        return
    if fault == "redis_kill":
        assert stack.redis.proc is not None
        stack.redis.proc.send_signal(signal.SIGKILL)
        stack.redis.proc.wait(10)
        await asyncio.sleep(down)
        stack.redis.start()
    elif fault == "redis_restart":
        stack.redis.stop()
        await asyncio.sleep(down)
        stack.redis.start()
    elif fault == "stt_kill":
        stack.kill("stt")
        await asyncio.sleep(down)
        stack.start("stt")
    elif fault == "postgres_crash":
        await asyncio.to_thread(pg_crash, stack)
        await asyncio.sleep(down)
        await asyncio.to_thread(stack.pg.start)
    elif fault == "media_kill":
        held = {name: sum(p.node == stack.media_url(name) for p in peers) for name in MEDIA}
        victim = max(MEDIA, key=lambda n: held[n])
        if not held[victim]:
            raise RuntimeError(f"no session on a known media node: {[p.node for p in peers]}")
        dead_url = stack.media_url(victim)
        for p in peers:
            p.doomed = p.node == dead_url
        stack.kill(victim)
        await asyncio.sleep(down)
        stack.env[PORTS[victim]] = str(free_port())  # a rescheduled pod comes back at a new address
        stack.start(victim)
    elif fault == "model_hang":
        model.hanging = True
        await asyncio.sleep(args.hang)
        model.hanging = False
    else:
        raise ValueError(fault)


@dataclass
class Leg:
    """One peer connection of a session: its client and what it played."""

    client: RoomClient
    track: WavTrack
    cut_wall: float | None = None  # the node died at this time: what ended later never reached a live node


@dataclass
class Peer:
    session_id: str
    token: str
    node: str
    legs: list[Leg]
    doomed: bool = False  # on the media node that is killed this round
    reconnect_after: float | None = None  # seconds from the kill until connected again

    @property
    def client(self) -> RoomClient:
        return self.legs[-1].client


def new_track(seconds: float) -> WavTrack:
    return WavTrack([FIXTURES / f for f in SCRIPT], gap=2.0, loop_seconds=seconds)


async def node_of(stack: Stack, session_id: str) -> str:
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        return str(await conn.fetchval("SELECT media_node FROM sessions WHERE id = $1", uuid.UUID(session_id)))
    finally:
        await conn.close()


async def retried(what: str, call: Any, errors: list[str], attempts: int = 5) -> Any:
    """What a user does on a 5xx "please try again": try again a second later. Each 5xx is counted."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except ApiError as e:
            if e.status < 500 or attempt == attempts:
                raise
            errors.append(f"{what}: {e.status} {e.code}")
            await asyncio.sleep(1.0)


async def start_peer(stack: Stack, seconds: float, errors: list[str]) -> Peer:
    c = RoomClient(stack.url)
    email = f"chaos-{uuid.uuid4().hex[:10]}@example.com"
    tried: list[bool] = []

    async def register() -> dict[str, Any]:
        try:  # a 5xx may come after the account was made: then it is there to sign in to
            return await (c.login(email, PASSWORD) if tried else c.register(email, PASSWORD, "Chaos"))
        except ApiError as e:
            tried.append(e.status >= 500)
            raise

    reg = await retried("register", register, errors)
    await accounts.verify(str(reg["user"]["id"]), stack.env["DATABASE_URL"])
    s = await retried("create session", lambda: c.create_session(title="chaos", mode="assistant"), errors)
    await c.close()

    async def connect() -> tuple[RoomClient, WavTrack]:
        client, track = RoomClient(stack.url, c.token), new_track(seconds)
        try:
            await client.connect(s["id"], [("interviewer", track)])
        except BaseException:
            await client.close()
            raise
        return client, track

    client, track = await retried("offer", connect, errors)
    return Peer(s["id"], str(c.token), await node_of(stack, s["id"]), [Leg(client, track)])


class Watchdog:
    """What the web client (web_client/js/room.js) does on a dead connection, for one session.

    A browser's peer connection turns "disconnected" ~5 s after the remote stops answering ICE
    consent checks; room.js waits 6 s more, then re-offers the same session (after 1 s, 2 s, ...).
    aiortc has no "disconnected" state and declares "failed" only after ~30 s, so the node's liveness is
    probed with the data channel's ping (answered by the node itself): no pong for ``quiet`` s is
    "disconnected". The re-offered connection plays the rest of the round's speech on a new track.
    """

    def __init__(self, stack: Stack, peer: Peer, round_end: float, quiet: float = 5.0, grace: float = 6.0) -> None:
        self.stack, self.peer, self.round_end = stack, peer, round_end
        self.quiet, self.grace = quiet, grace
        self.ids = itertools.count()

    def last_pong(self, since: float) -> float:
        return max((e["_rx"] for e in self.peer.client.received if e.get("type") == "pong"), default=since)

    async def run(self, kill_wall: list[float]) -> None:
        started = time.time()
        while time.time() < self.round_end:
            c = self.peer.client
            with contextlib.suppress(RuntimeError):  # the channel is closed: the pings just go unanswered
                await c.send({"type": "ping", "id": f"w{next(self.ids)}"})
            await asyncio.sleep(2.0)
            last = self.last_pong(started)
            failed = c.pc is not None and c.pc.connectionState in ("failed", "closed")  # room.js: at once
            if failed or time.time() - last >= self.quiet + self.grace:
                # a session on the killed node lost its connection then; any other one at its last pong
                await self.reconnect(kill_wall[0] if self.peer.doomed and kill_wall else last)
                started = time.time()

    async def reconnect(self, kill_wall: float) -> None:
        old = self.peer.legs[-1]
        old.cut_wall = kill_wall
        await old.client.close()
        for attempt in itertools.count(1):
            await asyncio.sleep(min(attempt, 5))
            c = RoomClient(self.stack.url, self.peer.token)
            track = new_track(max(10.0, self.round_end - time.time()))
            try:
                await c.connect(self.peer.session_id, [("interviewer", track)])
            except Exception as e:  # noqa: BLE001 - what room.js does: try again
                print(f"#   re-offer {self.peer.session_id[:8]} attempt {attempt}: {e!r}", flush=True)
                await c.close()
                if attempt >= 6:
                    raise
                continue
            self.peer.legs.append(Leg(c, track))
            self.peer.reconnect_after = time.time() - kill_wall
            self.peer.node = await node_of(self.stack, self.peer.session_id)
            if not self.peer.doomed:
                print(f"#   {self.peer.session_id[:8]} re-offered without its node dying (no pong)", flush=True)
            return


def match(utts: list[Utterance], t0: float, t1: float) -> Utterance | None:
    """The utterance a caption overlaps most, both on the wall clock."""
    best, best_ov = None, 0.0
    for u in utts:
        if u.start_wall is None or u.end_wall is None:
            continue
        ov = min(u.end_wall, t1) - max(u.start_wall, t0)
        if ov > best_ov:
            best, best_ov = u, ov
    return best


@dataclass
class Counted:
    expected: int = 0
    dead: int = 0  # spoken to a dead node (the connection had not been re-offered yet)
    stored: int = 0
    live: int = 0
    lost: int = 0
    dups: int = 0
    worst: float = 0.0
    questions: int = 0
    answers_live: int = 0
    answers_offline: int = 0
    answers_model: int = 0
    worst_answer: float = 0.0
    circuit_notices: int = 0
    timeout_notices: int = 0
    first_model_after: float | None = None
    lost_detail: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # every expected utterance's, the whole round


async def count_session(conn: asyncpg.Connection, p: Peer, t: Counted, window: tuple[float, float]) -> None:
    sid = uuid.UUID(p.session_id)
    first = p.legs[0].track
    origin = await recording_parts.media_origin(conn, sid)
    if origin is None:  # no recording: the first track's first frame is the session's t = 0
        origin = first.started_wall or 0.0
    # every utterance with its wall times; those after a leg's cut went to a dead node
    utts: list[Utterance] = []
    expected: set[int] = set()
    for leg in p.legs:
        for u in leg.track.utterances:
            if u.start_wall is None:
                continue
            u = Utterance(len(utts), u.path, u.duration, t0=u.t0, t1=u.t1, start_wall=u.start_wall,
                          end_wall=u.end_wall)  # fmt: skip
            utts.append(u)
            if u.end_wall is not None and (leg.cut_wall is None or u.end_wall < leg.cut_wall):
                expected.add(u.index)
            else:
                t.dead += 1
    t.expected += len(expected)
    received = [e for leg in p.legs for e in leg.client.received]
    finals = [e for e in received if e.get("type") == "caption" and e.get("final")]
    for leg in p.legs:
        ids = [e["id"] for e in leg.client.received if e.get("type") == "caption" and e.get("final")]
        t.dups += len(ids) - len(set(ids))  # the same caption delivered twice on one connection
    live: dict[int, dict[str, float]] = {}  # utterance -> caption id -> first receipt
    for cap in finals:
        u = match(utts, origin + cap["t0"], origin + cap["t1"])
        if u is not None:
            ids = live.setdefault(u.index, {})
            ids[cap["id"]] = min(ids.get(cap["id"], cap["_rx"]), cap["_rx"])
    t.live += sum(1 for i in live if i in expected)
    t.dups += sum(len(ids) - 1 for ids in live.values())
    rows = await conn.fetch("SELECT id, t0, t1 FROM captions WHERE session_id = $1", sid)
    t.stored += len(rows)
    stored: dict[int, list[str]] = {}
    for r in rows:
        u = match(utts, origin + r["t0"], origin + r["t1"])
        stored.setdefault(u.index if u else -1, []).append(r["id"])
    t.dups += sum(len(ids) - 1 for i, ids in stored.items() if i >= 0)
    for i in sorted(expected - set(stored)):
        t.lost += 1
        u = utts[i]
        cut = next((leg.cut_wall for leg in p.legs if leg.cut_wall), None)
        rel = f", ended {cut - u.end_wall:.1f} s before the node died" if cut and u.end_wall else ""
        t.lost_detail.append(f"{p.session_id[:8]} {Path(u.path).name}{rel}")
    for i, ids in live.items():
        u = utts[i]
        if i in expected and u.end_wall is not None:
            t.latencies.append(min(ids.values()) - u.end_wall)
        if u.end_wall is not None and window[0] <= u.end_wall <= window[1]:
            t.worst = max(t.worst, min(ids.values()) - u.end_wall)
    # answers: every detected question gets one, live, from the model or (model out) the offline provider
    questions = {e["id"]: e["_rx"] for e in received if e.get("type") == "question"}
    done = {e["question_id"]: e for e in received if e.get("type") == "answer.done"}
    t.questions += await conn.fetchval("SELECT count(*) FROM questions WHERE session_id = $1", sid)
    providers = await conn.fetch("SELECT provider FROM answers WHERE session_id = $1", sid)
    t.answers_offline += sum(1 for r in providers if r["provider"] == "offline")
    t.answers_model += sum(1 for r in providers if r["provider"] != "offline")
    t.answers_live += len(set(done) & set(questions))
    for qid, asked in questions.items():
        d = done.get(qid)
        if window[0] <= asked <= window[1]:
            t.worst_answer = max(t.worst_answer, (d["_rx"] if d else time.time()) - asked)
        if d and d["text"].startswith(MODEL_PREFIX) and d["_rx"] > window[2]:
            after = d["_rx"] - window[2]
            t.first_model_after = after if t.first_model_after is None else min(t.first_model_after, after)
    notices = [e.get("code") for e in received if e.get("type") == "notice"]
    t.circuit_notices += notices.count("ai_circuit_open")
    t.timeout_notices += notices.count("ai_timeout")


SETTLE_ON = ("caption", "question", "answer.delta", "answer.done")  # not the periodic credits or pongs


async def settle(peers: list[Peer], quiet: float, cap: float) -> None:
    """Wait for the last captions: until ``quiet`` s pass without a new one (at most ``cap`` s)."""
    t0 = time.monotonic()
    last_n, last_t = -1, time.monotonic()
    while time.monotonic() - t0 < cap:
        n = sum(1 for p in peers for leg in p.legs for e in leg.client.received if e.get("type") in SETTLE_ON)
        if n != last_n:
            last_n, last_t = n, time.monotonic()
        elif time.monotonic() - last_t >= quiet:
            return
        await asyncio.sleep(0.5)


def round_seconds(fault: str, args: argparse.Namespace) -> float:
    if fault == "model_hang":  # long enough for the breaker to close again after the hang
        return max(args.seconds, args.before + args.hang + float(LLM_ENV["LLM_BREAKER_OPEN_S"]) + 15)
    if fault == "media_kill":  # time to notice the dead node, re-offer, and speak on the new one
        return max(args.seconds, args.before + 35)
    return args.seconds


async def round_(stack: Stack, model: Model, fault: str, args: argparse.Namespace) -> dict[str, Any]:
    seconds = round_seconds(fault, args)
    errors: list[str] = []
    peers = list(await asyncio.gather(*(start_peer(stack, seconds, errors) for _ in range(args.sessions))))
    round_end = time.time() + seconds
    kill_wall: list[float] = []
    dogs = []
    if fault == "media_kill":
        dogs = [asyncio.create_task(Watchdog(stack, p, round_end).run(kill_wall)) for p in peers]
    try:
        await asyncio.sleep(args.before)
        fault_start = time.time()
        kill_wall.append(fault_start)
        await inject(stack, model, fault, args, peers)
        fault_end = time.time()
        recover = await wait_healthy(stack)
        recovered = fault_end + recover
        while time.time() < round_end + 1:
            await asyncio.sleep(0.5)
        for d in dogs:
            if d.done() and not d.cancelled() and d.exception():
                raise d.exception()  # type: ignore[misc]
            d.cancel()
        await asyncio.gather(*dogs, return_exceptions=True)
        await asyncio.gather(*(p.client.wait_played(timeout=seconds * 3 + 120) for p in peers))
        await settle(peers, args.settle, args.settle_cap)
        t = Counted()
        conn = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            for p in peers:
                await count_session(conn, p, t, (fault_start, recovered + 10, fault_end))
        finally:
            await conn.close()
        moved = [p for p in peers if p.doomed]
        return {
            "fault": fault, "t": t, "recover": recover, "down": fault_end - fault_start, "moved": len(moved),
            "reconnect": max((p.reconnect_after or 0.0 for p in moved), default=0.0),
            "landed": sorted({p.node for p in moved}), "errors": errors,
        }  # fmt: skip
    finally:
        for d in dogs:
            d.cancel()
        for p in peers:
            with contextlib.suppress(Exception):  # the figure is what matters; the session may be gone
                await p.client.end()
            for leg in p.legs:
                await leg.client.close()


HEADER = (
    "| fault | utterances | stored | delivered live | lost | duplicates | recovered (all /health 200) after "
    "| worst caption latency in fault+recovery | questions / answers live / offline | worst answer latency |"
)


def row(r: dict[str, Any]) -> str:
    t: Counted = r["t"]
    return (
        f"| {r['fault']} | {t.expected} | {t.stored} | {t.live} | {t.lost} | {t.dups} | {r['recover']:.1f} s | "
        f"{t.worst:.2f} s | {t.questions} / {t.answers_live} / {t.answers_offline} | {t.worst_answer:.1f} s |"
    )


def notes(r: dict[str, Any]) -> str:
    t: Counted = r["t"]
    lat = sorted(t.latencies) or [0.0]
    out = [f"fault lasted {r['down']:.1f} s; caption latency over the whole round p50 {lat[len(lat) // 2]:.2f} s, "
           f"max {lat[-1]:.2f} s"]  # fmt: skip
    if t.dead:
        out.append(f"{t.dead} utterances spoken to the dead node before the re-offer (not expected)")
    if r["fault"] == "media_kill":
        out.append(f"{r['moved']} sessions re-offered, connected again {r['reconnect']:.1f} s after the kill "
                   f"(on {', '.join(r['landed'])})")  # fmt: skip
    if t.circuit_notices or t.timeout_notices or r["fault"] == "model_hang":
        first = f"{t.first_model_after:.1f} s" if t.first_model_after is not None else "never in the round"
        out.append(f"notices ai_circuit_open {t.circuit_notices}, ai_timeout {t.timeout_notices}; "
                   f"the model's answers again {first} after the hang; answers model/offline "
                   f"{t.answers_model}/{t.answers_offline}")  # fmt: skip
    if t.lost_detail:
        out.append("lost: " + "; ".join(t.lost_detail))
    if r["errors"]:
        out.append(f"{len(r['errors'])} 5xx answers when the round's sessions started (tried again): "
                   + "; ".join(sorted(set(r["errors"]))))  # fmt: skip
    return f"- {r['fault']}: " + "; ".join(out)


async def main_async(args: argparse.Namespace, stack: Stack, model: Model) -> None:
    await wait_healthy(stack, timeout=600)
    rows = []
    for fault in args.faults.split(","):
        print(f"# {fault} ...", flush=True)
        rows.append(await round_(stack, model, fault, args))
        print("#   " + row(rows[-1]), flush=True)
        print("#   " + notes(rows[-1]), flush=True)
        await asyncio.sleep(3)  # the ended sessions leave their nodes
    print()
    print(f"{args.sessions} sessions, {args.seconds:.0f} s of speech each, fault after {args.before:.0f} s, "
          f"down {args.down:.0f} s, model hang {args.hang:.0f} s; llm {LLM_ENV}")  # fmt: skip
    print(HEADER)
    print("| --- " * HEADER.count(" | ") + "| --- |")
    for r in rows:
        print(row(r))
    print()
    for r in rows:
        print(notes(r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=40.0, help="speech per session and round")
    ap.add_argument("--before", type=float, default=12.0, help="seconds into the round the fault starts")
    ap.add_argument("--down", type=float, default=6.0, help="seconds before the orchestrator restarts it")
    ap.add_argument("--hang", type=float, default=25.0, help="seconds the model hangs (model_hang)")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds without a new event that end a round")
    ap.add_argument("--settle-cap", type=float, default=180.0, help="at most this long for the last captions")
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = ap.parse_args()
    for f in args.faults.split(","):
        if f not in FAULTS:
            ap.error(f"unknown fault {f!r}; one of {', '.join(FAULTS)}")
    folder = Path(tempfile.mkdtemp(prefix="ir-chaos-"))
    model = Model()
    model_port = free_port()
    stack = boot(folder, f"http://127.0.0.1:{model_port}/v1")

    async def run() -> None:
        await model.fake.start(model_port)
        try:
            await main_async(args, stack, model)
        finally:
            await model.fake.close()

    try:
        asyncio.run(run())
    finally:
        stack.stop_all()
        if args.keep:
            print(f"logs in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
