"""Captions under load on the scaled-out layout: N media processes x M stt workers on 127.0.0.1.

    .venv/bin/python -m loadtests.cluster_bench --media 2 --stt 2 --peers 10,20 --seconds 30

Starts its own embedded PostgreSQL + Redis (unless --database-url / --redis-url), then signaling,
N media nodes, M stt workers and one llm worker as separate processes, exactly as a cluster runs them
(each registers in Redis; signaling places every session on the least-loaded node). For each load
level it drives the load client of loadtests/bench.py (aiortc peers speaking the fixtures in real
time) and prints:
  - sessions per media process (peak of each node's registry entry during the level),
  - captions per second per stt worker, and each worker's Whisper busy share,
  - end-of-speech -> caption latency p50/p95 (client clock), missing captions, peak stt stream lag,
  - CPU% of each kind of process (summed over its processes).
With --backlog K it first measures the stt workers alone: K real utterances (the fixtures, 16 kHz) are
put on stt:segments at once and the time until all are captioned gives captions/s for M workers; run it
with --stt 1 and --stt 2 to see what a worker adds.
Traffic stays on 127.0.0.1; every peer stops after --seconds; the processes stop at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from interview_room import bus, db
from interview_room.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from interview_room.messages import Segment
from loadtests import accounts
from loadtests.bench import SCRIPT, pct, run_peer
from loadtests.client import FIXTURES, decode_wav
from signaling.media_nodes import live_nodes


@dataclass
class Layout:
    """The processes of one on-machine cluster and where they listen."""

    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    media_urls: dict[str, str] = field(default_factory=dict)  # name -> url
    stt_urls: dict[str, str] = field(default_factory=dict)  # name -> http://127.0.0.1:port

    def start(self, part: str, name: str, **extra: str) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept for the process' life
        env = {**os.environ, **self.env, **extra}
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "interview_room.cli", part], env=env, stdout=log, stderr=log
        )

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 30
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()


def wait_http(url: str, layout: Layout, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, p in layout.procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}; see {layout.log_dir / (name + '.log')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(url)


def start_layout(args: argparse.Namespace, data_dir: Path, database_url: str, redis_url: str) -> Layout:
    http_port = free_port()
    layout = Layout(
        env={
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(http_port),
            "LLM_METRICS_PORT": str(free_port()),
            "ICE_HOSTS": "127.0.0.1",
            "ICE_SERVERS": "",
            "SECRET_KEY": "cluster-bench-secret-key",
            "OPENAI_API_KEY": "",
            "OPENAI_BASE_URL": "",
            "STT_THREADS": str(args.stt_threads),
            "LOG_LEVEL": "WARNING",
        },
        log_dir=data_dir,
    )
    layout.start("signaling", "signaling")
    for i in range(args.media):
        port = free_port()
        layout.start("media", f"media-{i + 1}", MEDIA_PORT=str(port), MEDIA_URL="")
        layout.media_urls[f"media-{i + 1}"] = f"http://127.0.0.1:{port}"
    for i in range(args.stt):
        port = free_port()
        layout.start("stt", f"stt-{i + 1}", STT_METRICS_PORT=str(port))
        layout.stt_urls[f"stt-{i + 1}"] = f"http://127.0.0.1:{port}"
    layout.start("llm", "llm")
    wait_http(f"http://127.0.0.1:{http_port}/health", layout)
    for url in [*layout.media_urls.values(), *layout.stt_urls.values()]:
        wait_http(f"{url}/health", layout)
    return layout


def scrape(url: str) -> dict[str, float]:
    """Sums of the samples of each metric name on /metrics (labels summed away)."""
    out: dict[str, float] = defaultdict(float)
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            out[name] += float(line.rsplit(" ", 1)[-1])
    return out


async def watch(redis_url: str, stop: asyncio.Event, peaks: dict[str, float]) -> None:
    """Peak sessions per media node (from the registry signaling places by) and peak stt lag."""
    r = bus.connect(redis_url)
    try:
        while not stop.is_set():
            for node in await live_nodes(r):
                peaks[node.url] = max(peaks.get(node.url, 0), node.sessions)
            lag = await bus.stream_lag(r, bus.STT_SEGMENTS, bus.STT_GROUP)
            peaks["lag"] = max(peaks.get("lag", 0), lag)
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
    finally:
        await r.aclose()


async def run_level(args: argparse.Namespace, layout: Layout, base_url: str, n: int) -> dict[str, Any]:
    procs = {name: psutil.Process(p.pid) for name, p in layout.procs.items()}
    for p in procs.values():
        p.cpu_percent(None)
    before = {name: scrape(url) for name, url in layout.stt_urls.items()}
    peaks: dict[str, float] = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(layout.env["REDIS_URL"], stop, peaks))
    t0 = time.monotonic()
    db_url = layout.env["DATABASE_URL"]
    results = await asyncio.gather(
        *(run_peer(base_url, args.seconds, i * 0.37, args.hangover, db_url) for i in range(n))
    )
    elapsed = time.monotonic() - t0
    stop.set()
    await watcher
    cpu: dict[str, float] = defaultdict(float)
    for name, p in procs.items():
        cpu[name.split("-")[0]] += p.cpu_percent(None)
    after = {name: scrape(url) for name, url in layout.stt_urls.items()}
    per_stt = {}
    for name in layout.stt_urls:
        caps = after[name]["ir_captions_total"] - before[name]["ir_captions_total"]
        busy = after[name]["ir_stt_seconds_sum"] - before[name]["ir_stt_seconds_sum"]
        calls = after[name]["ir_stt_seconds_count"] - before[name]["ir_stt_seconds_count"]
        per_stt[name] = (caps / elapsed, busy / elapsed, busy / calls if calls else float("nan"))
    lat = [x for r in results for x in r.latencies]
    return {
        "n": n,
        "elapsed": elapsed,
        "sessions": [int(peaks.get(url, 0)) for url in layout.media_urls.values()],
        "per_stt": per_stt,
        "captions": len(lat),
        "missing": sum(r.missing for r in results),
        "p50": pct(lat, 0.5),
        "p95": pct(lat, 0.95),
        "lag": int(peaks.get("lag", 0)),
        "cpu": dict(cpu),
        "stalls": sum(r.stalls for r in results),
        "errors": sorted({r.error for r in results if r.error}),
    }


async def backlog(layout: Layout, base_url: str, k: int, timeout: float = 600) -> dict[str, Any]:
    """K utterances queued at once; seconds until every one is captioned (or rejected)."""
    async with aiohttp.ClientSession() as http:
        email = f"backlog-{time.time_ns()}@example.com"
        async with http.post(
            f"{base_url}/api/auth/register", json={"email": email, "password": "bench password 123", "name": "B"}
        ) as r:
            reg = await r.json()
        token = reg["token"]
        await accounts.verify(reg["user"]["id"], layout.env["DATABASE_URL"])
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(f"{base_url}/api/sessions", json={"title": "backlog"}, headers=headers) as r:
            sid = (await r.json())["id"]
    pcms = [decode_wav(FIXTURES / f, 16000).tobytes() for f in SCRIPT]
    before = {name: scrape(url) for name, url in layout.stt_urls.items()}

    def done() -> float:
        now = {name: scrape(url) for name, url in layout.stt_urls.items()}
        return sum(
            now[n]["ir_captions_total"] + now[n]["ir_segments_rejected_total"]
            - before[n]["ir_captions_total"] - before[n]["ir_segments_rejected_total"]
            for n in now
        )  # fmt: skip

    r = bus.connect(layout.env["REDIS_URL"])
    try:
        t0 = time.monotonic()
        for i in range(k):
            pcm = pcms[i % len(pcms)]
            seg = Segment(session_id=sid, role="interviewer", seq=i + 1, t0=5.0 * i, t1=5.0 * i + len(pcm) / 32000,
                          pcm=pcm, lang="en", end_wall=time.time())  # fmt: skip
            await r.xadd(bus.STT_SEGMENTS, seg.to_fields())  # type: ignore[arg-type]
        while done() < k and time.monotonic() - t0 < timeout:
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - t0
    finally:
        await r.aclose()
    after = {name: scrape(url) for name, url in layout.stt_urls.items()}
    per = {n: (after[n]["ir_captions_total"] - before[n]["ir_captions_total"]) for n in after}
    return {"elapsed": elapsed, "done": done(), "per_worker": per}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--media", type=int, default=2, help="media processes")
    ap.add_argument("--stt", type=int, default=2, help="stt workers")
    ap.add_argument("--stt-threads", type=int, default=1, help="Whisper threads per stt worker")
    ap.add_argument("--peers", default="10,20", help="comma-separated load levels (concurrent sessions); '' for none")
    ap.add_argument("--backlog", type=int, default=0, help="first queue this many utterances at once (stt alone)")
    ap.add_argument("--seconds", type=float, default=30.0, help="speech per peer (bounded)")
    ap.add_argument("--hangover", default="balanced", choices=("short", "balanced", "long"))
    ap.add_argument("--database-url", default="")
    ap.add_argument("--redis-url", default="")
    args = ap.parse_args()
    levels = [int(x) for x in args.peers.split(",") if x.strip()]

    data_dir = Path(tempfile.mkdtemp(prefix="ir-cluster-bench-"))
    pg = None if args.database_url else EmbeddedPostgres(data_dir / "postgres")
    rd = None if args.redis_url else EmbeddedRedis(data_dir / "redis")
    layout: Layout | None = None
    try:
        database_url = args.database_url or pg.start()  # type: ignore[union-attr]
        redis_url = args.redis_url or rd.start()  # type: ignore[union-attr]
        asyncio.run(db.migrate(database_url))
        layout = start_layout(args, data_dir, database_url, redis_url)
        base_url = f"http://127.0.0.1:{layout.env['HTTP_PORT']}"
        print(f"layout: {args.media} media x {args.stt} stt (threads {args.stt_threads}) x 1 llm; "
              f"{os.cpu_count()} cores; {args.seconds:.0f} s of speech per peer", flush=True)  # fmt: skip
        stt_names = list(layout.stt_urls)
        if args.backlog:
            b = asyncio.run(backlog(layout, base_url, args.backlog))
            per = " / ".join(f"{b['per_worker'][s]:.0f}" for s in stt_names)
            print(f"backlog: {args.stt} stt worker(s) x {args.stt_threads} thread(s): {b['done']:.0f} of {args.backlog} "
                  f"utterances in {b['elapsed']:.1f} s = {b['done'] / b['elapsed']:.2f} captions/s "
                  f"(captions per worker {per})\n", flush=True)  # fmt: skip
        if not levels:
            return
        print(
            "| N | sessions per media process | captions/s per stt worker | Whisper busy per worker "
            "| Whisper s/call | captions | missing | p50 s | p95 s | peak stt lag | CPU% signaling/media/stt/llm "
            "| stalls | errors |"
        )
        print("| --- " * 13 + "|")
        for n in levels:
            r = asyncio.run(run_level(args, layout, base_url, n))
            caps = " / ".join(f"{r['per_stt'][s][0]:.2f}" for s in stt_names)
            busy = " / ".join(f"{100 * r['per_stt'][s][1]:.0f}%" for s in stt_names)
            call = " / ".join(f"{r['per_stt'][s][2]:.2f}" for s in stt_names)
            cpu = "/".join(f"{r['cpu'].get(k, 0):.0f}" for k in ("signaling", "media", "stt", "llm"))
            errs = "; ".join(r["errors"])[:120] or "-"
            print(
                f"| {n} | {' / '.join(map(str, r['sessions']))} | {caps} | {busy} | {call} | {r['captions']} "
                f"| {r['missing']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['lag']} | {cpu} | {r['stalls']} | {errs} |",
                flush=True,
            )
            if n != levels[-1]:
                time.sleep(8)  # let the queues drain and sessions end between levels
    finally:
        if layout is not None:
            layout.stop()
        if rd is not None:
            rd.stop()
        if pg is not None:
            pg.stop()
        if not os.environ.get("IR_KEEP_BENCH_DATA"):
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
