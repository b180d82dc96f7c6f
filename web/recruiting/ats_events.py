"""ATS webhook events beyond candidate.completed (issue 21.7): candidate.started, candidate.decided,
interview.closed, through the same durable outbox and signed dispatcher as candidate.completed
(``webhooks.py``).

Each event is queued in the transaction that makes its change, and only by the call that made it
(``interview_room/store/webhook_events.py``), so it is queued once; the dispatcher sends it at least
once with one ``X-Delivery-Id``. An organisation chooses the events it takes (GET/PUT
/api/org/webhook-events in ``webhook_event_routes.py``); candidate.completed is always sent, as before.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from interview_room.service import every
from interview_room.store import recruiting as store
from interview_room.store import webhook_events as events_store
from web.accounts.auth import current_user
from web.common.context import Services, services
from web.common.serialize import iso

from . import links

log = logging.getLogger("signaling.recruiting.ats_events")


def _webhooks() -> Any:
    """webhooks.py, imported when first used: it imports recruiter_routes, which imports this module."""
    from . import webhooks

    return webhooks

ALWAYS = "candidate.completed"
CLOSE_INTERVAL_S = 60.0


async def emit(
    conn: asyncpg.Connection, org: dict[str, Any], candidate_id: uuid.UUID | None, event: str, payload: dict[str, Any]
) -> uuid.UUID | None:
    """Queue ``event`` when the organisation takes it (inside the caller's transaction)."""
    if event != ALWAYS and event not in await events_store.subscribed(conn, org["id"]):
        return None
    return await _webhooks().enqueue(conn, org, candidate_id, event, payload)


def _candidate_payload(request: web.Request, c: dict[str, Any], iv: dict[str, Any]) -> dict[str, Any]:
    return {
        "candidate": {"id": str(c["id"]), "email": c["email"], "name": c["name"]},
        "interview": {"id": str(iv["id"]), "title": iv["title"]},
        "review_url": f"{links.base_url(request)}/recruit/review.html?id={c['id']}",
    }


async def consent(request: web.Request, svc: Services, c: dict[str, Any]) -> None:
    """The candidate's consent: invited -> started queues candidate.started (once)."""
    org = await store.org_by_id(svc.pool, c["org_id"])
    iv = await store.interview_of_candidate(svc.pool, c)
    async with svc.pool.acquire() as conn, conn.transaction():
        started_at = await events_store.mark_started(conn, c["id"])
        if started_at is None:
            await store.consent(conn, c["id"])
            return
        queued = await emit(
            conn, org, c["id"], "candidate.started", {**_candidate_payload(request, c, iv), "started_at": iso(started_at)}
        )
    if queued:
        _webhooks().wake(request.app)


async def decide(request: web.Request, org: dict[str, Any], c: dict[str, Any], decision: str | None, note: str) -> None:
    """The recruiter's decision; a changed decision queues candidate.decided (once per change)."""
    svc = services(request)
    iv = await store.interview_of_candidate(svc.pool, c)
    user = current_user(request)
    async with svc.pool.acquire() as conn, conn.transaction():
        changed = await events_store.set_decision(conn, org["id"], c["id"], decision, note, user.id)
        queued = changed and await emit(
            conn,
            org,
            c["id"],
            "candidate.decided",
            {**_candidate_payload(request, c, iv), "decision": decision, "decided_at": iso(datetime.now(UTC))},
        )
    if queued:
        _webhooks().wake(request.app)


class ClosedSweeper:
    """Queues interview.closed when an interview's deadline passes (once, any number of replicas)."""

    def __init__(self, svc: Services, app: web.Application | None = None) -> None:
        self.svc = svc
        self.app = app

    async def sweep(self) -> int:
        queued = 0
        async with self.svc.pool.acquire() as conn, conn.transaction():
            for iv in await events_store.claim_closed(conn):
                org = await store.org_by_id(conn, iv.org_id)
                payload = {
                    "interview": {"id": str(iv.id), "title": iv.title, "deadline": iso(iv.deadline)},
                    "candidates": {"invited": iv.invited, "started": iv.started, "completed": iv.completed},
                }
                if await emit(conn, org, None, "interview.closed", payload):
                    queued += 1
                    log.info("interview.closed queued interview=%s", iv.id)
        if queued and self.app is not None:
            _webhooks().wake(self.app)
        return queued

    async def run(self, interval_s: float = CLOSE_INTERVAL_S) -> None:
        await every(interval_s, self.sweep, "interview closing sweep")
