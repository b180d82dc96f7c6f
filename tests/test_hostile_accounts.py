"""Hostile users (P0 issue 13, items 8–12): accounts, uploads, links and e-mail, candidate links, recordings.

Each attack is refused with an error JSON and changes nothing, and a normal user is served right after.
The signaling app runs in this process on a real port (real embedded Postgres and Redis, e-mails to a
local aiosmtpd inbox) except the résumé bomb, which goes to the whole stack so the memory measured is
the real signaling process'.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
import re
import ssl
import subprocess
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiosmtpd.controller import Controller
from conftest import Infra, Stack, verified
from recruit_fixtures import INTERVIEW, Api, Inbox, recruit_api, token_of

from interview_room import config
from interview_room.embedded import free_port
from interview_room.store import sessions as sessions_store
from web.common import mailer

PASSWORD = "correct horse battery"


@pytest_asyncio.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra) as a:
        yield a


def _addr(kind: str = "u") -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}@example.com"


async def _register(api: Api, addr: str, password: str = PASSWORD) -> dict[str, Any]:
    st, body = await api.call("POST", "/api/auth/register", json={"email": addr, "password": password, "name": "N"})
    assert st == 201, body
    return dict(body)


async def _verified_user(api: Api) -> str:
    addr = _addr()
    body = await _register(api, addr)
    await api.confirm_email(body["token"], addr)
    return str(body["token"])


async def _normal_user_is_served(api: Api) -> None:
    token = await _verified_user(api)
    st, s = await api.call("POST", "/api/sessions", token, json={"title": "still served"})
    assert st == 201, s


# ---------------------------------------------------------------- 8. accounts


async def test_an_unverified_account_may_only_look_around(api: Api) -> None:
    addr = _addr()
    body = await _register(api, addr)
    token = body["token"]
    assert body["user"]["email_verified"] is False
    st, me = await api.call("GET", "/api/me", token)
    assert st == 200 and me["user"]["email_verified"] is False and me["credits_seconds"] > 0
    for method, path, payload in [
        ("POST", "/api/sessions", {"title": "free minutes"}),
        ("POST", "/api/org", {"name": "Squat Inc"}),
        ("POST", "/api/checkout", {"package": "hours_10"}),
        ("POST", "/api/org/join", {"token": "x" * 20}),
    ]:
        st, err = await api.call(method, path, token, json=payload)
        assert st == 403 and err["error"]["code"] == "email_unverified", (path, st, err)
    st, lst = await api.call("GET", "/api/sessions", token)
    assert st == 200 and lst["sessions"] == []  # nothing was created
    st, me = await api.call("PATCH", "/api/me", token, json={"name": "Still me"})
    assert st == 200 and me["user"]["name"] == "Still me"
    # the code e-mailed at registration, entered in this browser (its token rides along): the password stays
    await api.confirm_email(token, addr)
    st, s = await api.call("POST", "/api/sessions", token, json={"title": "now allowed"})
    assert st == 201, s
    st, login = await api.call("POST", "/api/auth/login", json={"email": addr, "password": PASSWORD})
    assert st == 200 and login["user"]["email_verified"] is True and login["user"]["has_password"] is True


async def test_the_address_owner_takes_back_an_account_someone_else_registered(api: Api) -> None:
    victim = _addr("victim")
    squatter = await _register(api, victim, "squatters password")
    # the owner of the mailbox signs in with a code, without the squatter's token
    sent = api.codes_sent(victim)
    st, _ = await api.call("POST", "/api/auth/login-code", json={"email": victim})
    assert st == 202
    st, owner = await api.call(
        "POST", "/api/auth/verify-code", json={"email": victim, "code": await api.email_code(victim, after=sent)}
    )
    assert st == 200, owner
    assert owner["user"]["email_verified"] is True and owner["user"]["has_password"] is False
    # the squatter is out: token revoked, password gone
    st, err = await api.call("GET", "/api/me", squatter["token"])
    assert st == 401 and err["error"]["code"] == "unauthorized"
    st, err = await api.call("POST", "/api/auth/login", json={"email": victim, "password": "squatters password"})
    assert st == 401 and err["error"]["code"] == "invalid_credentials"
    # the owner sets a password of their own (no current one to give)
    st, _ = await api.call("POST", "/api/me/password", owner["token"], json={"new_password": "owners own password"})
    assert st == 204
    st, login = await api.call("POST", "/api/auth/login", json={"email": victim, "password": "owners own password"})
    assert st == 200 and login["user"]["has_password"] is True
    # the owner is served, and a later code sign-in changes nothing more
    st, s = await api.call("POST", "/api/sessions", owner["token"], json={"title": "mine"})
    assert st == 201, s
    sent = api.codes_sent(victim)
    st, _ = await api.call("POST", "/api/auth/login-code", json={"email": victim})
    st, again = await api.call(
        "POST", "/api/auth/verify-code", json={"email": victim, "code": await api.email_code(victim, after=sent)}
    )
    assert st == 200
    st, me = await api.call("GET", "/api/me", owner["token"])
    assert st == 200 and me["user"]["id"] == again["user"]["id"]


async def test_only_the_registering_token_keeps_the_password(api: Api) -> None:
    """The squatter's other sign-in (say, planted in the owner's browser by a forged login form) does not
    count as "the browser that registered": the code entered with it still clears the squatter's password."""
    victim = _addr("victim")
    await _register(api, victim, "squatters password")
    st, planted = await api.call("POST", "/api/auth/login", json={"email": victim, "password": "squatters password"})
    assert st == 200
    code = await api.email_code(victim)  # the registration's code, read by the mailbox's owner
    st, owner = await api.call("POST", "/api/auth/verify-code", planted["token"], json={"email": victim, "code": code})
    assert st == 200 and owner["user"]["has_password"] is False and owner["user"]["email_verified"] is True
    st, _ = await api.call("GET", "/api/me", planted["token"])
    assert st == 401
    st, _ = await api.call("POST", "/api/auth/login", json={"email": victim, "password": "squatters password"})
    assert st == 401


async def test_admin_emails_count_only_verified_addresses(infra: Infra) -> None:
    admin = _addr("admin")
    async with recruit_api(infra, admin_emails=[admin]) as api:
        body = await _register(api, admin)
        st, err = await api.call("GET", "/api/admin/payments", body["token"])
        assert st == 403 and err["error"]["code"] == "forbidden"
        await api.confirm_email(body["token"], admin)
        st, payments = await api.call("GET", "/api/admin/payments", body["token"])
        assert st == 200 and "payments" in payments


# ---------------------------------------------------------------- 10. links, e-mail, webhooks


async def test_links_in_e_mails_never_come_from_the_host_header(api: Api) -> None:
    rec = await api.recruiter("Host org")
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=INTERVIEW)
    assert st == 201
    addr = _addr("cand")
    async with api.http.post(
        f"{api.base}/api/org/interviews/{iv['id']}/candidates",
        json={"email": addr, "name": "Cand"},
        headers={"Authorization": f"Bearer {rec}", "Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    ) as r:
        assert r.status == 201
        inv = await r.json()
    ours = f"http://127.0.0.1:{api.cfg.http_port}"
    assert inv["link"].startswith(f"{ours}/c.html#"), inv["link"]
    mail = api.inbox.to(addr)[-1].get_payload(decode=True).decode()
    assert "evil.example" not in mail and f"{ours}/c.html#{token_of(inv['link'])}" in mail


async def test_codes_and_links_stay_out_of_the_log_without_the_dev_setting(
    infra: Infra, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with recruit_api(infra, smtp_host="", dev_log_emails=False) as api:
        addr = _addr()
        body = await _register(api, addr)
        st, _ = await api.call("POST", "/api/auth/login-code", json={"email": addr})
        assert st == 202
        logged = caplog.text
        assert "e-mail not sent" in logged and addr in logged  # the log says what was not sent, to whom
        assert "login code for" not in logged and not re.search(r"\b\d{6}\b", logged.split(addr, 1)[1])
        # no code reached the log, so only the store can vouch for this recruiter here
        await verified(api.pool, body["user"]["id"])
        rec = body["token"]
        st, _ = await api.call("POST", "/api/org", rec, json={"name": "Quiet org"})
        st, iv = await api.call("POST", "/api/org/interviews", rec, json=INTERVIEW)
        st, inv = await api.call(
            "POST", f"/api/org/interviews/{iv['id']}/candidates", rec, json={"email": _addr("cand"), "name": "C"}
        )
        assert st == 201 and inv["emailed"] is False
        assert token_of(inv["link"]) not in caplog.text  # the candidate's link is shown to copy, not logged
    # the explicit development setting logs them
    caplog.clear()
    async with recruit_api(infra, smtp_host="", dev_log_emails=True) as api:
        addr = _addr()
        await _register(api, addr)
        assert re.search(rf"login code for {re.escape(addr)}: \d{{6}}", caplog.text)


async def test_smtp_tls_is_verified_and_can_be_required(infra: Infra, tmp_path: Path) -> None:
    # a mail server offering STARTTLS with a certificate nobody signed
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    tls_inbox, plain_inbox = Inbox(), Inbox()
    tls = Controller(tls_inbox, hostname="127.0.0.1", port=free_port(), tls_context=server_ctx)
    plain = Controller(plain_inbox, hostname="127.0.0.1", port=free_port())
    tls.start()
    plain.start()
    try:
        cfg = dataclasses.replace(config.load(), smtp_host="127.0.0.1", smtp_user="")

        def msg_to(addr: str) -> Any:
            return mailer._message(cfg, addr, "123456")

        # auto: STARTTLS is used and the certificate checked: an unsigned one is refused, nothing sent
        auto = dataclasses.replace(cfg, smtp_port=tls.port, smtp_tls="auto")
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.to_thread(mailer._send_smtp, auto, msg_to("a@example.com"))
        assert tls_inbox.messages == []
        # require: a server without STARTTLS gets nothing
        required = dataclasses.replace(cfg, smtp_port=plain.port, smtp_tls="require")
        with pytest.raises(mailer.TlsRequired):
            await asyncio.to_thread(mailer._send_smtp, required, msg_to("b@example.com"))
        assert plain_inbox.messages == []
        assert await mailer.send_login_code(required, "b@example.com", "123456") is False
        # the same server is served once its certificate is trusted, and a plain relay with auto
        trusting = ssl.create_default_context(cafile=str(cert))
        original = mailer.tls_context
        mailer.tls_context = lambda: trusting  # type: ignore[assignment] - the trust store, not the mail path
        try:
            await asyncio.to_thread(mailer._send_smtp, auto, msg_to("c@example.com"))
        finally:
            mailer.tls_context = original  # type: ignore[assignment]
        assert [m["To"] for m in tls_inbox.messages] == ["c@example.com"]
        plain_auto = dataclasses.replace(cfg, smtp_port=plain.port, smtp_tls="auto")
        await asyncio.to_thread(mailer._send_smtp, plain_auto, msg_to("d@example.com"))
        assert [m["To"] for m in plain_inbox.messages] == ["d@example.com"]
    finally:
        tls.stop()
        plain.stop()


async def test_the_candidate_token_travels_in_a_header_not_a_path(api: Api) -> None:
    rec = await api.recruiter("Header org")
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=INTERVIEW)
    st, inv = await api.call("POST", f"/api/org/interviews/{iv['id']}/candidates", rec, json={"name": "Hana"})
    token = token_of(inv["link"])
    st, err = await api.call("GET", f"/api/c/{token}")  # the old shape: the token in a logged path
    assert st == 404 and err["error"]["code"] == "not_found"
    st, err = await api.call("POST", f"/api/c/{token}/consent")
    assert st == 404
    st, err = await api.call("GET", "/api/c/state")  # no token at all
    assert st == 404 and err["error"]["code"] == "not_found"
    st, state = await api.cand("GET", "/api/c/state", token)
    assert st == 200 and state["candidate"]["name"] == "Hana" and state["candidate"]["consented"] is False
    async with api.http.get(f"{api.base}/api/c/state", headers={"X-Candidate-Token": "nope"}) as r:
        # one URL for every link: no cache may answer it for another token
        assert r.status == 404 and r.headers["Cache-Control"] == "no-store" and r.headers["Vary"] == "X-Candidate-Token"


async def test_a_webhook_receiver_answering_without_end_is_read_only_64_kib(api: Api) -> None:
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(status=200)
        await resp.prepare(request)
        chunk = b"x" * 65536
        try:
            while True:  # gigabytes, slowly: a dispatcher reading it all would time out
                await resp.write(chunk)
                sent.append(len(chunk))
                await asyncio.sleep(0.01)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return resp

    app = web.Application()
    app.router.add_post("/hook", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        rec = await api.recruiter("Endless org")
        st, org = await api.call("PATCH", "/api/org", rec, json={"webhook_url": f"http://127.0.0.1:{port}/hook"})
        assert st == 200
        st, iv = await api.call("POST", "/api/org/interviews", rec, json={**INTERVIEW, "questions": ["One?"]})
        st, inv = await api.call("POST", f"/api/org/interviews/{iv['id']}/candidates", rec, json={"name": "E"})
        tok = token_of(inv["link"])
        await api.cand("POST", "/api/c/consent", tok)
        st, _ = await api.cand("POST", "/api/c/answers/0/start", tok)
        st, _ = await api.cand("POST", "/api/c/answers/0/finish", tok)
        st, done = await api.cand("POST", "/api/c/complete", tok)
        assert st == 200 and done["candidate"]["status"] == "completed"
        async with asyncio.timeout(30):
            while True:
                st, body = await api.call("GET", "/api/org/webhook-deliveries", rec)
                if body["deliveries"]:
                    break
                await asyncio.sleep(0.05)
        d = body["deliveries"][0]
        assert (d["ok"], d["status_code"], d["state"]) == (True, 200, "delivered"), d
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- 11. candidate caps, CSV


async def _candidate(api: Api, rec: str, interview: dict[str, Any], name: str = "Cand") -> tuple[str, str]:
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=interview)
    assert st == 201, iv
    st, inv = await api.call("POST", f"/api/org/interviews/{iv['id']}/candidates", rec, json={"name": name})
    assert st == 201, inv
    tok = token_of(inv["link"])
    st, _ = await api.cand("POST", "/api/c/consent", tok)
    assert st == 200
    return tok, str(inv["candidate"]["id"])


async def test_attempts_per_question_are_capped_abandoned_ones_included(infra: Infra) -> None:
    async with recruit_api(infra, candidate_spare_attempts=2) as api:
        rec = await api.recruiter("Cap org")
        one = {**INTERVIEW, "questions": [{"text": "Q?", "retakes": 1}]}
        tok, cid = await _candidate(api, rec, one)
        # retakes 1 + 1 + 2 spare = 4 attempts; each new start abandons the open one (a "closed tab")
        for n in range(4):
            st, started = await api.cand("POST", "/api/c/answers/0/start", tok)
            assert st == 201 and started["attempt"] == n + 1, started
        st, err = await api.cand("POST", "/api/c/answers/0/start", tok)
        assert st == 409 and err["error"]["code"] == "too_many_attempts"
        st, state = await api.cand("GET", "/api/c/state", tok)
        assert st == 200 and state["answered"] == 0
        attempts = await api.pool.fetchval(
            "SELECT count(*) FROM candidate_answers WHERE candidate_id = $1", uuid.UUID(cid)
        )
        assert attempts == 4  # the refused start created nothing
        # the open attempt can still be finished, and another candidate is served
        st, _ = await api.cand("POST", "/api/c/answers/0/finish", tok)
        assert st == 200
        other, _ = await _candidate(api, rec, one, "Other")
        st, started = await api.cand("POST", "/api/c/answers/0/start", other)
        assert st == 201


async def test_recorded_seconds_per_candidate_are_capped(infra: Infra) -> None:
    async with recruit_api(infra, candidate_max_recorded_seconds=100.0) as api:
        rec = await api.recruiter("Seconds org")
        two = {**INTERVIEW, "questions": [{"text": "A?", "retakes": 3}, {"text": "B?", "retakes": 3}]}
        tok, _ = await _candidate(api, rec, two)
        st, started = await api.cand("POST", "/api/c/answers/0/start", tok)
        assert st == 201
        st, _ = await api.cand("POST", "/api/c/answers/0/finish", tok)
        owner = await api.pool.fetchval("SELECT user_id FROM sessions WHERE id = $1", uuid.UUID(started["session_id"]))
        # what a media node reports when it ends an attempt that recorded 100 s
        await sessions_store.mark_ended(api.pool, owner, uuid.UUID(started["session_id"]), 100.0, None)
        st, err = await api.cand("POST", "/api/c/answers/1/start", tok)
        assert st == 409 and err["error"]["code"] == "recording_limit_reached"
        st, err = await api.cand("POST", "/api/c/answers/0/start", tok)  # a retake neither
        assert st == 409 and err["error"]["code"] == "recording_limit_reached"
        other, _ = await _candidate(api, rec, two, "Fresh")
        st, _ = await api.cand("POST", "/api/c/answers/0/start", other)
        assert st == 201


async def test_csv_export_cells_do_not_become_formulas(api: Api) -> None:
    rec = await api.recruiter("Csv org")
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=INTERVIEW)
    names = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-3", "@SUM(A1)", "Plain Name"]
    for name in names:
        st, _ = await api.call("POST", f"/api/org/interviews/{iv['id']}/candidates", rec, json={"name": name})
        assert st == 201
    st, text = await api.call("GET", f"/api/org/interviews/{iv['id']}/export.csv", rec)
    assert st == 200
    got = {row["name"] for row in csv.DictReader(io.StringIO(text))}
    assert got == {"'" + n for n in names[:-1]} | {"Plain Name"}


# ---------------------------------------------------------------- 12. recording paths


async def test_recording_paths_outside_the_recordings_folder_are_neither_served_nor_deleted(
    api: Api, tmp_path: Path
) -> None:
    token = await _verified_user(api)
    st, me = await api.call("GET", "/api/me", token)
    uid = uuid.UUID(me["user"]["id"])
    outside = tmp_path / "precious.webm"
    outside.write_bytes(b"not yours")
    st, s = await api.call("POST", "/api/sessions", token, json={"title": "forged path"})
    sid = uuid.UUID(s["id"])
    await sessions_store.mark_ended(api.pool, uid, sid, 1.0, str(outside))  # a forged/stale row
    st, err = await api.call("GET", f"/api/sessions/{sid}/recording", token)
    assert st == 404 and err["error"]["code"] == "no_recording"
    st, _ = await api.call("DELETE", f"/api/sessions/{sid}", token)
    assert st == 204
    assert outside.read_bytes() == b"not yours"
    # a path inside the folder (what media nodes write) is served
    st, s = await api.call("POST", "/api/sessions", token, json={"title": "real"})
    sid = uuid.UUID(s["id"])
    inside = api.cfg.recordings_dir / f"{sid}.webm"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(b"\x1a\x45\xdf\xa3 webm bytes")
    await sessions_store.mark_ended(api.pool, uid, sid, 1.0, str(inside))
    st, body = await api.call("GET", f"/api/sessions/{sid}/recording", token)
    assert st == 200
    st, _ = await api.call("DELETE", f"/api/sessions/{sid}", token)
    assert st == 204 and not inside.exists()


# ---------------------------------------------------------------- 9. résumé bombs, on the stack


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]


def _docx(text: str, extra: tuple[str, int] | None = None) -> bytes:
    """A real .docx (python-docx), optionally with one more part of ``size`` zero bytes (a bomb)."""
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    plain = io.BytesIO()
    d.save(plain)
    if extra is None:
        return plain.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for info in src.infolist():
            z.writestr(info, src.read(info.filename))
        name, size = extra
        with z.open(name, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(size >> 20):
                f.write(chunk)
    return out.getvalue()


def _pdf_bomb(size: int) -> bytes:
    """A one-page PDF whose content stream is ``size`` zero bytes, Flate-compressed (about 1/1000 of it)."""
    import zlib

    z = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    stream = b"".join(z.compress(chunk) for _ in range(size >> 20)) + z.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


async def test_a_docx_bomb_is_refused_and_signaling_memory_does_not_grow(stack: Stack) -> None:
    addr = _addr("resume")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{stack.base_url}/api/auth/register", json={"email": addr, "password": PASSWORD, "name": "R"}
        ) as r:
            assert r.status == 201
            token = (await r.json())["token"]
        await asyncio.to_thread(stack.confirm_email, token, addr)
        auth = {"Authorization": f"Bearer {token}"}

        async def upload(name: str, data: bytes) -> tuple[int, Any]:
            form = aiohttp.FormData()
            form.add_field("file", data, filename=name)
            async with http.post(f"{stack.base_url}/api/resume/extract", data=form, headers=auth) as r:
                return r.status, await r.json()

        bomb = _docx("Decoy", ("word/media/image1.png", 1 << 30))  # ~1 MB that inflates to 1 GiB
        assert len(bomb) < 2 * 1024 * 1024
        pid = stack.procs["signaling"].pid
        before = _rss_kib(pid)
        for _ in range(3):
            st, err = await upload("cv.docx", bomb)
            assert st == 413 and err["error"]["code"] == "file_too_complex", err
        many = io.BytesIO()
        with zipfile.ZipFile(many, "w") as z:
            for i in range(2000):
                z.writestr(f"word/p{i}.xml", b"<w/>")
        st, err = await upload("cv.docx", many.getvalue())
        assert st == 413 and err["error"]["code"] == "file_too_complex", err
        # a PDF whose one page inflates to 1 GiB: parsed in the limited child, which gives up
        st, err = await upload("cv.pdf", _pdf_bomb(1 << 30))
        assert (st, err["error"]["code"]) in {(413, "file_too_complex"), (400, "unreadable_file")}, err
        grown_mib = (_rss_kib(pid) - before) / 1024
        assert grown_mib < 40, f"signaling grew by {grown_mib:.0f} MiB"
        assert stack.procs["signaling"].poll() is None
        # the next normal résumé is read
        st, body = await upload("cv.docx", _docx("Senior engineer at Acme, 8 years of Python"))
        assert st == 200 and "Senior engineer at Acme" in body["text"], body
