"""Bearer tokens: ``<id>.<signature>``.

The id is random and stored in ``auth_tokens`` with its expiry (so a token can be revoked); the
HMAC signature with SECRET_KEY means a forged or mangled token is refused without a database
query, and a leaked table of ids is useless without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def _sign(secret: bytes, token_id: str) -> str:
    mac = hmac.new(secret, b"auth-token:" + token_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def new_token(secret: bytes) -> tuple[str, str]:
    """A fresh (token id, token) pair."""
    token_id = secrets.token_urlsafe(24)
    return token_id, f"{token_id}.{_sign(secret, token_id)}"


def token_id_of(secret: bytes, token: str) -> str | None:
    """The id of a well-signed token, else None."""
    if len(token) > 200 or token.count(".") != 1:
        return None
    token_id, sig = token.split(".")
    if not token_id or not hmac.compare_digest(sig.encode(), _sign(secret, token_id).encode()):
        return None
    return token_id


def keyed_hash(secret: bytes, purpose: str, value: str) -> str:
    """A keyed hash for short secrets (login codes) that a plain hash would not protect."""
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
