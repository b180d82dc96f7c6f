"""ICE servers for browsers, with short-lived TURN credentials (the TURN REST API scheme coturn checks
with ``use-auth-secret``): username ``<expiry>:<user id>``, password base64(HMAC-SHA1(TURN_SECRET, username)).
The secret never leaves the server and a leaked credential stops working at its expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from interview_room.config import Config


def ice_servers_for(cfg: Config, user_id: str, now: float | None = None) -> list[Any]:
    """STUN URLs as they are; TURN URLs as RTCIceServer dicts with credentials when TURN_SECRET is set."""
    out: list[Any] = []
    expiry = int(now if now is not None else time.time()) + cfg.turn_ttl_seconds
    for url in cfg.ice_servers:
        if url.startswith(("turn:", "turns:")) and cfg.turn_secret:
            username = f"{expiry}:{user_id}"
            digest = hmac.new(cfg.turn_secret.encode(), username.encode(), hashlib.sha1).digest()
            out.append({"urls": url, "username": username, "credential": base64.b64encode(digest).decode()})
        else:
            out.append(url)
    return out
