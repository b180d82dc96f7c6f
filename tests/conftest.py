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
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from interview_room import bus, db
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


@contextmanager
def embedded_infra(prefix: str) -> Iterator[tuple[Infra, EmbeddedPostgres]]:
    """An embedded PostgreSQL (migrated) and Redis of their own in a new temporary folder; stopped at the
    end and the folder removed (kept with IR_KEEP_TEST_DATA, for its logs and recordings)."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    pg = EmbeddedPostgres(data_dir / "postgres")
    rd = EmbeddedRedis(data_dir / "redis")
    try:
        url = pg.start()
        rurl = rd.start()
        asyncio.run(db.migrate(url))
        yield Infra(data_dir, url, rurl), pg
    finally:
        rd.stop()
        pg.stop()
        if not os.environ.get("IR_KEEP_TEST_DATA"):
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with embedded_infra("ir-test-") as (inf, _):
        _DATA_DIRS.append(inf.data_dir)
        yield inf


TEST_SECRET_KEY = "test-secret-key-not-for-production"
PORTS = ("HTTP_PORT", "MEDIA_PORT", "STT_METRICS_PORT", "LLM_METRICS_PORT")
PORT_OF = dict(zip(("signaling", "media", "stt", "llm"), PORTS, strict=True))  # the port of each part's /health


def stack_env(infra: Infra, ports: tuple[str, ...] = PORTS, **overrides: str | None) -> dict[str, str]:
    """The settings every test stack runs with: its servers on 127.0.0.1, each of ``ports`` a free port,
    loopback-only ICE, no paid remote API, a test secret, login codes in the signaling log (no SMTP).
    ``overrides`` are the stack's own settings; ``None`` leaves a setting out."""
    env = {
        "DATA_DIR": str(infra.data_dir),
        "DATABASE_URL": infra.database_url,
        "REDIS_URL": infra.redis_url,
        "HTTP_HOST": "127.0.0.1",
        **{port: str(free_port()) for port in ports},
        "ICE_HOSTS": "127.0.0.1",
        "ICE_SERVERS": "",
        "SECRET_KEY": TEST_SECRET_KEY,
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "STRIPE_API_KEY": "",
        "LOG_LEVEL": "INFO",
        "DEV_LOG_EMAILS": "1",  # no SMTP: login codes go to the signaling log (email_code reads them)
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass
class Stack:
    """The stack's processes; tests may kill and add parts (e.g. a second stt worker)."""

    infra: Infra
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    own_env: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # name -> (part, its own settings)

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
        self.own_env[name or part] = (part, extra_env)
        return p

    def url_of(self, name: str) -> str:
        """Where the process ``name`` serves (its /health is below it)."""
        part, own = self.own_env[name]
        return f"http://127.0.0.1:{({**self.env, **own})[PORT_OF[part]]}"

    def wait_healthy(self, *names: str, timeout: float = 120) -> None:
        """Until each named process answers 200 on /health (fails at once when any process exits)."""
        for name in names:
            _wait_http(f"{self.url_of(name)}/health", self.procs, timeout)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop_part(name)

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


async def verified_client(
    base_url: str,
    prefix: str,
    password: str,
    name: str,
    *,
    token: str | None = None,
    database_url: str | None = None,
) -> Any:
    """A loadtests RoomClient on a test stack: with ``token``, that account's; else a new account
    ``prefix-…@example.com``, verified with the e-mailed code (``confirm_client``) or, given
    ``database_url`` (a stack whose logs are not where ``email_code`` reads), marked verified in that
    database as entering the code does (``loadtests.accounts.verify``)."""
    from loadtests.accounts import verify
    from loadtests.client import RoomClient

    c = RoomClient(base_url, token)
    if token is None:
        await c.register(f"{prefix}-{uuid.uuid4().hex[:10]}@example.com", password, name)
        if database_url is None:
            await confirm_client(c)
        else:
            await verify(c.user["id"], database_url)
    return c


async def until(pred: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll an async predicate until it returns something truthy (the bound is generous, not a measurement)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = await pred()
                if value:
                    return value
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"{what} (after {timeout} s)") from None


async def verified(db: Any, user_id: Any) -> None:
    """In-process app tests: the account's address marked verified, as entering the e-mailed code does
    (the code flow itself is tested in test_auth / test_hostile_accounts)."""
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


@dataclass(frozen=True)
class Part:
    """One process of a test stack: ``part`` (signaling, media, stt, llm) run as ``name`` (its log's name)
    with ``env`` on top of the stack's settings; ``wait``: the stack is up once its /health answers."""

    part: str
    name: str = ""
    env: dict[str, str] = field(default_factory=dict)
    wait: bool = True


@contextmanager
def start_stack(infra: Infra, env: dict[str, str], *parts: Part | str, timeout: float = 120) -> Iterator[Stack]:
    """Starts ``parts`` (a plain name: that part, as itself) with ``env``, waits for their /health and
    stops every process of the stack at the end (also the ones a test added)."""
    s = Stack(infra, env)
    try:
        specs = [Part(p) if isinstance(p, str) else p for p in parts]
        for p in specs:
            s.start_part(p.part, p.name or None, **p.env)
        s.wait_healthy(*(p.name or p.part for p in specs if p.wait), timeout=timeout)
        yield s
    finally:
        s.stop_all()


@pytest.fixture(scope="session")
def stack(infra: Infra) -> Iterator[Stack]:
    env = stack_env(infra, WEBHOOK_ALLOW_PRIVATE="1")  # the tests' ATS receivers listen on 127.0.0.1
    with start_stack(infra, env, "signaling", "media", "stt", Part("llm", wait=False)) as s:
        yield s


@pytest_asyncio.fixture(scope="session")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(infra.database_url)
    yield p
    await p.close()


@pytest_asyncio.fixture
async def r(infra: Infra) -> AsyncIterator[aioredis.Redis]:
    """A client of the tests' Redis (the stack's database), closed after the test."""
    client = bus.connect(infra.redis_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s
