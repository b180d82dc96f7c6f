"""Telling the applicant-tracking system that a candidate completed: durable, signed, retried, logged.

An event is a row in ``webhook_outbox`` written in the transaction that completes the candidate
(``enqueue``), so nothing is lost to a restart: the ``Dispatcher`` of any signaling replica claims due
rows (``FOR UPDATE SKIP LOCKED``, and a lease on ``next_attempt_at`` while the request runs), sends them
and logs every attempt in ``webhook_deliveries``. A failed attempt (network error, timeout, refused
address or a non-2xx answer; redirects are not followed) is retried with exponential backoff; after the
last one the row is ``failed`` until the owner asks for a retry (POST
/api/org/webhook-deliveries/{delivery_id}/retry). Delivery is at least once: a replica dying in the middle
of a request means the next one sends it again, with the same ``X-Delivery-Id`` for the receiver to dedupe.

Each attempt goes to the organisation's webhook URL *at that moment* and is signed with its current
secret, so fixing a typo in the URL rescues the events still pending. The body is fixed at enqueue time
and signed anew per attempt: ``X-Signature: sha256=<hex HMAC-SHA256 of "<X-Timestamp>.<body>">``, so the
receiver can check both origin and freshness.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from interview_room.metrics import WEBHOOK_ATTEMPTS
from interview_room.store import recruiting as store
from interview_room.store import webhook_outbox as outbox
from web.common.context import services
from web.common.errors import ApiError, not_found

from . import webhook_guard
from .fields import jsonable, parse_uuid
from .recruiter_routes import member_org

log = logging.getLogger("signaling.recruiting.webhooks")

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)  # waits before the retries; len + 1 attempts in all
POLL_S = 5.0  # how often a dispatcher looks for due rows it was not woken for (another replica's, retries)
LEASE_S = 60.0  # a claimed row is not claimed again for this long (longer than TIMEOUT)
BATCH = 20
TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5)
MAX_RESPONSE_BYTES = 64 * 1024  # the receiver's answer is only acknowledged; the rest is never read

routes = web.RouteTableDef()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


async def enqueue(
    db: asyncpg.Connection | asyncpg.Pool,
    org: dict[str, Any],
    candidate_id: uuid.UUID,
    event: str,
    payload: dict[str, Any],
) -> uuid.UUID | None:
    """Record the event for delivery (call inside the transaction that makes it happen); None without a URL."""
    if not org.get("webhook_url"):
        return None
    delivery_id = uuid.uuid4()
    body = json.dumps({"event": event, "delivery_id": str(delivery_id), **payload}, default=str)
    await outbox.enqueue(db, delivery_id, org["id"], candidate_id, event, org["webhook_url"], body)
    return delivery_id


class Dispatcher:
    """Sends the outbox's due rows; one per signaling process, any number of replicas on one database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        allow_private: bool = False,
        backoff: Sequence[float] = BACKOFF_S,
        poll_s: float = POLL_S,
        lease_s: float = LEASE_S,
        batch: int = BATCH,
    ) -> None:
        self.pool = pool
        self.allow_private = allow_private
        self.backoff = tuple(backoff)
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due rows now (after a commit that enqueued or requeued one)."""
        self._wake.set()

    async def run(self) -> None:
        async with webhook_guard.client_session(self.allow_private) as http:
            while True:
                self._wake.clear()
                try:
                    sent = await self.dispatch_due(http)
                    delay = 0.0 if sent >= self.batch else await self._next_due_in()
                except Exception:  # the database is away: the rows wait in the outbox
                    log.exception("webhook dispatch pass failed")
                    delay = self.poll_s
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)

    async def _next_due_in(self) -> float:
        secs = await outbox.next_due_in(self.pool)
        return self.poll_s if secs is None else max(0.0, min(self.poll_s, secs))

    async def dispatch_due(self, http: aiohttp.ClientSession) -> int:
        """Claim the due rows (skipping those another replica holds) and send them; returns how many."""
        rows = await outbox.claim_due(self.pool, self.batch, self.lease_s)
        results = await asyncio.gather(*(self._deliver(http, r) for r in rows), return_exceptions=True)
        for r, res in zip(rows, results, strict=True):
            if isinstance(res, BaseException):
                log.error("webhook delivery failed delivery_id=%s", r.delivery_id, exc_info=res)
        return len(rows)

    async def _deliver(self, http: aiohttp.ClientSession, row: outbox.Claimed) -> None:
        url, attempt = row.webhook_url, row.attempts
        try:
            if url:
                status, error = await self._attempt(http, url, row)
            else:
                status, error = None, "no webhook URL (the organisation removed it)"
        except asyncio.CancelledError:  # shutting down: hand the row back instead of waiting out the lease
            with contextlib.suppress(Exception):
                await outbox.hand_back(self.pool, row.delivery_id, attempt)
            raise
        ok = not error
        WEBHOOK_ATTEMPTS.labels(
            "ok" if ok else "refused" if error.startswith("address not allowed") else "failed"
        ).inc()
        round_n = attempt - row.round_start
        retry_in = self.backoff[round_n - 1] if not ok and url and round_n <= len(self.backoff) else None
        state = "delivered" if ok else "pending" if retry_in is not None else "failed"
        async with self.pool.acquire() as conn, conn.transaction():
            await store.log_delivery(
                conn,
                row.org_id,
                row.candidate_id,
                row.event,
                row.delivery_id,
                url,
                attempt,
                status,
                error,
                ok,
            )
            await outbox.settle(conn, row.delivery_id, attempt, state, url, error, retry_in or 0.0)
        if ok:
            log.info("webhook delivered event=%s delivery_id=%s attempt=%d", row.event, row.delivery_id, attempt)
        else:
            log.warning(
                "webhook attempt failed event=%s delivery_id=%s attempt=%d state=%s error=%s",
                row.event,
                row.delivery_id,
                attempt,
                state,
                error,
            )

    async def _attempt(self, http: aiohttp.ClientSession, url: str, row: outbox.Claimed) -> tuple[int | None, str]:
        refused = webhook_guard.refused(url, self.allow_private)
        if refused is not None:
            return None, str(refused.strerror)
        body = row.body.encode()
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Event": row.event,
            "X-Delivery-Id": str(row.delivery_id),
            "X-Timestamp": ts,
            "X-Signature": sign(row.webhook_secret, ts, body),
        }
        try:
            async with http.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False) as resp:
                await resp.content.read(MAX_RESPONSE_BYTES)
                return resp.status, "" if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            return None, webhook_guard.not_allowed_reason(e) or repr(e)[:500]


DISPATCHER: web.AppKey[Dispatcher] = web.AppKey("webhook_dispatcher", Dispatcher)


def wake(app: web.Application) -> None:
    """Tell this process's dispatcher that a row was committed (other replicas find it by polling)."""
    if DISPATCHER in app:
        app[DISPATCHER].wake()


@routes.post("/api/org/webhook-deliveries/{delivery_id}/retry")
async def retry(request: web.Request) -> web.Response:
    """Requeue a delivery that used up its attempts (the recruiter fixed their endpoint): a new backoff round."""
    org = await member_org(request, owner=True)
    did = parse_uuid(request.match_info["delivery_id"], "delivery")
    pool = services(request).pool
    current = await outbox.state_of(pool, did, org["id"])
    if current is None:
        raise not_found("No such delivery")
    if current != "failed":
        what = "was delivered" if current == "delivered" else "is still being retried"
        raise ApiError(409, "not_failed", f"This delivery {what}; only a failed one can be retried")
    if not org["webhook_url"]:
        raise ApiError(409, "no_webhook_url", "Set the organisation's webhook_url first")
    row = await outbox.requeue_failed(pool, did, org["id"])
    if row is None:  # requeued by a concurrent request
        raise ApiError(409, "not_failed", "This delivery is already being retried")
    wake(request.app)
    log.info("webhook delivery requeued delivery_id=%s", did)
    return web.json_response(jsonable(dataclasses.asdict(row)), status=202)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
