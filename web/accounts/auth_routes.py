"""/api/auth/*: register, password login, one-time code login, logout.

E-mail verification reuses the code login: registering sends a code to the address, and entering it
(``/api/auth/verify-code``) in the browser that registered (its token rides along) verifies the
account. Until then the account may look around but not spend anything (``auth.UNVERIFIED_WRITES``).
A code sign-in from anywhere else to an unverified account is its address's owner taking it back
from whoever registered it: their password is cleared and their tokens revoked.
"""

from __future__ import annotations

import contextlib
import logging
import secrets

from aiohttp import web

from interview_room.store import users
from interview_room.store.users import User
from web.common import mailer
from web.common.context import Services, services
from web.common.errors import ApiError
from web.common.serialize import user_json
from web.common.tokens import keyed_hash, token_id_of
from web.common.validation import email, parse, password, read_json, string

from . import passwords, ratelimit
from .auth import (
    clear_auth_cookie,
    current_token_id,
    current_user,
    issue_token,
    presented_token_id,
    set_auth_cookie,
)

log = logging.getLogger("signaling.auth")

REGISTER_SPEC = {"email": email, "password": password, "name": string(max_len=100)}
LOGIN_SPEC = {"email": email, "password": string(max_len=1024, strip=False)}
CODE_REQUEST_SPEC = {"email": email}
CODE_VERIFY_SPEC = {"email": email, "code": string(max_len=20)}


async def _signed_in(
    request: web.Request, svc: Services, user: User, status: int, token: str | None = None
) -> web.Response:
    token = token or await issue_token(svc, user)
    resp = web.json_response({"user": user_json(user), "token": token}, status=status)
    set_auth_cookie(resp, request, svc, token)
    return resp


async def register(request: web.Request) -> web.Response:
    svc = services(request)
    body = parse(await read_json(request), REGISTER_SPEC, required=("email", "password"))
    # each account gets free credits: one address cannot farm them (0 = no limit)
    per_ip = (ratelimit.Limit("register:ip", svc.cfg.register_per_ip_hour, 3600), ratelimit.client_ip(request, svc.cfg))
    await ratelimit.acquire(svc.redis, per_ip)
    created = False
    try:
        pw_hash = await passwords.hash_password(body["password"])
        user = await users.create_user(svc.pool, body["email"], body.get("name", ""), pw_hash)
        created = True
    except users.EmailTaken:
        raise ApiError(409, "email_taken", "An account with this e-mail already exists; sign in instead") from None
    finally:
        if not created:  # only accounts made count
            await ratelimit.release(svc.redis, per_ip)
    log.info("user registered user=%s", user.id)
    await _new_code(svc, user.email)  # the verification code (once per address: it is new)
    token = await issue_token(svc, user)
    # only this token (the browser that registered) verifies the address and keeps the password
    await svc.redis.set(_registrant_key(user), token_id_of(svc.secret, token) or "", ex=svc.cfg.token_ttl_seconds)
    return await _signed_in(request, svc, user, 201, token)


def _registrant_key(user: User) -> str:
    return f"registrant:{user.id}"


async def login(request: web.Request) -> web.Response:
    svc = services(request)
    body = parse(await read_json(request), LOGIN_SPEC, required=("email", "password"))
    addr, ip = body["email"], ratelimit.client_ip(request, svc.cfg)
    limits = ((ratelimit.LOGIN_PER_EMAIL, addr), (ratelimit.LOGIN_PER_IP, ip))
    # counted before the password is checked, in one step: concurrent guesses cannot all pass the check
    await ratelimit.acquire(svc.redis, *limits)
    try:
        user = await users.get_user_by_email(svc.pool, addr)
        ok = await passwords.verify_password(user.password_hash if user else None, body["password"])
    except BaseException:
        await ratelimit.release(svc.redis, *limits)  # not checked (hasher busy, error): not an attempt
        raise
    if user is None or not ok:
        raise ApiError(401, "invalid_credentials", "Wrong e-mail or password")
    await ratelimit.reset(svc.redis, ratelimit.LOGIN_PER_EMAIL, addr)
    await ratelimit.release(svc.redis, (ratelimit.LOGIN_PER_IP, ip))  # signing in is not a failed attempt
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        with contextlib.suppress(passwords.HashingBusy):  # then at the next sign-in
            await users.set_password_hash(svc.pool, user.id, await passwords.hash_password(body["password"]))
    return await _signed_in(request, svc, user, 200)


async def login_code(request: web.Request) -> web.Response:
    """Always 202, whether or not the address has an account (no account probing)."""
    svc = services(request)
    body = parse(await read_json(request), CODE_REQUEST_SPEC, required=("email",))
    addr, ip = body["email"], ratelimit.client_ip(request, svc.cfg)
    limits = ((ratelimit.SEND_PER_EMAIL, addr), (ratelimit.SEND_PER_IP, ip))
    await ratelimit.acquire(svc.redis, *limits)
    user = await users.get_user_by_email(svc.pool, addr)
    if user is None:
        log.info("login code requested for an address without an account")
        return web.json_response({}, status=202)
    await _new_code(svc, addr)
    return web.json_response({}, status=202)


async def _new_code(svc: Services, addr: str) -> None:
    code = f"{secrets.randbelow(1_000_000):06d}"
    await users.create_login_code(svc.pool, addr, _code_hash(svc, addr, code))
    if svc.cfg.smtp_host:
        svc.tasks.spawn(mailer.send_login_code(svc.cfg, addr, code), "send-login-code")
    else:
        await mailer.send_login_code(svc.cfg, addr, code)


def _code_hash(svc: Services, addr: str, code: str) -> str:
    return keyed_hash(svc.secret, "login-code", f"{addr}:{code}")


async def verify_code(request: web.Request) -> web.Response:
    svc = services(request)
    body = parse(await read_json(request), CODE_VERIFY_SPEC, required=("email", "code"))
    addr, ip = body["email"], ratelimit.client_ip(request, svc.cfg)
    limits = ((ratelimit.CODE_PER_EMAIL, addr), (ratelimit.CODE_PER_IP, ip))
    await ratelimit.acquire(svc.redis, *limits)  # counted before the code is checked (see login)
    try:
        code = body["code"].replace(" ", "")
        ok = code.isdigit() and len(code) == 6 and await users.consume_login_code(svc.pool, addr, _code_hash(svc, addr, code))
        user = await users.get_user_by_email(svc.pool, addr) if ok else None
    except BaseException:
        await ratelimit.release(svc.redis, *limits)
        raise
    if user is None:
        raise ApiError(401, "invalid_code", "The code is wrong, used or expired; ask for a new one")
    await ratelimit.reset(svc.redis, ratelimit.CODE_PER_EMAIL, addr)
    await ratelimit.release(svc.redis, (ratelimit.CODE_PER_IP, ip))
    if not user.email_verified:
        registrant = await svc.redis.get(_registrant_key(user))
        if registrant and presented_token_id(request, svc) == registrant.decode():  # its password stays
            await users.mark_email_verified(svc.pool, user.id)
            log.info("e-mail verified user=%s", user.id)
        else:
            revoked = await users.claim_unverified(svc.pool, user.id)
            log.warning(
                "unverified account signed in by its address' owner: password cleared user=%s tokens_revoked=%s",
                user.id,
                revoked,
            )
        await svc.redis.delete(_registrant_key(user))
        user = await users.get_user(svc.pool, user.id) or user
    return await _signed_in(request, svc, user, 200)


async def logout(request: web.Request) -> web.Response:
    svc = services(request)
    await users.revoke_token(svc.pool, current_user(request).id, current_token_id(request))
    resp = web.Response(status=204)
    clear_auth_cookie(resp)
    return resp


def setup(app: web.Application) -> None:
    app.router.add_post("/api/auth/register", register)
    app.router.add_post("/api/auth/login", login)
    app.router.add_post("/api/auth/login-code", login_code)
    app.router.add_post("/api/auth/verify-code", verify_code)
    app.router.add_post("/api/auth/logout", logout)
