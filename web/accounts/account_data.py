"""The user's own data: ``GET /api/me/export`` (one zip, streamed), ``DELETE /api/me`` (erase the account,
confirmed by the password or, for password-less accounts, an e-mailed code from ``POST /api/me/delete-code``)
and ``SESSION_RETENTION_DAYS`` for assistant and mock sessions.

The export is written to the response as it is built: JSON per session, the session's transcript (WebVTT)
and its recording files, read in 1 MiB chunks; memory stays bounded by one chunk plus one session's rows.
Erasing stops live media, removes recordings and event streams, then the rows (interview_room.store.
account_data.erase_account); the credit ledger and payments are kept, anonymised, for the accounts.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from aiohttp import web

from interview_room.bus import events_stream
from interview_room.config import Config
from interview_room.service import every
from interview_room.store import account_data, users
from interview_room.store import sessions as sessions_store
from interview_room.store.sessions import Session
from signaling import media_nodes
from web.common import mailer
from web.common.context import Services, services
from web.common.errors import ApiError
from web.common.tokens import keyed_hash
from web.common.validation import parse, read_json, string
from web.sessions import recordings, webvtt

from . import passwords, ratelimit
from .auth import clear_auth_cookie, current_user

log = logging.getLogger("signaling.account_data")

CHUNK = 1 << 20
RETENTION_INTERVAL_S = 3600.0
DELETE_SPEC = {"password": string(max_len=1024, strip=False), "code": string(max_len=20)}


# ---------------------------------------------------------------- export


class _Sink(io.RawIOBase):
    """What ``zipfile`` writes into; the handler takes the bytes out after each step (never seekable, so the
    zip uses data descriptors and needs no going back)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.buf += b
        return len(b)

    def take(self) -> bytes:
        out = bytes(self.buf)
        self.buf.clear()
        return out


def recording_files(cfg: Config, s: Session) -> list[Path]:
    """The session's files in the recordings folder (the recording, its parts, the joined file)."""
    folders = {cfg.recordings_dir}
    stored = recordings.safe_recording_path(cfg, s.recording_path)
    if stored is not None:
        folders.add(stored.parent)
    found: set[Path] = set()
    for folder in folders:
        if folder.is_dir():
            found.update(p for p in folder.glob(f"{s.id}*") if p.is_file())
    return sorted(p for p in found if recordings.safe_recording_path(cfg, p) is not None)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str).encode()


async def export(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    user = current_user(request)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    resp = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="interview-room-export-{stamp}.zip"',
            "Cache-Control": "private, no-store",
        }
    )
    await resp.prepare(request)
    sink = _Sink()
    files = 0
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zf:

        async def put(name: str, data: bytes) -> None:
            zf.writestr(name, data)
            await resp.write(sink.take())

        await put(
            "README.txt",
            b"Everything Interview Room keeps about your account: account.json (profile), billing.json "
            b"(payments and the credit ledger), and per session a folder with session.json (the session, its "
            b"transcript rows, questions, answers, scores, reports, summaries), transcript.vtt and the recording files.\n",
        )
        await put("account.json", _dumps(await account_data.account_row(svc.pool, user.id)))
        await put("billing.json", _dumps(await account_data.billing_rows(svc.pool, user.id)))
        for sid in await account_data.export_session_ids(svc.pool, user.id):
            es = await account_data.export_session(svc.pool, user.id, sid)
            if es is None:  # deleted while exporting
                continue
            folder = f"sessions/{es.created_at:%Y-%m-%d}_{es.id}"
            tables = await account_data.session_tables(svc.pool, user.id, es.id)
            await put(f"{folder}/session.json", _dumps({"session": es.row, **tables}))
            caps = await sessions_store.captions(svc.pool, user.id, es.id)
            await put(f"{folder}/transcript.vtt", webvtt.render(caps, None).encode())
            s = await sessions_store.get_session(svc.pool, user.id, es.id)
            for path in recording_files(svc.cfg, s) if s is not None else []:
                info = zipfile.ZipInfo(f"{folder}/recording/{path.name}", date_time=datetime.now(UTC).timetuple()[:6])
                info.compress_type = zipfile.ZIP_STORED  # webm is compressed already
                try:
                    src = path.open("rb")
                except FileNotFoundError:
                    continue
                with src, zf.open(info, "w", force_zip64=True) as dest:
                    while chunk := await asyncio.to_thread(src.read, CHUNK):
                        dest.write(chunk)
                        await resp.write(sink.take())
                files += 1
    await resp.write(sink.take())
    await resp.write_eof()
    log.info("account exported user=%s files=%d", user.id, files)
    return resp


# ---------------------------------------------------------------- delete


def _code_hash(svc: Services, addr: str, code: str) -> str:
    return keyed_hash(svc.secret, "account-delete", f"{addr}:{code}")


async def delete_code(request: web.Request) -> web.Response:
    """E-mail a code that confirms deleting the account (for accounts without a password; any may use it)."""
    svc = services(request)
    user = current_user(request)
    await ratelimit.acquire(svc.redis, (ratelimit.SEND_PER_EMAIL, user.email))
    code = f"{secrets.randbelow(1_000_000):06d}"
    await users.create_login_code(svc.pool, user.email, _code_hash(svc, user.email, code))
    text = (
        f"Your code to delete your Interview Room account: {code}\n\n"
        "Entering it deletes your sessions, recordings and profile for good. If you did not ask for this, "
        "ignore this e-mail and consider changing your password.\n"
    )
    svc.tasks.spawn(mailer.send_email(svc.cfg, user.email, "Confirm deleting your account", text), "delete-code")
    log.info("account deletion code sent user=%s", user.id)
    return web.json_response({}, status=202)


async def _confirmed(svc: Services, user: Any, body: dict[str, Any]) -> bool:
    if body.get("password"):
        if not user.password_hash:
            return False
        return await passwords.verify_password(user.password_hash, body["password"])
    code = str(body.get("code") or "").replace(" ", "")
    return (
        code.isdigit()
        and len(code) == 6
        and await users.consume_login_code(svc.pool, user.email, _code_hash(svc, user.email, code))
    )


async def erase_sessions_media(svc: Services, user_id: UUID) -> int:
    """Stop live media and remove recordings and event streams of every session of the user; files removed."""
    removed = 0
    for ref in await account_data.session_refs(svc.pool, user_id):
        s = await sessions_store.get_session(svc.pool, user_id, ref.id)
        if s is None:
            continue
        removed += await _erase_session_media(svc, s)
    return removed


async def _erase_session_media(svc: Services, s: Session) -> int:
    if s.media_node and s.status != "ended":
        await media_nodes.end_on_node(svc.http, s.media_node, str(s.id), svc.internal_token)
    n = len(recordings.delete_files(svc.cfg, s))
    await svc.redis.delete(events_stream(str(s.id)))
    return n


async def delete_account(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    body = parse(await read_json(request), DELETE_SPEC)
    if not body.get("password") and not body.get("code"):
        field = "password" if user.password_hash else "code"
        raise ApiError(
            400,
            "validation_error",
            f"Confirm with your {'password' if user.password_hash else 'e-mailed code'}",
            field=field,
        )
    limit = (ratelimit.LOGIN_PER_EMAIL, user.email)
    await ratelimit.acquire(svc.redis, limit)  # counted before the check, like a login
    try:
        ok = await _confirmed(svc, user, body)
    except BaseException:
        await ratelimit.release(svc.redis, limit)
        raise
    if not ok:
        raise ApiError(
            403,
            "invalid_credentials",
            "The password or code is wrong",
            field="password" if body.get("password") else "code",
        )
    await ratelimit.release(svc.redis, limit)
    if await account_data.owns_organisation(svc.pool, user.id):
        raise ApiError(409, "owns_organisation", "Delete your recruiting organisation (or hand it over) first")
    files = await erase_sessions_media(svc, user.id)
    erased = await account_data.erase_account(svc.pool, user.id, user.email)
    log.info(
        "account erased user=%s sessions=%d tokens=%d files_removed=%d ledger_rows_kept=%d payments_kept=%d",
        user.id,
        erased.sessions,
        erased.tokens,
        files,
        erased.ledger_rows_kept,
        erased.payments_kept,
    )
    resp = web.Response(status=204)
    clear_auth_cookie(resp)
    return resp


# ---------------------------------------------------------------- retention


class SessionRetentionSweeper:
    """Erases assistant and mock sessions ``SESSION_RETENTION_DAYS`` after they ended (0 = keep)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def sweep(self) -> int:
        days = self.svc.cfg.session_retention_days
        if days <= 0:
            return 0
        erased = 0
        for ref in await account_data.sessions_past_retention(self.svc.pool, days * 86400.0):
            s = await sessions_store.get_session(self.svc.pool, ref.user_id, ref.id)
            if s is None:
                continue
            await _erase_session_media(self.svc, s)
            await sessions_store.delete_session(self.svc.pool, s.user_id, s.id)
            erased += 1
        if erased:
            log.info("retention: sessions erased=%d older_than_days=%s", erased, days)
        return erased

    async def run(self, interval_s: float = RETENTION_INTERVAL_S) -> None:
        await every(interval_s, self.sweep, "session retention sweep")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/me/export", export)
    app.router.add_post("/api/me/delete-code", delete_code)
    app.router.add_delete("/api/me", delete_account)
