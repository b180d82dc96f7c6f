"""Faults under load: a stack of its own (embedded PostgreSQL + Redis in a temp folder, the four parts as
processes), N aiortc peers speaking the fixtures, and one fault injected per round:

    .venv/bin/python -m loadtests.chaos --sessions 3 --seconds 40 --faults redis_kill,redis_restart,stt_kill,postgres_crash

Faults: ``redis_kill`` (SIGKILL, started again on the same port after --down seconds, as an
orchestrator would), ``redis_restart`` (SIGTERM, started again with its data), ``stt_kill``
(SIGKILL of the stt worker, started again after --down), ``postgres_crash`` (``pg_ctl -m immediate``,
started again after --down). Printed per fault: utterances spoken, captions stored (PostgreSQL) and
delivered live (data channel), duplicates (an utterance captioned twice, or an id twice), time from
the fault's end until every /health answers 200 again, and the worst end-of-speech -> caption latency
of utterances that ended during the fault or the recovery. Traffic only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
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
from loadtests.client import FIXTURES, RoomClient, Utterance, WavTrack

SCRIPT = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav", "q_url_shortener.wav", "q_weakness.wav"]
PARTS = ("signaling", "media", "stt", "llm")
FAULTS = ("redis_kill", "redis_restart", "stt_kill", "postgres_crash")


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
        ports = ("HTTP_PORT", "MEDIA_PORT", "STT_METRICS_PORT", "LLM_METRICS_PORT")
        return [f"http://127.0.0.1:{self.env[p]}/health" for p in ports]

    def start(self, part: str) -> None:
        log = open(self.folder / f"{part}.log", "ab")  # noqa: SIM115 - kept for the process' life
        env = {**os.environ, **self.env}
        cmd = [sys.executable, "-m", "interview_room.cli", part]
        self.procs[part] = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)

    def kill(self, part: str) -> None:
        p = self.procs.pop(part)
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


def boot(folder: Path) -> Stack:
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
        "HTTP_PORT": str(free_port()),
        "MEDIA_PORT": str(free_port()),
        "STT_METRICS_PORT": str(free_port()),
        "LLM_METRICS_PORT": str(free_port()),
        "ICE_HOSTS": "127.0.0.1",
        "ICE_SERVERS": "",
        "SECRET_KEY": "chaos-secret-key-not-for-production",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
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


async def inject(stack: Stack, fault: str, down: float) -> None:
    """The fault, and the restart an orchestrator would do after ``down`` seconds."""
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
    else:
        raise ValueError(fault)


def match(utts: list[Utterance], cap: dict[str, Any]) -> Utterance | None:
    best, best_ov = None, 0.0
    for u in utts:
        if u.t0 is None or u.t1 is None:
            continue
        ov = min(u.t1, cap["t1"]) - max(u.t0, cap["t0"])
        if ov > best_ov:
            best, best_ov = u, ov
    return best


@dataclass
class Peer:
    client: RoomClient
    track: WavTrack
    session_id: str


async def start_peer(url: str, seconds: float) -> Peer:
    c = RoomClient(url)
    await c.register(f"chaos-{uuid.uuid4().hex[:10]}@example.com", "chaos password 123", "Chaos")
    s = await c.create_session(title="chaos", mode="assistant", listen_language="en")
    track = WavTrack([FIXTURES / f for f in SCRIPT], gap=2.0, loop_seconds=seconds)
    await c.connect(s["id"], [("interviewer", track)])
    return Peer(c, track, s["id"])


async def round_(stack: Stack, fault: str, args: argparse.Namespace) -> dict[str, Any]:
    peers = await asyncio.gather(*(start_peer(stack.url, args.seconds) for _ in range(args.sessions)))
    try:
        await asyncio.sleep(args.before)
        fault_start = time.time()
        await inject(stack, fault, args.down)
        fault_end = time.time()
        recover = await wait_healthy(stack)
        recovered = fault_end + recover
        await asyncio.gather(*(p.client.wait_played(timeout=args.seconds * 3 + 120) for p in peers))
        await asyncio.sleep(args.settle)
        spoken = stored = live = dups = 0
        worst = 0.0
        conn = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            for p in peers:
                finals = [e for e in p.client.received if e.get("type") == "caption" and e.get("final")]
                ids = [e["id"] for e in finals]
                dups += len(ids) - len(set(ids))
                by_utt: dict[int, list[dict[str, Any]]] = {}
                for cap in finals:
                    u = match(p.track.utterances, cap)
                    if u is not None:
                        by_utt.setdefault(u.index, []).append(cap)
                spoken += len(p.track.utterances)
                live += len(by_utt)
                dups += sum(len(set(c["id"] for c in caps)) - 1 for caps in by_utt.values())
                sid = uuid.UUID(p.session_id)
                stored += await conn.fetchval("SELECT count(*) FROM captions WHERE session_id = $1", sid)
                for u in p.track.utterances:
                    caps = by_utt.get(u.index)
                    if caps and u.end_wall is not None and fault_start <= u.end_wall <= recovered + 10:
                        worst = max(worst, min(c["_rx"] for c in caps) - u.end_wall)
        finally:
            await conn.close()
        return {
            "fault": fault, "spoken": spoken, "stored": stored, "live": live, "dups": dups,
            "recover": recover, "worst": worst, "down": fault_end - fault_start,
        }  # fmt: skip
    finally:
        for p in peers:
            try:
                await p.client.end()
            except Exception:  # noqa: S110 - the figure is what matters; the session may be gone
                pass
            await p.client.close()


async def main_async(args: argparse.Namespace, stack: Stack) -> None:
    await wait_healthy(stack, timeout=600)
    rows = []
    for fault in args.faults.split(","):
        print(f"# {fault} ...", flush=True)
        rows.append(await round_(stack, fault, args))
        r = rows[-1]
        print(f"#   {r}", flush=True)
    print()
    print(f"{args.sessions} sessions, {args.seconds:.0f} s of speech each, fault after {args.before:.0f} s, "
          f"down {args.down:.0f} s")  # fmt: skip
    print(
        "| fault | utterances | stored | delivered live | duplicates | recovered (all /health 200) after | worst caption latency in fault+recovery |"
    )  # noqa: E501
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['fault']} | {r['spoken']} | {r['stored']} | {r['live']} | {r['dups']} | "
            f"{r['recover']:.1f} s | {r['worst']:.2f} s |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=40.0, help="speech per session and round")
    ap.add_argument("--before", type=float, default=12.0, help="seconds into the round the fault starts")
    ap.add_argument("--down", type=float, default=6.0, help="seconds before the orchestrator restarts it")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds after speech for the last captions")
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ir-chaos-"))
    stack = boot(folder)
    try:
        asyncio.run(main_async(args, stack))
    finally:
        stack.stop_all()
        if args.keep:
            print(f"logs in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
