"""Unguessable public links: the database keeps a keyed hash of the token, never the token.

A candidate's token is derived (HMAC with SECRET_KEY) from the candidate id and a random nonce kept
on the row, so the recruiter can copy the link again and reminders can carry it, while a leaked
table holds nothing that opens a link. A new nonce is a new link; the old one stops working.
Team invitations use plain random tokens (they are sent once).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

from aiohttp import web

from web.common.context import Services, services
from web.common.tokens import keyed_hash


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def candidate_token(secret: bytes, candidate_id: uuid.UUID, nonce: str) -> str:
    mac = hmac.new(secret, f"candidate-link:{candidate_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def token_hash(svc: Services, purpose: str, token: str) -> str:
    return keyed_hash(svc.secret, purpose, token)


def base_url_of(svc: Services, request: web.Request | None = None) -> str:
    """PUBLIC_URL, else ``http://HTTP_HOST:HTTP_PORT``; never the request's Host header, which the
    client writes (a forged Host would put an attacker's site into e-mails and ATS webhooks)."""
    if svc.cfg.public_url:
        return svc.cfg.public_url.rstrip("/")
    return f"http://{svc.cfg.http_host}:{svc.cfg.http_port}"


def base_url(request: web.Request) -> str:
    return base_url_of(services(request))


def candidate_url(base: str, token: str) -> str:
    """The token is in the fragment: it never reaches access logs or a Referer header."""
    return f"{base}/c.html#{token}"


def candidate_link(request: web.Request, token: str) -> str:
    return candidate_url(base_url(request), token)


def join_link(request: web.Request, token: str) -> str:
    return f"{base_url(request)}/recruit/join.html#{token}"
