"""Hostile HTTP clients against a real signaling process (real PostgreSQL and Redis): concurrent password
guessing, a burst of logins while the password hasher is full, forged X-Forwarded-For, non-JSON bodies,
cross-site requests riding the cookie; and the security headers every answer carries.

The signaling process here trusts the proxies 127.0.0.2/31: a client bound to 127.0.0.2 or 127.0.0.3 is
"the ingress", one from 127.0.0.1 is a client talking to us directly.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestClient, TestServer
from conftest import ROOT, Infra, Part, Stack, stack_env, start_stack

from interview_room import bus, db
from interview_room.config import Config
from loadtests.accounts import verify
from web.accounts import ratelimit
from web.app import create_app
from web.common import http_guard

PASSWORD = "correct horse battery"
LOGIN_LIMIT = 5  # ratelimit.LOGIN_PER_EMAIL
IP_LIMIT = 20  # ratelimit.LOGIN_PER_IP
HASH_THREADS, HASH_QUEUE = 2, 4  # 6 places: the 5 guesses of one account always fit, a burst of 50 never
RSS_LIMIT_KB = 400 * 1024
REDIS_DB = 3  # rate-limit counters apart from the other tests'


@contextmanager
def signaling_alone(infra: Infra, name: str, **extra_env: str) -> Iterator[Stack]:
    """A signaling process of its own on the tests' PostgreSQL and Redis (no media node or workers)."""
    env = stack_env(
        infra,
        ports=("HTTP_PORT",),
        REDIS_URL=infra.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}",
        SMTP_HOST="",
        PUBLIC_URL="",
        REGISTER_PER_IP_HOUR="0",
        **extra_env,
    )
    with start_stack(infra, env, Part("signaling", name)) as s:
        yield s


@pytest.fixture(scope="module")
def guard(infra: Infra) -> Iterator[Stack]:
    """Trusted proxy range, and a small argon2 pool with argon2-cffi's old cost (64 MiB a call)."""
    with signaling_alone(
        infra,
        "signaling-guard",
        TRUSTED_PROXIES="127.0.0.2/31",
        PASSWORD_HASH_THREADS=str(HASH_THREADS),
        PASSWORD_HASH_QUEUE=str(HASH_QUEUE),
        PASSWORD_HASH_MEMORY_KIB="65536",
        PASSWORD_HASH_TIME_COST="3",
    ) as s:
        yield s


@pytest_asyncio.fixture(autouse=True)
async def fresh_limits(infra: Infra) -> AsyncIterator[None]:
    """Every test starts with no attempt counters (they are per address, and most requests come from 127.0.0.1)."""
    r = bus.connect(infra.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}")
    try:
        keys = [k async for k in r.scan_iter(match="rl:*")]
        if keys:
            await r.delete(*keys)
        yield
    finally:
        await r.aclose()


def client(peer: str = "127.0.0.1") -> aiohttp.ClientSession:
    """A cookie-less HTTP client whose connections come from ``peer`` (127.0.0.2/.3 = the trusted proxy)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(peer, 0), limit=0), cookie_jar=aiohttp.DummyCookieJar()
    )


def new_email() -> str:
    return f"hostile-{uuid.uuid4().hex[:12]}@example.com"


async def call(s: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with s.request(method, url, **kw) as r:
        text = await r.text()
        body: Any = None
        if r.content_type == "application/json" and text:
            body = await r.json()
        return r.status, body, r


def code_of(body: Any) -> str | None:
    return body["error"]["code"] if isinstance(body, dict) and "error" in body else None


async def register(stack: Stack, email: str | None = None) -> tuple[str, str]:
    """A new account, its address verified (as entering the e-mailed code does)."""
    email = email or new_email()
    async with client() as s:
        st, body, _ = await call(
            s, "POST", f"{stack.base_url}/api/auth/register", json={"email": email, "password": PASSWORD}
        )
    assert st == 201, body
    await verify(body["user"]["id"], stack.env["DATABASE_URL"])
    return email, body["token"]


async def login(s: aiohttp.ClientSession, base: str, email: str, password: str, xff: str | None = None) -> tuple[int, Any]:
    headers = {"X-Forwarded-For": xff} if xff else {}
    st, body, _ = await call(s, "POST", f"{base}/api/auth/login", json={"email": email, "password": password}, headers=headers)
    return st, body


def vm_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


async def a_user_is_served(stack: Stack) -> None:
    """The next normal user registers, signs in and is served."""
    base = stack.base_url
    email, _ = await register(stack)
    async with client() as s:
        st, body = await login(s, base, email, PASSWORD)
        assert st == 200, body
        st, me, _ = await call(s, "GET", f"{base}/api/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert st == 200 and me["user"]["email"] == email


# ---------------------------------------------------------------- password guessing


async def test_concurrent_wrong_passwords_for_one_account(guard: Stack) -> None:
    base = guard.base_url
    victim, _ = await register(guard)
    other, _ = await register(guard)
    # 30 guesses at once, each from its own client address (through the trusted proxy)
    async with client("127.0.0.2") as s:
        results = await asyncio.gather(
            *(login(s, base, victim, f"guess {i}", xff=f"203.0.113.{i + 1}") for i in range(30))
        )
    statuses = Counter(st for st, _ in results)
    codes = Counter(code_of(b) for _, b in results)
    assert statuses == {401: LOGIN_LIMIT, 429: 30 - LOGIN_LIMIT}, (statuses, codes)
    assert codes == {"invalid_credentials": LOGIN_LIMIT, "too_many_attempts": 30 - LOGIN_LIMIT}
    first_wait = max(b["error"]["retry_after_seconds"] for st, b in results if st == 429)
    assert 0 < first_wait <= 900

    async with client("127.0.0.2") as s:
        # the owner's right password waits too (a 200 among the 429s would give the password away) ...
        st, body = await login(s, base, victim, PASSWORD, xff="198.51.100.200")
        assert st == 429 and code_of(body) == "too_many_attempts"
        # ... and more guesses are refused without being counted: they do not prolong the lock
        again = await asyncio.gather(*(login(s, base, victim, "guess", xff=f"203.0.113.{100 + i}") for i in range(10)))
        assert {st for st, _ in again} == {429}
        assert all(b["error"]["retry_after_seconds"] <= first_wait for _, b in again)
        # another account is not affected
        st, body = await login(s, base, other, PASSWORD, xff="198.51.100.201")
        assert st == 200, body

    # the owner signs in with an e-mailed one-time code meanwhile (the log stands in for the mailbox)
    async with client() as s:
        st, _, _ = await call(s, "POST", f"{base}/api/auth/login-code", json={"email": victim})
        assert st == 202
        codes_sent = re.findall(rf"login code for {re.escape(victim)}: (\d{{6}})", guard.log_of("signaling-guard"))
        assert codes_sent, "no login code in the log"
        st, body, _ = await call(s, "POST", f"{base}/api/auth/verify-code", json={"email": victim, "code": codes_sent[-1]})
        assert st == 200, body
        st, me, _ = await call(s, "GET", f"{base}/api/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert st == 200 and me["user"]["email"] == victim
    await a_user_is_served(guard)


async def test_burst_of_logins_while_the_hasher_is_full(guard: Stack) -> None:
    base = guard.base_url
    pid = guard.procs["signaling-guard"].pid
    # 50 sign-ins of 50 different addresses from 50 different clients: no attempt limit applies,
    # only the hasher's 2 threads + 4 waiting places
    async with client("127.0.0.2") as s:
        results = await asyncio.gather(
            *(login(s, base, new_email(), "some password", xff=f"192.0.2.{i + 1}") for i in range(50))
        )
    statuses = Counter(st for st, _ in results)
    assert set(statuses) <= {401, 429}, statuses
    busy = [b for st, b in results if st == 429]
    assert busy, f"no 429 among 50 concurrent sign-ins with {HASH_THREADS + HASH_QUEUE} hashing places: {statuses}"
    assert all(code_of(b) == "server_busy" and b["error"]["retry_after_seconds"] >= 1 for b in busy)
    assert statuses[401] >= HASH_THREADS  # those that got a place were checked
    # each argon2 call holds 64 MiB here: the process never held more than its two threads' worth
    peak = vm_kb(pid, "VmHWM")
    assert peak < RSS_LIMIT_KB, f"signaling peak RSS {peak / 1024:.0f} MiB"
    await a_user_is_served(guard)
    assert vm_kb(pid, "VmHWM") < RSS_LIMIT_KB


# ---------------------------------------------------------------- X-Forwarded-For


async def fail_logins(s: aiohttp.ClientSession, base: str, n: int, xff: str | None) -> list[int]:
    return [(await login(s, base, new_email(), "wrong password", xff=xff))[0] for _ in range(n)]


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(guard: Stack) -> None:
    base = guard.base_url
    async with client("127.0.0.1") as s:
        # a direct client naming a new address each time is still 127.0.0.1: its 21st attempt is refused
        statuses = [(await login(s, base, new_email(), "wrong", xff=f"198.51.100.{i + 1}"))[0] for i in range(IP_LIMIT)]
        assert statuses == [401] * IP_LIMIT
        st, body = await login(s, base, new_email(), "wrong", xff="198.51.100.250")
        assert st == 429 and code_of(body) == "too_many_attempts"
    # the proxy's clients are not 127.0.0.1: not limited
    async with client("127.0.0.2") as s:
        st, body = await login(s, base, new_email(), "wrong", xff="198.51.100.1")
        assert st == 401, body


async def test_forwarded_for_from_a_trusted_range_is_used(guard: Stack) -> None:
    base = guard.base_url
    async with client("127.0.0.3") as s:  # the other address of 127.0.0.2/31
        # client 192.0.2.9 (the address the proxy appended) uses up its attempts
        assert await fail_logins(s, base, IP_LIMIT, "192.0.2.9") == [401] * IP_LIMIT
        st, body = await login(s, base, new_email(), "wrong", xff="192.0.2.9")
        assert st == 429 and code_of(body) == "too_many_attempts"
        # writing another address in front of the proxy's does not help it
        st, body = await login(s, base, new_email(), "wrong", xff="10.9.8.7, 192.0.2.9")
        assert st == 429 and code_of(body) == "too_many_attempts"
        # through two trusted proxies (127.0.0.3 appended by the first): still 192.0.2.9
        st, body = await login(s, base, new_email(), "wrong", xff="192.0.2.9, 127.0.0.2")
        assert st == 429
        # another client, even one that claims to be 192.0.2.9, is served
        st, body = await login(s, base, new_email(), "wrong", xff="192.0.2.9, 192.0.2.10")
        assert st == 401 and code_of(body) == "invalid_credentials"
    # the direct client 127.0.0.1 is another address altogether
    async with client("127.0.0.1") as s:
        st, body = await login(s, base, new_email(), "wrong")
        assert st == 401


# ---------------------------------------------------------------- bodies and cross-site requests


async def session_count(base: str, token: str) -> int:
    async with client() as s:
        st, body, _ = await call(s, "GET", f"{base}/api/sessions?limit=100", headers={"Authorization": f"Bearer {token}"})
    assert st == 200, body
    return len(body["sessions"])


async def test_bodies_must_be_json(guard: Stack) -> None:
    base = guard.base_url
    email, token = await register(guard)
    auth = {"Authorization": f"Bearer {token}"}
    async with client() as s:
        form = {"email": email, "password": PASSWORD}
        st, body, r = await call(s, "POST", f"{base}/api/auth/login", data=form)  # an HTML form's encoding
        assert st == 415 and code_of(body) == "unsupported_media_type" and r.content_type == "application/json"
        st, body, _ = await call(
            s, "POST", f"{base}/api/sessions", data='{"title": "x"}', headers={**auth, "Content-Type": "text/plain"}
        )
        assert st == 415 and code_of(body) == "unsupported_media_type"
        st, body, _ = await call(s, "PATCH", f"{base}/api/me", data=b'{"name": "Eve"}', headers=auth)  # no type
        assert st == 415
        assert await session_count(base, token) == 0
        st, me, _ = await call(s, "GET", f"{base}/api/me", headers=auth)
        assert me["user"]["name"] != "Eve"
        # the file upload takes multipart, and payment webhooks keep their own type (no 415 for either)
        up = aiohttp.FormData()
        up.add_field("file", b"Ten years of Python.", filename="cv.txt", content_type="text/plain")
        st, body, _ = await call(s, "POST", f"{base}/api/resume/extract", data=up, headers=auth)
        assert st == 200 and "Python" in body["text"]
        st, body, _ = await call(
            s, "POST", f"{base}/api/webhooks/stripe", data=b"{}", headers={"Content-Type": "application/octet-stream"}
        )
        assert st != 415 and code_of(body) in ("payments_not_configured", "invalid_signature", "not_found")
        # an empty POST needs no type; JSON is served
        st, body, _ = await call(s, "POST", f"{base}/api/sessions", json={"title": "fine"}, headers=auth)
        assert st == 201, body


async def test_cookie_authenticated_changes_must_come_from_this_site(guard: Stack) -> None:
    base = guard.base_url
    _, token = await register(guard)
    cookie = {"Cookie": f"ir_token={token}"}
    url = f"{base}/api/sessions"
    async with client() as s:
        for extra in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": f"{base}.evil.example"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {},  # neither header
        ):
            st, body, _ = await call(s, "POST", url, json={"title": "csrf"}, headers={**cookie, **extra})
            assert st == 403 and code_of(body) == "cross_site_request", (extra, st, body)
        st, body, _ = await call(
            s, "PATCH", f"{base}/api/me", json={"name": "Eve"}, headers={**cookie, "Origin": "https://evil.example"}
        )
        assert st == 403 and code_of(body) == "cross_site_request"
        assert await session_count(base, token) == 0
        # reading with the cookie from anywhere is not a change
        st, me, _ = await call(s, "GET", f"{base}/api/me", headers={**cookie, "Origin": "https://evil.example"})
        assert st == 200 and me["user"]["name"] != "Eve"
        # this site's own pages, and API clients with the bearer header, are served
        st, body, _ = await call(s, "POST", url, json={"title": "page"}, headers={**cookie, "Origin": base})
        assert st == 201, body
        st, body, _ = await call(s, "POST", url, json={"title": "fetch"}, headers={**cookie, "Sec-Fetch-Site": "same-origin"})
        assert st == 201, body
        bearer = {"Authorization": f"Bearer {token}", "Origin": "https://evil.example"}
        st, body, _ = await call(s, "POST", url, json={"title": "api"}, headers=bearer)
        assert st == 201, body
        assert await session_count(base, token) == 3
        # logging out from the page clears the cookie and ends the token
        st, _, r = await call(s, "POST", f"{base}/api/auth/logout", headers={**cookie, "Origin": base})
        assert st == 204 and r.cookies["ir_token"].value == "" and r.cookies["ir_token"]["max-age"] == "0"
        st, _, _ = await call(s, "GET", f"{base}/api/me", headers=cookie)
        assert st == 401
    await a_user_is_served(guard)


# ---------------------------------------------------------------- security headers


def assert_page_headers(h: Any, frames: str = "'none'") -> None:
    csp = h["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["frame-src"] == frames
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["Referrer-Policy"] == "same-origin" and h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"


async def test_security_headers_on_pages_and_api(guard: Stack) -> None:
    base = guard.base_url
    _, token = await register(guard)
    async with client() as s:
        for path in ("/", "/index.html", "/sessions.html", "/recruit/review.html", "/c.html", "/css/app.css", "/js/api.js"):
            st, _, r = await call(s, "GET", base + path)
            assert st == 200, path
            assert_page_headers(r.headers)
            assert "Strict-Transport-Security" not in r.headers  # plain http: browsers ignore it anyway
        for path in ("/room.html", "/room"):  # the web page panel frames job postings; the room itself is not framed
            st, _, r = await call(s, "GET", base + path)
            assert st == 200
            assert_page_headers(r.headers, frames="http: https:")
        for path, headers, status in (
            ("/api/me", {"Authorization": f"Bearer {token}"}, 200),
            ("/api/me", {}, 401),
            ("/api/no-such-thing", {"Authorization": f"Bearer {token}"}, 404),
            ("/no-such-page.html", {}, 404),
        ):
            st, _, r = await call(s, "GET", base + path, headers=headers)
            assert st == status, path
            if path.startswith("/api/"):  # data: nothing may load or run, nobody may frame it
                assert r.headers["Content-Security-Policy"] == http_guard.API_CSP
                assert "default-src 'none'" in http_guard.API_CSP and "frame-ancestors 'none'" in http_guard.API_CSP
                assert "script" not in http_guard.API_CSP
                assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "same-origin"
            else:
                assert_page_headers(r.headers)


async def test_hsts_when_served_over_https(infra: Infra) -> None:
    cfg = Config(
        data_dir=infra.data_dir / "guard-https",
        database_url=infra.database_url,
        redis_url=infra.redis_url,
        secret_key="test-secret-key",
        public_url="https://interview.example.test",
    )
    redis = bus.connect(infra.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}")

    pool = await db.create_pool(infra.database_url)
    app = create_app(cfg, pool, redis)
    client_ = TestClient(TestServer(app), cookie_jar=aiohttp.DummyCookieJar())
    await client_.start_server()
    try:
        for path in ("/", "/api/me", "/health"):
            r = await client_.get(path)
            assert r.headers["Strict-Transport-Security"] == http_guard.HSTS, path
        # the public origin is this site too
        r = await client_.post("/api/auth/logout", headers={"Cookie": "ir_token=x.y", "Origin": "https://interview.example.test"})
        assert r.status == 401  # past the origin check: the token is simply not valid
        r = await client_.post("/api/auth/logout", headers={"Cookie": "ir_token=x.y", "Origin": "https://evil.example"})
        assert r.status == 403
    finally:
        await client_.close()
        await pool.close()
        await redis.aclose()


def test_trusted_proxies_take_cidr_ranges_and_the_k8s_config_sets_one() -> None:
    nets = ratelimit.proxy_networks(("10.244.0.0/16", " 192.0.2.7", "2001:db8::/32"))
    assert [str(n) for n in nets] == ["10.244.0.0/16", "192.0.2.7/32", "2001:db8::/32"]
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        ratelimit.proxy_networks(("10.0.0.0/8", "ingress.local"))
    data = yaml.safe_load((ROOT / "k8s" / "base" / "config.yaml").read_text())["data"]
    k8s = ratelimit.proxy_networks(tuple(data["TRUSTED_PROXIES"].split(",")))
    # the ingress pods' range (a range: pods come and go), and no client's address
    assert k8s and all(n.prefixlen < n.max_prefixlen and n.is_private for n in k8s)
