"""Telling the applicant-tracking system that a candidate completed: signed, retried, logged.

The body is signed with the organisation's secret: ``X-Signature: sha256=<hex HMAC-SHA256 of
"<X-Timestamp>.<body>">``, so the receiver can check both origin and freshness. A failed attempt
(network error, timeout or a non-2xx answer) is retried with exponential backoff; every attempt
is a row in ``webhook_deliveries``. Delivery runs in a task owned by the signaling process, so a
restart in the middle of the retries drops the remaining ones (the log shows the last attempt).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

import aiohttp

from ..context import Services
from . import store

log = logging.getLogger("signaling.recruiting.webhooks")

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)  # waits before the retries; len + 1 attempts in all
TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


async def _attempt(
    svc: Services, url: str, secret: str, event: str, delivery_id: uuid.UUID, body: bytes
) -> tuple[int | None, str]:
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Event": event,
        "X-Delivery-Id": str(delivery_id),
        "X-Timestamp": ts,
        "X-Signature": sign(secret, ts, body),
    }
    try:
        async with svc.http.post(url, data=body, headers=headers, timeout=TIMEOUT) as resp:
            await resp.read()
            return resp.status, "" if 200 <= resp.status < 300 else f"HTTP {resp.status}"
    except (TimeoutError, aiohttp.ClientError) as e:
        return None, repr(e)[:500]


async def deliver(
    svc: Services, org: dict[str, Any], candidate_id: uuid.UUID, event: str, payload: dict[str, Any]
) -> bool:
    url = org["webhook_url"]
    delivery_id = uuid.uuid4()
    body = json.dumps({"event": event, "delivery_id": str(delivery_id), **payload}, default=str).encode()
    for attempt in range(1, len(BACKOFF_S) + 2):
        status, error = await _attempt(svc, url, org["webhook_secret"], event, delivery_id, body)
        ok = not error
        await store.log_delivery(svc.pool, org["id"], candidate_id, event, delivery_id, url, attempt, status, error, ok)
        if ok:
            log.info("webhook delivered event=%s attempt=%d", event, attempt)
            return True
        log.warning("webhook attempt failed event=%s attempt=%d error=%s", event, attempt, error)
        if attempt <= len(BACKOFF_S):
            await asyncio.sleep(BACKOFF_S[attempt - 1])
    return False


def schedule(svc: Services, org: dict[str, Any], candidate_id: uuid.UUID, event: str, payload: dict[str, Any]) -> None:
    if org.get("webhook_url"):
        svc.tasks.spawn(deliver(svc, org, candidate_id, event, payload), name=f"webhook-{candidate_id}")
