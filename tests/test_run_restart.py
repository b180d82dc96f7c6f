"""`make run`, Ctrl-C, `make run` again: the same data and the same generated SECRET_KEY.

Runs ``python -m interview_room.cli run`` (what ``make run`` starts) in its own process group with a fresh
DATA_DIR, no DATABASE_URL/REDIS_URL (the embedded servers) and no SECRET_KEY (generated into DATA_DIR); Ctrl-C
is SIGINT to the whole group, as a terminal sends it. After the second start a login token and a candidate link
issued before the restart still work, and the same user signs in with the same password.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from interview_room.embedded import free_port
from loadtests.client import ApiError, RoomClient

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def _env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")}
    env.update(
        DATA_DIR=str(data_dir),
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(ports["http"]),
        MEDIA_PORT=str(ports["media"]),
        STT_METRICS_PORT=str(ports["stt"]),
        LLM_METRICS_PORT=str(ports["llm"]),
        ICE_HOSTS="127.0.0.1",
        ICE_SERVERS="",
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
        STRIPE_API_KEY="",
        STT_PRELOAD="none",  # no caption is needed here: do not spend the cores on a model
        LOG_LEVEL="INFO",
    )
    return env


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def running(data_dir: Path, ports: dict[str, int], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`interview-room run` until Ctrl-C; yields once the web server and the media node answer /health."""
    with open(log, "ab") as out:
        p = subprocess.Popen(
            [sys.executable, "-m", "interview_room.cli", "run"],
            env=_env(data_dir, ports),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
    try:
        deadline = time.monotonic() + 180
        urls = [f"http://127.0.0.1:{ports['http']}/health", f"http://127.0.0.1:{ports['media']}/health"]
        while not all(_healthy(u) for u in urls):
            if p.poll() is not None:
                raise RuntimeError(f"run exited with {p.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(log.read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield p
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)  # Ctrl-C
            try:
                p.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)


def _code_in_log(log: Path, email: str, timeout: float = 30) -> str:
    pattern = re.compile(rf"login code for {re.escape(email.lower())}: (\d{{6}})")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = pattern.findall(log.read_text(errors="replace"))
        if codes:
            return str(codes[-1])
        time.sleep(0.2)
    raise AssertionError(f"no code for {email} in the log of `run`")


async def test_make_run_restarts_on_the_same_data_and_secret_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = {k: free_port() for k in ("http", "media", "stt", "llm")}
    base = f"http://127.0.0.1:{ports['http']}"
    log = tmp_path / "run.log"
    email = f"restart-{uuid.uuid4().hex[:8]}@example.com"

    with running(data_dir, ports, log) as first:
        key = (data_dir / "secret_key").read_text()
        assert len(key) >= 40 and (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
        async with RoomClient(base) as rec:
            await rec.register(email, PASSWORD, "Restart Recruiter")
            # without SMTP_HOST, `run` writes e-mails to its log (DEV_LOG_EMAILS): the code confirms the address
            code = await asyncio.to_thread(_code_in_log, log, email)
            verified = await rec.request("POST", "/api/auth/verify-code", {"email": email, "code": code})
            assert verified["user"]["email_verified"] is True
            token = rec.token = verified["token"]
            session = await rec.create_session(title="Before the restart", mode="assistant")
            await rec.request("POST", "/api/org", {"name": "Restart Org"})
            iv = await rec.request(
                "POST", "/api/org/interviews", {"title": "Engineer", "job_description": "- Ops", "questions": ["Why?"]}
            )
            inv = await rec.request("POST", f"/api/org/interviews/{iv['id']}/candidates", {"name": "Kim"})
            link = inv["link"].split("#", 1)[1]
            async with RoomClient(base) as cand:
                cand.headers["X-Candidate-Token"] = link
                before = await cand.request("GET", "/api/c/state")
    assert first.returncode == 0, log.read_text(errors="replace")[-3000:]
    assert "stopped" in log.read_text(errors="replace")
    assert not _healthy(f"{base}/health")

    with running(data_dir, ports, log) as second:
        assert (data_dir / "secret_key").read_text() == key  # the same generated key, not a new one
        async with RoomClient(base) as again:
            again.token = token  # issued before the restart
            me = await again.request("GET", "/api/me")
            assert me["user"]["email"] == email
            sessions = (await again.request("GET", "/api/sessions?limit=50"))["sessions"]
            assert [s["id"] for s in sessions] == [session["id"]]
        async with RoomClient(base) as fresh:
            await fresh.login(email, PASSWORD)
            assert (await fresh.request("GET", "/api/me"))["user"]["email"] == email
            with pytest.raises(ApiError) as wrong:
                await fresh.login(email, "not the password at all")
            assert wrong.value.status == 401
        async with RoomClient(base) as cand:
            cand.headers["X-Candidate-Token"] = link
            assert await cand.request("GET", "/api/c/state") == before  # the candidate link still opens
    assert second.returncode == 0, log.read_text(errors="replace")[-3000:]
