"""Unguessable public links: the token travels in the link only, the database keeps a keyed hash."""

from __future__ import annotations

import secrets

from aiohttp import web

from ..context import Services, services
from ..tokens import keyed_hash


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(svc: Services, purpose: str, token: str) -> str:
    return keyed_hash(svc.secret, purpose, token)


def base_url(request: web.Request) -> str:
    cfg = services(request).cfg
    return cfg.public_url.rstrip("/") if cfg.public_url else f"{request.scheme}://{request.host}"


def candidate_link(request: web.Request, token: str) -> str:
    """The token is in the fragment: it never reaches access logs or a Referer header."""
    return f"{base_url(request)}/c.html#{token}"


def join_link(request: web.Request, token: str) -> str:
    return f"{base_url(request)}/recruit/join.html#{token}"
