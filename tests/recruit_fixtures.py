"""The recruiter API on a real port (real embedded Postgres and Redis) with a local SMTP inbox.

Shared by the recruiter test modules; each wraps ``recruit_api`` in its own module-scoped fixture.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.controller import Controller
from conftest import Infra

from ai_sidecar.llm.factory import make_provider
from ai_sidecar.llm_worker import LlmWorker
from interview_room import bus, config, db
from interview_room.embedded import free_port
from web.app import create_app

# each recruit_api gets a Redis database of its own: the answer scores are the llm worker's jobs, and
# the session stack's worker (and another recruit_api's, with another provider) must not take them
_REDIS_DBS = itertools.cycle(range(1, 16))

INTERVIEW = {
    "title": "Backend engineer",
    "job_description": "- Experience with Python and asyncio\n- Designing PostgreSQL schemas",
    "questions": [
        {"text": "Tell us about a migration you led.", "think_seconds": 5, "answer_seconds": 60, "retakes": 1},
        "How do you debug latency?",
    ],
    "company_name": "Acme Corp",
    "intro_text": "Two short questions.",
}


def token_of(link: str) -> str:
    """The candidate link's token (it travels in the fragment)."""
    return link.split("#", 1)[1]


@dataclass
class Inbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, addr: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == addr]


@dataclass
class Api:
    base: str
    http: aiohttp.ClientSession
    inbox: Inbox
    pool: Any
    cfg: config.Config
    app: web.Application
    redis: Any = None  # the app's Redis (its own database)

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, headers=headers, **kw) as r:
            body = await r.read()
            try:
                return r.status, json.loads(body) if body else None
            except ValueError:
                return r.status, body.decode()

    async def cand(self, method: str, path: str, link_token: str, **kw: Any) -> tuple[int, Any]:
        """The candidate API: the link's token in its header."""
        async with self.http.request(method, self.base + path, headers={"X-Candidate-Token": link_token}, **kw) as r:
            body = await r.read()
            try:
                return r.status, json.loads(body) if body else None
            except ValueError:
                return r.status, body.decode()

    async def share(self, token: str, method: str = "GET") -> tuple[int, Any]:
        """The read-only review a share link opens: its token in the X-Share-Token header."""
        async with self.http.request(method, self.base + "/api/share/review", headers={"X-Share-Token": token}) as r:
            body = await r.read()
            try:
                return r.status, json.loads(body) if body else None
            except ValueError:
                return r.status, body.decode()

    def codes_sent(self, addr: str) -> int:
        return len([m for m in self.inbox.to(addr) if "sign-in code" in str(m["Subject"])])

    async def email_code(self, addr: str, after: int = 0) -> str:
        """The latest sign-in/verification code e-mailed to ``addr``, once more than ``after`` have arrived
        (the e-mail is sent in the background: pass ``codes_sent`` from before the request for a new one)."""
        for _ in range(200):
            codes = [m for m in self.inbox.to(addr) if "sign-in code" in str(m["Subject"])]
            if len(codes) > after:
                return str(codes[-1]["Subject"]).rsplit(" ", 1)[-1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no code e-mailed to {addr}")

    async def confirm_email(self, token: str, addr: str) -> None:
        """Verify the new account as its owner does: the e-mailed code, entered while signed in."""
        st, body = await self.call(
            "POST", "/api/auth/verify-code", token, json={"email": addr, "code": await self.email_code(addr)}
        )
        assert st == 200 and body["user"]["email_verified"], body

    async def recruiter(self, org_name: str | None = "Acme") -> str:
        addr = f"rec-{uuid.uuid4().hex[:8]}@example.com"
        st, body = await self.call(
            "POST", "/api/auth/register", json={"email": addr, "password": "password123", "name": "R"}
        )
        assert st == 201, body
        await self.confirm_email(body["token"], addr)
        if org_name:
            st, _ = await self.call("POST", "/api/org", body["token"], json={"name": org_name})
            assert st == 201
        return str(body["token"])


@asynccontextmanager
async def recruit_api(infra: Infra, *, llm_worker: bool = True, **overrides: Any) -> AsyncIterator[Api]:
    """The signaling app in this process with SMTP pointed at a local inbox, and (``llm_worker``) an llm
    worker, which scores the reviewed answers, on the app's own Redis database; ``overrides`` change Config."""
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    cfg = dataclasses.replace(
        config.load(),
        **{
            "data_dir": infra.data_dir,
            "database_url": infra.database_url,
            "redis_url": infra.redis_url.rsplit("/", 1)[0] + f"/{next(_REDIS_DBS)}",
            "secret_key": "recruiting-test-secret",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_user": "",
            "public_url": "",
            "http_host": "127.0.0.1",  # the links in e-mails and webhooks: http://HTTP_HOST:HTTP_PORT
            "http_port": port,
            "webhook_allow_private": True,  # the tests' ATS receivers listen on 127.0.0.1
            **overrides,
        },
    )
    pool = await db.create_pool(infra.database_url)
    redis = bus.connect(cfg.redis_url)
    await redis.flushdb()  # jobs a previous user of this database left
    app = create_app(cfg, pool, redis, web_root=None, docs_root=None)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    worker = LlmWorker(r=redis, pool=pool, provider=make_provider(cfg)) if llm_worker else None
    consumer = (
        bus.StreamConsumer(redis, bus.LLM_JOBS, bus.LLM_GROUP, "test-llm", worker.handle, concurrency=16, block_ms=100)
        if worker
        else None
    )
    consuming = asyncio.create_task(consumer.run()) if consumer else None
    try:
        async with aiohttp.ClientSession() as http:
            yield Api(f"http://127.0.0.1:{port}", http, inbox, pool, cfg, app, redis)
    finally:
        if consumer and consuming and worker:
            await asyncio.wait_for(consumer.stop(), 10)
            await asyncio.wait_for(consuming, 10)
            await worker.close()
        await runner.cleanup()
        await pool.close()
        await redis.aclose()
        smtp.stop()
