"""Who is asking: bearer token or the ``ir_token`` cookie, checked on every /api path but a few."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from interview_room.store import users
from interview_room.store.users import User
from web.common.context import Services, services
from web.common.errors import Handler, error_response
from web.common.tokens import new_token, token_id_of

log = logging.getLogger("signaling.auth")

COOKIE = "ir_token"
# typed request keys where aiohttp has them (3.12+), plain strings before
_USER: Any = web.RequestKey("ir.user", User) if hasattr(web, "RequestKey") else "ir.user"
_TOKEN_ID: Any = web.RequestKey("ir.token_id", str) if hasattr(web, "RequestKey") else "ir.token_id"
PUBLIC_PATHS = frozenset(
    {
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/login-code",
        "/api/auth/verify-code",
    }
)
# payment gateways authenticate their webhooks by signature; a candidate's link token is its own credential
# the companion (interview-room listen) authenticates with its pairing code, then its X-Companion-Token
PUBLIC_PREFIXES = ("/api/webhooks/", "/api/c/", "/api/companion/", "/api/share/")


# what an account whose e-mail is not verified yet may change (besides reading): "a first look"
UNVERIFIED_WRITES = frozenset({"/api/auth/logout", "/api/me", "/api/me/password"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user(request: web.Request) -> User:
    user: User = request[_USER]
    return user


def current_token_id(request: web.Request) -> str:
    token_id: str = request[_TOKEN_ID]
    return token_id


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    return request.cookies.get(COOKIE)


def presented_token_id(request: web.Request, svc: Services) -> str | None:
    """The id of the token this request carries, on a public path too (where nothing checked it)."""
    token = _presented_token(request)
    return token_id_of(svc.secret, token) if token else None


async def issue_token(svc: Services, user: User) -> str:
    token_id, token = new_token(svc.secret)
    await users.create_token(svc.pool, token_id, user.id, svc.cfg.token_ttl_seconds)
    return token


def set_auth_cookie(resp: web.StreamResponse, request: web.Request, svc: Services, token: str) -> None:
    resp.set_cookie(
        COOKIE,
        token,
        max_age=svc.cfg.token_ttl_seconds,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure or svc.cfg.public_url.startswith("https://"),
    )


def clear_auth_cookie(resp: web.StreamResponse) -> None:
    resp.del_cookie(COOKIE, path="/")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if not (path == "/api" or path.startswith("/api/")) or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    svc = services(request)
    token = _presented_token(request)
    token_id = token_id_of(svc.secret, token) if token else None
    user = await users.user_for_token(svc.pool, token_id) if token_id else None
    if user is None or token_id is None:
        resp = error_response(401, "unauthorized", "Sign in first (missing, expired or revoked token)")
        if COOKIE in request.cookies:
            clear_auth_cookie(resp)
        return resp
    if not user.email_verified and request.method not in READ_METHODS and path not in UNVERIFIED_WRITES:
        return error_response(
            403,
            "email_unverified",
            f"Confirm your e-mail address first: enter the code we sent to {user.email} "
            "(or ask for a new one with 'E-mail me a code' on the sign-in page)",
        )
    request[_USER] = user
    request[_TOKEN_ID] = token_id
    return await handler(request)
