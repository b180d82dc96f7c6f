"""The ``subscriptions`` table: a gateway subscription's state as its webhook events last reported it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

Conn = Any  # an asyncpg connection or pool

_COLUMNS = """s.gateway, s.subscription_ref, s.user_id, s.package_id, p.name AS package_name, s.customer_ref,
    s.status, s.cancel_at_period_end, s.current_period_end, s.last_payment_failed_at, s.event_created, s.updated_at"""


@dataclass(frozen=True)
class Subscription:
    gateway: str
    subscription_ref: str
    user_id: UUID
    package_id: str | None
    package_name: str | None
    customer_ref: str | None
    status: str
    cancel_at_period_end: bool
    current_period_end: datetime | None
    last_payment_failed_at: datetime | None
    event_created: int
    updated_at: datetime

    @property
    def live(self) -> bool:
        """Still billing (or about to): the portal can manage it."""
        return self.status not in ("canceled", "incomplete_expired")


@dataclass(frozen=True)
class SubscriptionState:
    """What one provider event says about a subscription (None: the event does not say)."""

    gateway: str
    subscription_ref: str
    event_created: int
    status: str | None = None
    cancel_at_period_end: bool | None = None
    current_period_end: int | None = None  # unix seconds
    customer_ref: str | None = None
    package_id: str | None = None


def _row(r: asyncpg.Record) -> Subscription:
    return Subscription(**dict(r))


def _ts(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


async def get(conn: Conn, gateway: str, subscription_ref: str) -> Subscription | None:
    r = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM subscriptions s LEFT JOIN packages p ON p.id = s.package_id
            WHERE s.gateway = $1 AND s.subscription_ref = $2""",
        gateway,
        subscription_ref,
    )
    return _row(r) if r else None


async def current_for_user(conn: Conn, user_id: UUID) -> Subscription | None:
    """The user's subscription still running, else the one that ended last."""
    r = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM subscriptions s LEFT JOIN packages p ON p.id = s.package_id
            WHERE s.user_id = $1
            ORDER BY (s.status NOT IN ('canceled', 'incomplete_expired')) DESC, s.updated_at DESC LIMIT 1""",
        user_id,
    )
    return _row(r) if r else None


async def apply_state(conn: Conn, user_id: UUID, package_id: str | None, st: SubscriptionState) -> bool:
    """Insert or update from one event; an event older than the stored state changes nothing (False)."""
    r = await conn.fetchrow(
        """INSERT INTO subscriptions AS s (gateway, subscription_ref, user_id, package_id, customer_ref, status,
               cancel_at_period_end, current_period_end, event_created)
           VALUES ($1, $2, $3, $4, $5, COALESCE($6, 'active'), COALESCE($7, false), $8, $9)
           ON CONFLICT (gateway, subscription_ref) DO UPDATE SET
               package_id = COALESCE(EXCLUDED.package_id, s.package_id),
               customer_ref = COALESCE(EXCLUDED.customer_ref, s.customer_ref),
               status = COALESCE($6, s.status),
               cancel_at_period_end = COALESCE($7, s.cancel_at_period_end),
               current_period_end = COALESCE($8, s.current_period_end),
               event_created = EXCLUDED.event_created,
               updated_at = now()
           WHERE s.event_created <= EXCLUDED.event_created
           RETURNING 1""",
        st.gateway,
        st.subscription_ref,
        user_id,
        package_id,
        st.customer_ref,
        st.status,
        st.cancel_at_period_end,
        _ts(st.current_period_end),
        st.event_created,
    )
    return r is not None


async def mark_payment_failed(conn: Conn, gateway: str, subscription_ref: str, event_created: int) -> bool:
    r = await conn.fetchrow(
        """UPDATE subscriptions SET last_payment_failed_at = to_timestamp($3),
               status = CASE WHEN event_created <= $3 AND status IN ('active', 'trialing') THEN 'past_due' ELSE status END,
               event_created = GREATEST(event_created, $3),
               updated_at = now()
           WHERE gateway = $1 AND subscription_ref = $2 RETURNING 1""",
        gateway,
        subscription_ref,
        event_created,
    )
    return r is not None


async def set_plan_excluding_ended(conn: Conn, user_id: UUID) -> None:
    """users.plan = the package of the latest standing purchase whose subscription (if any) has not ended."""
    await conn.execute(
        """UPDATE users SET plan = COALESCE(
               (SELECT p.package_id FROM payments p
                WHERE p.user_id = $1 AND p.status = 'paid'
                  AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.gateway = p.gateway
                                  AND s.subscription_ref = p.subscription_ref AND s.status = 'canceled')
                ORDER BY p.paid_at DESC LIMIT 1), 'free')
           WHERE id = $1""",
        user_id,
    )
