"""Test fixtures: real embedded PostgreSQL + Redis, and the whole stack as separate processes.

Every server listens on 127.0.0.1; WebRTC offers loopback host candidates only (ICE_HOSTS).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from interview_room import db
from interview_room.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from interview_room.loopback_ice import restrict_ice_hosts, restricted_hosts

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
# every test registers its users from 127.0.0.1; test_auth checks the limit with its own setting
os.environ.setdefault("REGISTER_PER_IP_HOUR", "0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of a module that drives Chromium through Playwright ``browser`` (not in ``make test-fast``)."""
    for item in items:
        names = vars(item.module).values() if getattr(item, "module", None) else ()
        if any(str(getattr(v, "__module__", "")).startswith("playwright") for v in names):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def ice_hosts_restored() -> Iterator[None]:
    """aioice's host list is process-wide: each test leaves it as it found it (loopback-only stays loopback-only)."""
    before = restricted_hosts()
    yield
    restrict_ice_hosts(before or [])


@dataclass
class Infra:
    data_dir: Path
    database_url: str
    redis_url: str


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    data_dir = Path(tempfile.mkdtemp(prefix="ir-test-"))
    pg = EmbeddedPostgres(data_dir / "postgres")
    rd = EmbeddedRedis(data_dir / "redis")
    try:
        url = pg.start()
        rurl = rd.start()
        asyncio.run(db.migrate(url))
        _DATA_DIRS.append(data_dir)
        yield Infra(data_dir, url, rurl)
    finally:
        rd.stop()
        pg.stop()
        if not os.environ.get("IR_KEEP_TEST_DATA"):  # keep logs and recordings for debugging
            shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Stack:
    """The stack's processes; tests may kill and add parts (e.g. a second stt worker)."""

    infra: Infra
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['HTTP_PORT']}"

    @property
    def media_url(self) -> str:
        return f"http://127.0.0.1:{self.env['MEDIA_PORT']}"

    def start_part(self, part: str, name: str | None = None, **extra_env: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, **extra_env}
        log = open(self.infra.data_dir / f"{name or part}.log", "ab")  # noqa: SIM115 - kept for the process' life
        p = subprocess.Popen([sys.executable, "-m", "interview_room.cli", part], env=env, stdout=log, stderr=log)
        self.procs[name or part] = p
        return p

    def stop_part(self, name: str, kill: bool = False) -> None:
        p = self.procs.pop(name)
        if kill:
            p.kill()
        else:
            p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()

    def log_of(self, name: str) -> str:
        f = self.infra.data_dir / f"{name}.log"
        return f.read_text(errors="replace") if f.exists() else ""

    def email_code(self, email: str, timeout: float = 15) -> str:
        """The latest one-time code e-mailed to ``email`` (see ``email_code``)."""
        return email_code(self.infra.data_dir, email, timeout)

    def confirm_email(self, token: str, email: str) -> None:
        """Verify a freshly registered account the way its owner does: the e-mailed code, entered while
        signed in (so the password is kept)."""
        confirm_email(self.base_url, token, self.email_code(email), email)


_DATA_DIRS: list[Path] = []  # the infra fixtures' folders, where every stack's process logs are


def email_code(data_dir: Path, email: str, timeout: float = 15) -> str:
    """The latest one-time code e-mailed to ``email``: the test stacks run without SMTP and with
    DEV_LOG_EMAILS=1, so their signaling processes write it to their logs (as on a developer's laptop)."""
    pattern = re.compile(rf"login code for {re.escape(email.lower())}: (\d{{6}})")
    deadline = time.monotonic() + timeout
    while True:
        for log in sorted(data_dir.glob("*signaling*.log")):
            codes = pattern.findall(log.read_text(errors="replace"))
            if codes:
                return str(codes[-1])
        if time.monotonic() > deadline:
            raise AssertionError(f"no code for {email} in the signaling logs")
        time.sleep(0.1)


async def confirm_client(c: Any) -> None:
    """A loadtests RoomClient just registered on a test stack: its address verified with the e-mailed
    code, entered with its own token (so its password is kept)."""
    email = c.user["email"]
    code = await asyncio.to_thread(email_code, _DATA_DIRS[-1], email)
    body = await c.request("POST", "/api/auth/verify-code", {"email": email, "code": code})
    assert body["user"]["email_verified"] is True
    c.token, c.user = body["token"], body["user"]


async def verified(db: Any, user_id: Any) -> None:
    """In-process app tests: the account's address marked verified, as entering the e-mailed code does
    (the code flow itself is tested in test_auth / test_hostile_accounts)."""
    import uuid

    from interview_room.store import users

    await users.mark_email_verified(db, uuid.UUID(str(user_id)))


def confirm_email(base_url: str, token: str, code: str, email: str | None = None) -> dict[str, Any]:
    """POST /api/auth/verify-code with the account's own token; returns the signed-in answer."""
    import urllib.request

    if email is None:
        req = urllib.request.Request(f"{base_url}/api/me", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            email = json.loads(r.read())["user"]["email"]
    req = urllib.request.Request(
        f"{base_url}/api/auth/verify-code",
        data=json.dumps({"email": email, "code": code}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        body: dict[str, Any] = json.loads(r.read())
    assert body["user"]["email_verified"] is True, body
    return body


def _wait_http(url: str, procs: dict[str, subprocess.Popen[bytes]], timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, p in procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


@pytest.fixture(scope="session")
def stack(infra: Infra) -> Iterator[Stack]:
    env = {
        "DATA_DIR": str(infra.data_dir),
        "DATABASE_URL": infra.database_url,
        "REDIS_URL": infra.redis_url,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
        "MEDIA_PORT": str(free_port()),
        "STT_METRICS_PORT": str(free_port()),
        "LLM_METRICS_PORT": str(free_port()),
        "ICE_HOSTS": "127.0.0.1",
        "ICE_SERVERS": "",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "STRIPE_API_KEY": "",
        "WEBHOOK_ALLOW_PRIVATE": "1",  # the tests' ATS receivers listen on 127.0.0.1
        "LOG_LEVEL": "INFO",
        "DEV_LOG_EMAILS": "1",  # no SMTP: login codes go to the signaling log (Stack.email_code reads them)
    }
    s = Stack(infra, env)
    try:
        for part in ("signaling", "media", "stt", "llm"):
            s.start_part(part)
        _wait_http(f"{s.base_url}/health", s.procs)
        _wait_http(f"{s.media_url}/health", s.procs)
        _wait_http(f"http://127.0.0.1:{env['STT_METRICS_PORT']}/health", s.procs)
        yield s
    finally:
        for name in list(s.procs):
            s.stop_part(name)


@pytest_asyncio.fixture(scope="session")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(infra.database_url)
    yield p
    await p.close()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s
