"""/api/me (profile, password), /api/config, /api/resume/extract."""

from __future__ import annotations

import logging
import re

from aiohttp import BodyPartReader, web

from interview_room.config import Config
from interview_room.store import credits, users
from signaling.ice import ice_servers_for
from web.common.context import services
from web.common.errors import ApiError
from web.common.serialize import user_json
from web.common.validation import language, parse, password, read_json, string

from . import passwords, ratelimit, resume, resume_sandbox
from .auth import current_token_id, current_user

log = logging.getLogger("signaling.account")

PROFILE_SPEC = {
    "name": string(max_len=100),
    "default_listen_language": language(allow_auto=True),
    "default_answer_language": language(),
    "default_instructions": string(max_len=10_000),
}
PASSWORD_SPEC = {"current_password": string(max_len=1024, strip=False), "new_password": password}


async def get_me(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    balance = await credits.balance(svc.pool, user.id)
    return web.json_response({"user": user_json(user), "plan": user.plan, "credits_seconds": round(balance, 3)})


async def patch_me(request: web.Request) -> web.Response:
    svc = services(request)
    changes = parse(await read_json(request), PROFILE_SPEC)
    user = await users.update_profile(svc.pool, current_user(request).id, changes)
    assert user is not None  # the token's user exists (tokens cascade with the user)
    return web.json_response({"user": user_json(user)})


async def change_password(request: web.Request) -> web.Response:
    """Signs out every other device, as a user changing a leaked password expects. An account without a
    password (signed in by code only, or whose address' owner cleared a password someone else set) sets
    one without ``current_password``."""
    svc = services(request)
    user = current_user(request)
    required = ("current_password", "new_password") if user.password_hash else ("new_password",)
    body = parse(await read_json(request), PASSWORD_SPEC, required=required)
    limit = (ratelimit.LOGIN_PER_EMAIL, user.email)
    await ratelimit.acquire(svc.redis, limit)  # counted before the check, like a login
    try:
        ok = not user.password_hash or await passwords.verify_password(user.password_hash, body["current_password"])
    except BaseException:
        await ratelimit.release(svc.redis, limit)
        raise
    if not ok:
        raise ApiError(403, "invalid_credentials", "The current password is wrong", field="current_password")
    await ratelimit.release(svc.redis, limit)
    await users.set_password_hash(svc.pool, user.id, await passwords.hash_password(body["new_password"]))
    revoked = await users.revoke_other_tokens(svc.pool, user.id, current_token_id(request))
    log.info("password changed user=%s other_tokens_revoked=%d", user.id, revoked)
    return web.Response(status=204)


def ai_provider(cfg: Config) -> str:
    """What the llm worker will use (its LLM_PROVIDER rule): "auto" means OpenAI when configured."""
    provider = cfg.llm_provider
    if provider in ("openai", "offline"):
        return str(provider)
    return "openai" if cfg.openai_api_key or cfg.openai_base_url else "offline"


_URL_RE = re.compile(r"https?://[^\s\"'<>]{1,500}")
_EMAIL_RE = re.compile(r"[^\s@\"'<>]{1,64}@[^\s@\"'<>]{1,255}\.[a-zA-Z]{2,}")


def site_links(cfg: Config) -> dict[str, str]:
    """The links the Links page shows (SOURCE_URL, SUPPORT_EMAIL); an unset or malformed one is left out."""
    links: dict[str, str] = {}
    if _URL_RE.fullmatch(cfg.source_url.strip()):
        links["source_url"] = cfg.source_url.strip()
    if _EMAIL_RE.fullmatch(cfg.support_email.strip()):
        links["support_email"] = cfg.support_email.strip()
    return links


async def get_config(request: web.Request) -> web.Response:
    cfg = services(request).cfg
    user = current_user(request)
    ai = ai_provider(cfg) == "openai"
    return web.json_response(
        {
            "ai_provider": "openai" if ai else "offline",  # the llm worker's choice (offline: no key)
            "translation_available": ai,
            "ice_servers": ice_servers_for(cfg, str(user.id)),
            "payments_configured": bool(cfg.stripe_api_key),
            "links": site_links(cfg),
        }
    )


async def read_upload(request: web.Request) -> tuple[str, bytes]:
    """The one file of a multipart/form-data body (field ``file``), bounded by the request size limit."""
    limit = request.client_max_size
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "body_too_large", f"The file is larger than {limit} bytes")
    if not request.content_type.startswith("multipart/"):
        raise ApiError(400, "validation_error", "Send the file as multipart/form-data in the field 'file'", field="file")
    reader = await request.multipart()
    filename, data = "", b""
    found = False
    async for part in reader:
        name = part.name if isinstance(part, BodyPartReader) else None
        if name != "file" or not isinstance(part, BodyPartReader):
            raise ApiError(400, "unknown_field", f"Unknown field '{name}'", field=str(name))
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(65536):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "body_too_large", f"The file is larger than {limit} bytes")
            chunks.append(chunk)
        filename, data, found = part.filename or "", b"".join(chunks), True
    if not found:
        raise ApiError(400, "validation_error", "file is required", field="file")
    return filename, data


async def document_text(filename: str, data: bytes) -> str:
    """A résumé or CV's text, parsed in the sandbox; hostile or unreadable files answer a clear error."""
    try:
        return await resume_sandbox.extract(filename, data)
    except resume.UnsupportedFile:
        raise ApiError(400, "unsupported_file_type", "Upload a .txt, .pdf or .docx file") from None
    except resume.UnreadableFile as e:
        raise ApiError(400, "unreadable_file", f"Could not read text from the file: {e}") from None
    except resume.TooComplex as e:
        raise ApiError(413, "file_too_complex", f"This file is too large or complex to read: {e}") from None


async def extract_resume(request: web.Request) -> web.Response:
    filename, data = await read_upload(request)
    return web.json_response({"text": await document_text(filename, data)})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/me", get_me)
    app.router.add_patch("/api/me", patch_me)
    app.router.add_post("/api/me/password", change_password)
    app.router.add_get("/api/config", get_config)
    app.router.add_post("/api/resume/extract", extract_resume)
