"""The user's own data over HTTP on real Postgres/Redis: the export holds the user's data and none of another
user's; deleting the account removes its rows and files, keeps the ledger anonymised and logs it out;
SESSION_RETENTION_DAYS erases old assistant/mock sessions. Another user stays untouched throughout."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from conftest import Infra
from test_billing import Api, running_app

from interview_room.store import credits
from web.accounts.account_data import SessionRetentionSweeper
from web.common.context import SERVICES

PASSWORD = "pw-123456789"


@pytest_asyncio.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with running_app(infra, dev_log_emails=True) as a:
        yield a


@dataclass
class Person:
    token: str
    user_id: uuid.UUID
    email: str
    session_id: uuid.UUID
    files: list[Path]


async def _person(api: Api, infra: Infra, marker: str) -> Person:
    """A verified user with one ended session: captions, a question and answer, a report, recording parts, usage."""
    email = f"{marker}-{uuid.uuid4().hex[:8]}@example.com"
    token, uid = await api.register(email)
    status, body = await api.call(
        "POST", "/api/sessions", token, json={"title": f"Interview {marker}", "mode": "assistant"}
    )
    assert status == 201, body
    sid = uuid.UUID(body["id"] if "id" in body else body["session"]["id"])
    pool = api.pool
    await pool.execute("UPDATE sessions SET status = 'ended', ended_at = now() WHERE id = $1", sid)
    await pool.execute(
        "INSERT INTO captions (id, session_id, role, seq, t0, t1, text, lang) VALUES ($1, $2, 'interviewer', 1, 0, 2, $3, 'en')",
        f"c-{sid}",
        sid,
        f"Tell me about yourself {marker}",
    )
    await pool.execute(
        "INSERT INTO questions (id, session_id, text, lang) VALUES ($1, $2, $3, 'en')",
        f"q-{sid}",
        sid,
        f"Question {marker}",
    )
    await pool.execute(
        "INSERT INTO answers (question_id, session_id, text, lang) VALUES ($1, $2, $3, 'en')",
        f"q-{sid}",
        sid,
        f"Answer {marker}",
    )
    async with pool.acquire() as conn:
        await credits.debit(conn, uid, sid, 90.0)
    rec = infra.data_dir / "recordings"
    rec.mkdir(parents=True, exist_ok=True)
    files = [rec / f"{sid}.webm", rec / f"{sid}.2.webm"]
    for i, f in enumerate(files):
        f.write_bytes(f"webm {marker} part {i} ".encode() * 5000)
    await pool.execute("UPDATE sessions SET recording_path = $2 WHERE id = $1", sid, str(files[0]))
    return Person(token, uid, email, sid, files)


async def _counts(pool: asyncpg.Pool, p: Person) -> dict[str, int]:
    q = {
        "sessions": "SELECT count(*) FROM sessions WHERE user_id = $1",
        "captions": "SELECT count(*) FROM captions c JOIN sessions s ON s.id = c.session_id WHERE s.user_id = $1",
        "answers": "SELECT count(*) FROM answers a JOIN sessions s ON s.id = a.session_id WHERE s.user_id = $1",
        "tokens": "SELECT count(*) FROM auth_tokens WHERE user_id = $1",
        "ledger": "SELECT count(*) FROM credit_ledger WHERE user_id = $1",
    }
    out = {k: int(await pool.fetchval(sql, p.user_id)) for k, sql in q.items()}
    out["orphan_captions"] = int(
        await pool.fetchval("SELECT count(*) FROM captions WHERE session_id = $1", p.session_id)
    )
    return out


async def _export(api: Api, token: str) -> zipfile.ZipFile:
    async with api.http.get(api.base + "/api/me/export", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200, await r.text()
        assert r.content_type == "application/zip"
        assert "attachment" in r.headers["Content-Disposition"]
        assert "Content-Length" not in r.headers  # streamed as it is built
        data = await r.read()
    return zipfile.ZipFile(io.BytesIO(data))


async def test_export_holds_the_users_data_and_none_of_anothers(api: Api, infra: Infra) -> None:
    alice = await _person(api, infra, "alice")
    bob = await _person(api, infra, "bob")
    zf = _z = await _export(api, alice.token)
    names = zf.namelist()
    assert {"README.txt", "account.json", "billing.json"} <= set(names)
    folder = next(n.rsplit("/", 1)[0] for n in names if n.endswith("session.json"))
    assert str(alice.session_id) in folder
    session = zf.read(f"{folder}/session.json").decode()
    assert "Question alice" in session and "Answer alice" in session and "Tell me about yourself alice" in session
    assert "Tell me about yourself alice" in zf.read(f"{folder}/transcript.vtt").decode()
    for f in alice.files:
        assert zf.read(f"{folder}/recording/{f.name}") == f.read_bytes()
    assert alice.email in zf.read("account.json").decode()
    assert "password" not in zf.read("account.json").decode()
    billing = zf.read("billing.json").decode()
    assert str(alice.session_id) in billing and "debit" in billing
    everything = b"".join(zf.read(n) for n in names)
    for secret in (bob.email, str(bob.session_id), str(bob.user_id), "bob"):
        assert secret.encode() not in everything
    assert _z.testzip() is None


async def test_export_needs_a_signed_in_user(api: Api) -> None:
    status, body = await api.call("GET", "/api/me/export")
    assert status == 401


async def test_delete_needs_the_password_and_then_removes_everything_but_the_anonymised_ledger(
    api: Api, infra: Infra
) -> None:
    alice = await _person(api, infra, "alice")
    bob = await _person(api, infra, "bob")
    bob_before = await _counts(api.pool, bob)
    ledger_before = (await _counts(api.pool, alice))["ledger"]
    balance_sum = float(
        await api.pool.fetchval("SELECT sum(seconds) FROM credit_ledger WHERE user_id = $1", alice.user_id)
    )

    status, body = await api.call(
        "DELETE", "/api/me", alice.token, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and "error" in body
    status, body = await api.call("DELETE", "/api/me", alice.token, json={"password": 5})
    assert status == 400 and body["error"]["code"] == "validation_error"
    status, body = await api.call("DELETE", "/api/me", alice.token, json={})
    assert status == 400 and body["error"]["field"] == "password"
    status, body = await api.call("DELETE", "/api/me", alice.token, json={"password": "wrong-password-1"})
    assert status == 403 and body["error"]["code"] == "invalid_credentials"
    assert (await _counts(api.pool, alice))["sessions"] == 1 and all(f.exists() for f in alice.files)

    status, _ = await api.call("DELETE", "/api/me", alice.token, json={"password": PASSWORD})
    assert status == 204
    after = await _counts(api.pool, alice)
    assert after == {
        "sessions": 0,
        "captions": 0,
        "answers": 0,
        "tokens": 0,
        "ledger": ledger_before,
        "orphan_captions": 0,
    }
    assert not any(f.exists() for f in alice.files)
    assert not list((infra.data_dir / "recordings").glob(f"{alice.session_id}*"))
    # the ledger stays, summing to the same, on a row that holds no personal data
    assert float(
        await api.pool.fetchval("SELECT sum(seconds) FROM credit_ledger WHERE user_id = $1", alice.user_id)
    ) == pytest.approx(balance_sum)
    row = await api.pool.fetchrow("SELECT email, name, password_hash FROM users WHERE id = $1", alice.user_id)
    assert row["email"].endswith("@erased.invalid") and alice.email not in row["email"]
    assert (row["name"], row["password_hash"]) == ("", None)
    assert not await api.pool.fetchval("SELECT 1 FROM users WHERE lower(email) = lower($1)", alice.email)
    # signed out: the token answers 401, and the address can sign up anew
    status, _ = await api.call("GET", "/api/me", alice.token)
    assert status == 401
    status, _ = await api.call("POST", "/api/auth/register", json={"email": alice.email, "password": PASSWORD})
    assert status == 201

    # bob untouched: rows, files, token
    assert await _counts(api.pool, bob) == bob_before
    assert all(f.exists() for f in bob.files)
    status, _ = await api.call("GET", f"/api/sessions/{bob.session_id}", bob.token)
    assert status == 200


async def test_a_password_less_account_confirms_with_an_emailed_code(
    api: Api, infra: Infra, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    carol = await _person(api, infra, "carol")
    await api.pool.execute("UPDATE users SET password_hash = NULL WHERE id = $1", carol.user_id)
    status, body = await api.call("DELETE", "/api/me", carol.token, json={"password": PASSWORD})
    assert status == 403
    status, body = await api.call("DELETE", "/api/me", carol.token, json={"code": "123456"})
    assert status == 403 and body["error"]["field"] == "code"
    status, _ = await api.call("POST", "/api/me/delete-code", carol.token)
    assert status == 202
    code = None
    for _ in range(100):
        m = re.search(r"delete your Interview Room account: (\d{6})", caplog.text)
        if m:
            code = m.group(1)
            break
        await asyncio.sleep(0.05)
    assert code is not None
    assert (await _counts(api.pool, carol))["sessions"] == 1
    status, _ = await api.call("DELETE", "/api/me", carol.token, json={"code": code})
    assert status == 204
    assert (await _counts(api.pool, carol))["sessions"] == 0
    assert not any(f.exists() for f in carol.files)
    assert await api.pool.fetchval("SELECT count(*) FROM login_codes WHERE lower(email) = lower($1)", carol.email) == 0
    status, body = await api.call("DELETE", "/api/me", carol.token, json={"code": code})
    assert status == 401  # signed out; the code is gone with the account


async def test_session_retention_erases_old_assistant_sessions_only(api: Api, infra: Infra) -> None:
    old = await _person(api, infra, "olduser")
    recent = await _person(api, infra, "recent")
    await api.pool.execute("UPDATE sessions SET ended_at = now() - interval '40 days' WHERE id = $1", old.session_id)
    svc = api_services(api)
    assert await SessionRetentionSweeper(svc).sweep() == 0  # SESSION_RETENTION_DAYS=0 keeps everything
    assert (await _counts(api.pool, old))["sessions"] == 1
    keep_30 = dataclasses.replace(svc, cfg=dataclasses.replace(svc.cfg, session_retention_days=30))
    assert await SessionRetentionSweeper(keep_30).sweep() >= 1
    assert (await _counts(api.pool, old))["sessions"] == 0
    assert not any(f.exists() for f in old.files)
    assert (await _counts(api.pool, old))["ledger"] >= 2  # the usage stays in the ledger
    assert (await _counts(api.pool, recent))["sessions"] == 1
    assert all(f.exists() for f in recent.files)


def api_services(api: Api) -> Any:
    return api.app[SERVICES]
