"""`make run` on a fresh clone, timed: clone → URL printed → every part healthy → first caption in a room.

    python3 -m loadtests.fresh_run [--repo PATH] [--keep]

Clones ``--repo`` (default: this checkout) into a temporary folder, runs ``make run`` there in its own process
group with free ports and ``PIP_NO_CACHE_DIR=1`` (every wheel downloaded again, as on a new machine), waits for
the printed URL and for /health of signaling, media and stt, then registers, starts an assistant room and speaks
one fixture question with the clone's own client until its first final caption. Ctrl-C (SIGINT to the group)
stops the stack; a second ``make run`` on the same clone is timed the same way (warm: venv and data exist).
Prints seconds since the clone started; results go to docs/benchmarks.md ("Fresh machine").
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CAPTION_SCRIPT = """
import asyncio, sys, time, uuid
from loadtests.client import FIXTURES, RoomClient, WavTrack

async def main(base):
    async with RoomClient(base) as c:
        await c.register(f"fresh-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "Fresh")
        s = await c.create_session(title="first caption", mode="assistant")
        await c.connect(s["id"], [("interviewer", WavTrack([FIXTURES / "q_why_company.wav"], lead_silence=0.3))])
        ev = await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=180)
        print(ev["text"], flush=True)
        await c.end()

asyncio.run(main(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def one_run(clone: Path, t0: float, label: str) -> None:
    http = free_port()
    env = {
        **os.environ,
        "HTTP_PORT": str(http),
        "MEDIA_PORT": str(free_port()),
        "STT_METRICS_PORT": str(free_port()),
        "LLM_METRICS_PORT": str(free_port()),
        "ICE_HOSTS": "127.0.0.1",
        "PIP_NO_CACHE_DIR": "1",
    }
    log = clone / f"make-run-{label}.log"
    with open(log, "wb") as out:
        p = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)  # fmt: skip
    try:
        while b"Interview room is running" not in log.read_bytes():
            if p.poll() is not None:
                sys.exit(f"make run exited with {p.returncode}: see {log}")
            time.sleep(0.1)
        print(f"{label}: URL printed        {time.monotonic() - t0:6.1f} s", flush=True)
        ports = (env["HTTP_PORT"], env["MEDIA_PORT"], env["STT_METRICS_PORT"])
        while not all(healthy(f"http://127.0.0.1:{port}/health") for port in ports):
            time.sleep(0.1)
        print(f"{label}: every part healthy {time.monotonic() - t0:6.1f} s", flush=True)
        text = subprocess.run(
            [str(clone / ".venv" / "bin" / "python"), "-c", CAPTION_SCRIPT, f"http://127.0.0.1:{http}"],
            cwd=clone, env={**env, "PYTHONPATH": str(clone)}, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        print(f"{label}: first caption      {time.monotonic() - t0:6.1f} s  ({text!r})", flush=True)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)  # Ctrl-C
            try:
                p.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent))
    ap.add_argument("--keep", action="store_true", help="keep the clone")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fresh-run-"))
    clone = work / "interview-room"
    try:
        t0 = time.monotonic()
        subprocess.run(["git", "clone", "-q", args.repo, str(clone)], check=True)
        print(f"cold: cloned             {time.monotonic() - t0:6.1f} s", flush=True)
        one_run(clone, t0, "cold")
        one_run(clone, time.monotonic(), "warm")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
