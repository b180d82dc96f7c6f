"""What signaling and the media nodes share about the nodes' internal HTTP API (docs/internals.md).

Why a credential on an internal port: in Kubernetes a media node listens on its host's address
(hostNetwork) and coturn relays to the media nodes, so "only signaling can reach it" is not a
guarantee. Every ``/internal/*`` call carries ``Authorization: Bearer <INTERNAL_TOKEN>``; a node
refuses a call without it (401) or with another one (403) before doing anything.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from .config import Config

TOKEN_FILE = "internal_token"
TROUBLESHOOT_SECONDS = 120.0  # a troubleshooting peer is closed by its node after this at the latest


def internal_token(cfg: Config) -> str:
    """INTERNAL_TOKEN from the environment; for a local run without one, a random token kept in
    DATA_DIR, so `interview-room run` and every process started on the same DATA_DIR share it."""
    if cfg.internal_token:
        return cfg.internal_token
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    return _shared_file_token(cfg.data_dir / TOKEN_FILE)


def _shared_file_token(path: Path) -> str:
    """Several processes may start at once: the file appears complete (link of a written temp file)
    or not at all, and whoever links first wins."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_urlsafe(32))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def auth_headers(token: str) -> dict[str, str]:
    """The headers of every call to a media node's ``/internal/*`` API."""
    return {"Authorization": f"Bearer {token}"}


def check_authorization(header: str | None, token: str) -> int | None:
    """None when ``header`` carries ``token``; else the status to refuse with: 401 (no credential)
    or 403 (a wrong one). Compared in constant time."""
    if not header:
        return 401
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return 401
    if not token or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return 403
    return None


def troubleshoot_peers_key(user_id: str) -> str:
    """Redis sorted set of a user's troubleshooting peers (member = peer id, score = when it expires
    at the latest): signaling adds one before it forwards the offer, the node removes it when the
    peer closes."""
    return f"troubleshoot:peers:{user_id}"
