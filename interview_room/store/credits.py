"""Credits and payments: the append-only ledger, packages, payments and webhook idempotency.

The balance is ``sum(credit_ledger.seconds)``; rows are only ever inserted. Every change of a
user's balance runs in a transaction holding a per-user advisory lock, so two sessions of one user
debiting at once (or a refund racing a debit) serialise and the balance never goes below zero.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

# first key of the two-int advisory lock; the second is hashtext(user_id)
_LEDGER_LOCK = 7_340_002
# a session may start only with at least this much left
MIN_START_SECONDS = 1.0
# float sums leave residues like 1e-12; anything below this is zero
EPSILON = 1e-6
# the note of the sign-up grant (as written by store.users.create_user)
SIGNUP_NOTE = "Free plan"

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


@dataclass(frozen=True)
class Package:
    id: str
    name: str
    description: str
    seconds: int
    price_cents: int
    currency: str
    kind: str  # one_time | monthly
    purchasable: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "seconds": self.seconds,
            "price_cents": self.price_cents,
            "currency": self.currency,
            "kind": self.kind,
            "purchasable": self.purchasable,
        }


@dataclass(frozen=True)
class Payment:
    id: str
    user_id: UUID
    package_id: str
    package_name: str
    gateway: str
    gateway_ref: str | None
    status: str  # pending | paid | refunded | failed
    amount_cents: int
    currency: str
    seconds: int
    kind: str
    parent_id: str | None
    subscription_ref: str | None
    invoice_ref: str | None
    payment_intent_ref: str | None
    refunded_cents: int
    note: str
    created_at: datetime
    paid_at: datetime | None
    refunded_at: datetime | None


@dataclass(frozen=True)
class SessionDebits:
    session_id: UUID | None
    title: str | None
    seconds: float
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class DebitResult:
    debited: float  # seconds actually taken (less than asked when the balance ran out)
    remaining: float  # balance after the debit


# ---------------------------------------------------------------- ledger


async def _lock_user(conn: Conn, user_id: UUID) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LEDGER_LOCK, str(user_id))


async def balance(conn: Conn, user_id: UUID) -> float:
    v = await conn.fetchval("SELECT COALESCE(sum(seconds), 0) FROM credit_ledger WHERE user_id = $1", user_id)
    b = float(v)
    return 0.0 if abs(b) < EPSILON else b


async def has_credits(conn: Conn, user_id: UUID) -> bool:
    """Gate for starting media: signaling answers 402 ``no_credits`` on an offer when False."""
    return await balance(conn, user_id) >= MIN_START_SECONDS


async def grant(conn: Conn, user_id: UUID, seconds: float, note: str = "") -> float:
    """Free credits (sign-up, goodwill); returns the new balance."""
    if seconds <= 0:
        raise ValueError("a grant adds seconds")
    async with conn.transaction():
        await _lock_user(conn, user_id)
        await conn.execute(
            "INSERT INTO credit_ledger (user_id, seconds, kind, note) VALUES ($1, $2, 'grant', $3)",
            user_id,
            seconds,
            note,
        )
        return await balance(conn, user_id)


async def grant_signup(conn: Conn, user_id: UUID) -> float:
    """The sign-up credits of the ``free`` package (from the database); once per user."""
    async with conn.transaction():
        await _lock_user(conn, user_id)
        seconds = await conn.fetchval("SELECT seconds FROM packages WHERE id = 'free'")
        done = await conn.fetchval(
            "SELECT 1 FROM credit_ledger WHERE user_id = $1 AND kind = 'grant' AND note = $2", user_id, SIGNUP_NOTE
        )
        if seconds and not done:
            await conn.execute(
                "INSERT INTO credit_ledger (user_id, seconds, kind, note) VALUES ($1, $2, 'grant', $3)",
                user_id,
                float(seconds),
                SIGNUP_NOTE,
            )
        return await balance(conn, user_id)


async def debit(conn: Conn, user_id: UUID, session_id: UUID, seconds: float) -> DebitResult:
    """Take up to ``seconds`` for media of ``session_id``; never more than the balance holds."""
    if seconds < 0:
        raise ValueError("a debit takes a non-negative number of seconds")
    async with conn.transaction():
        await _lock_user(conn, user_id)
        have = await balance(conn, user_id)
        take = min(seconds, max(have, 0.0))
        if take > EPSILON:
            await conn.execute(
                "INSERT INTO credit_ledger (user_id, seconds, kind, session_id) VALUES ($1, $2, 'debit', $3)",
                user_id,
                -take,
                session_id,
            )
        else:
            take = 0.0
        left = have - take
        return DebitResult(debited=take, remaining=0.0 if left < EPSILON else left)


async def debits_by_session(conn: Conn, user_id: UUID, limit: int = 200) -> list[SessionDebits]:
    """Seconds debited per session, most recent first (for the account page)."""
    rows = await conn.fetch(
        """
        SELECT l.session_id, -sum(l.seconds) AS seconds, min(l.created_at) AS first_at, max(l.created_at) AS last_at,
               s.title
        FROM credit_ledger l LEFT JOIN sessions s ON s.id = l.session_id
        WHERE l.user_id = $1 AND l.kind = 'debit'
        GROUP BY l.session_id, s.title
        ORDER BY max(l.created_at) DESC
        LIMIT $2
        """,
        user_id,
        limit,
    )
    return [SessionDebits(r["session_id"], r["title"], float(r["seconds"]), r["first_at"], r["last_at"]) for r in rows]


async def session_debited(conn: Conn, session_id: UUID) -> float:
    v = await conn.fetchval(
        "SELECT COALESCE(-sum(seconds), 0) FROM credit_ledger WHERE session_id = $1 AND kind = 'debit'", session_id
    )
    return float(v)


# ---------------------------------------------------------------- packages


def _package(r: asyncpg.Record) -> Package:
    return Package(
        id=r["id"],
        name=r["name"],
        description=r["description"],
        seconds=r["seconds"],
        price_cents=r["price_cents"],
        currency=r["currency"],
        kind=r["kind"],
        purchasable=r["purchasable"],
    )


async def list_packages(conn: Conn) -> list[Package]:
    rows = await conn.fetch("SELECT * FROM packages WHERE active ORDER BY sort_order, price_cents, id")
    return [_package(r) for r in rows]


async def get_package(conn: Conn, package_id: str) -> Package | None:
    r = await conn.fetchrow("SELECT * FROM packages WHERE id = $1 AND active", package_id)
    return _package(r) if r else None


# ---------------------------------------------------------------- payments

_PAYMENT_SELECT = "SELECT p.*, k.name AS package_name FROM payments p JOIN packages k ON k.id = p.package_id"


def _payment(r: asyncpg.Record) -> Payment:
    return Payment(
        id=r["id"],
        user_id=r["user_id"],
        package_id=r["package_id"],
        package_name=r["package_name"],
        gateway=r["gateway"],
        gateway_ref=r["gateway_ref"],
        status=r["status"],
        amount_cents=r["amount_cents"],
        currency=r["currency"],
        seconds=r["seconds"],
        kind=r["kind"],
        parent_id=r["parent_id"],
        subscription_ref=r["subscription_ref"],
        invoice_ref=r["invoice_ref"],
        payment_intent_ref=r["payment_intent_ref"],
        refunded_cents=r["refunded_cents"],
        note=r["note"],
        created_at=r["created_at"],
        paid_at=r["paid_at"],
        refunded_at=r["refunded_at"],
    )


async def create_payment(conn: Conn, user_id: UUID, package: Package, gateway: str) -> Payment:
    pid = str(uuid.uuid4())
    await conn.execute(
        """INSERT INTO payments (id, user_id, package_id, gateway, amount_cents, currency, seconds, kind)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        pid,
        user_id,
        package.id,
        gateway,
        package.price_cents,
        package.currency,
        package.seconds,
        package.kind,
    )
    p = await get_payment(conn, pid)
    assert p is not None
    return p


async def set_gateway_ref(conn: Conn, payment_id: str, gateway_ref: str) -> None:
    await conn.execute("UPDATE payments SET gateway_ref = $2 WHERE id = $1", payment_id, gateway_ref)


async def mark_failed(conn: Conn, payment_id: str, note: str = "") -> bool:
    """pending → failed; False when the payment had already moved on."""
    r = await conn.execute(
        "UPDATE payments SET status = 'failed', note = $2 WHERE id = $1 AND status = 'pending'", payment_id, note
    )
    return r.endswith(" 1")


async def get_payment(
    conn: Conn, payment_id: str, user_id: UUID | None = None, *, for_update: bool = False
) -> Payment | None:
    sql = f"{_PAYMENT_SELECT} WHERE p.id = $1" + (" AND p.user_id = $2" if user_id else "")
    if for_update:
        sql += " FOR UPDATE OF p"
    args: list[Any] = [payment_id] + ([user_id] if user_id else [])
    r = await conn.fetchrow(sql, *args)
    return _payment(r) if r else None


async def list_payments(conn: Conn, user_id: UUID, limit: int = 200) -> list[Payment]:
    rows = await conn.fetch(
        f"{_PAYMENT_SELECT} WHERE p.user_id = $1 ORDER BY p.created_at DESC LIMIT $2", user_id, limit
    )
    return [_payment(r) for r in rows]


async def find_payment(conn: Conn, gateway: str, column: str, value: str, *, for_update: bool = True) -> Payment | None:
    """The payment whose ``column`` (a gateway reference) is ``value``, row-locked for the caller's transaction."""
    if column not in ("id", "gateway_ref", "subscription_ref", "invoice_ref", "payment_intent_ref"):
        raise ValueError(column)
    order = " ORDER BY p.created_at" if column == "subscription_ref" else ""
    sql = f"{_PAYMENT_SELECT} WHERE p.gateway = $1 AND p.{column} = $2{order} LIMIT 1"
    if for_update:
        sql += " FOR UPDATE OF p"
    r = await conn.fetchrow(sql, gateway, value)
    return _payment(r) if r else None


async def record_event(conn: Conn, gateway: str, event_id: str, type_: str) -> bool:
    """Claim a gateway event inside the caller's transaction; False when it was applied before."""
    got = await conn.fetchval(
        "INSERT INTO webhook_events (gateway, id, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
        gateway,
        event_id,
        type_,
    )
    return got is not None


async def set_event_outcome(conn: Conn, gateway: str, event_id: str, outcome: str, payment_id: str | None) -> None:
    await conn.execute(
        "UPDATE webhook_events SET outcome = $3, payment_id = $4 WHERE gateway = $1 AND id = $2",
        gateway,
        event_id,
        outcome,
        payment_id,
    )


async def add_renewal(conn: Conn, parent: Payment, invoice_ref: str, amount_cents: int, currency: str) -> Payment:
    """A further period of a subscription: its own payment row (own receipt), credits of the parent's package."""
    pid = str(uuid.uuid4())
    await conn.execute(
        """INSERT INTO payments (id, user_id, package_id, gateway, gateway_ref, amount_cents, currency, seconds, kind,
                                 parent_id, subscription_ref, invoice_ref)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $5)""",
        pid,
        parent.user_id,
        parent.package_id,
        parent.gateway,
        invoice_ref,
        amount_cents,
        currency,
        parent.seconds,
        parent.kind,
        parent.id,
        parent.subscription_ref,
    )
    p = await get_payment(conn, pid, for_update=True)
    assert p is not None
    return p


async def mark_paid(
    conn: Conn,
    payment: Payment,
    *,
    amount_cents: int | None = None,
    invoice_ref: str | None = None,
    payment_intent_refs: list[str] | None = None,
    subscription_ref: str | None = None,
) -> bool:
    """pending/failed → paid and the package's credits added, in one transaction.

    False (and nothing changes) when the payment was already paid or refunded. A refund that
    arrived earlier for this payment (events out of order) is applied right after, so the net
    effect is zero credits.
    """
    async with conn.transaction():
        cur = await get_payment(conn, payment.id, for_update=True)
        if cur is None or cur.status in ("paid", "refunded"):
            return False
        await conn.execute(
            """UPDATE payments SET status = 'paid', paid_at = now(),
                      amount_cents = COALESCE($2, amount_cents),
                      invoice_ref = COALESCE(invoice_ref, $3),
                      payment_intent_ref = COALESCE(payment_intent_ref, $4),
                      subscription_ref = COALESCE(subscription_ref, $5)
               WHERE id = $1""",
            cur.id,
            amount_cents,
            invoice_ref,
            (payment_intent_refs or [None])[0],
            subscription_ref,
        )
        await _lock_user(conn, cur.user_id)
        if cur.seconds > 0:
            await conn.execute(
                """INSERT INTO credit_ledger (user_id, seconds, kind, payment_id, note)
                   VALUES ($1, $2, 'purchase', $3, $4)""",
                cur.user_id,
                float(cur.seconds),
                cur.id,
                cur.package_name,
            )
        refs = [
            r
            for r in (
                *(payment_intent_refs or []),
                cur.payment_intent_ref,
                invoice_ref,
                cur.invoice_ref,
                cur.gateway_ref,
            )
            if r
        ]
        early = await conn.fetch(
            "DELETE FROM early_refunds WHERE gateway = $1 AND ref = ANY($2::text[]) RETURNING *", cur.gateway, refs
        )
        if early:
            paid = await get_payment(conn, cur.id, for_update=True)
            assert paid is not None
            biggest = max(early, key=lambda r: r["amount_refunded_cents"])
            await apply_refund(conn, paid, biggest["amount_refunded_cents"], biggest["amount_cents"])
        return True


async def apply_refund(conn: Conn, payment: Payment, refunded_cents_total: int, charge_amount_cents: int) -> float:
    """The gateway refunded ``refunded_cents_total`` (cumulative) of a charge of ``charge_amount_cents``.

    Removes the same share of the purchase's credits that was not refunded before, capped at the
    balance: credits already spent are not clawed back into a negative balance. Returns the
    seconds removed. A payment not yet paid just becomes ``refunded`` (it never granted credits).
    """
    async with conn.transaction():
        cur = await get_payment(conn, payment.id, for_update=True)
        if cur is None:
            return 0.0
        total = charge_amount_cents or cur.amount_cents
        new_total = min(refunded_cents_total, total) if total else refunded_cents_total
        if new_total <= cur.refunded_cents and cur.status != "pending":
            return 0.0
        full = total == 0 or new_total >= total
        if cur.status != "paid":
            await conn.execute(
                """UPDATE payments SET status = 'refunded', refunded_cents = $2, refunded_at = now() WHERE id = $1""",
                cur.id,
                max(new_total, cur.refunded_cents),
            )
            return 0.0
        share = 1.0 if total == 0 else (new_total - cur.refunded_cents) / total
        want = cur.seconds * share
        await _lock_user(conn, cur.user_id)
        have = await balance(conn, cur.user_id)
        take = min(want, max(have, 0.0))
        if take > EPSILON:
            await conn.execute(
                """INSERT INTO credit_ledger (user_id, seconds, kind, payment_id, note)
                   VALUES ($1, $2, 'refund', $3, $4)""",
                cur.user_id,
                -take,
                cur.id,
                f"refund of {cur.package_name}",
            )
        else:
            take = 0.0
        await conn.execute(
            """UPDATE payments SET refunded_cents = $2, status = CASE WHEN $3 THEN 'refunded' ELSE status END,
                      refunded_at = now() WHERE id = $1""",
            cur.id,
            new_total,
            full,
        )
        return take


async def remember_early_refund(
    conn: Conn, gateway: str, refs: list[str], refunded_cents_total: int, amount_cents: int, event_id: str
) -> None:
    """A refund for a charge we cannot match yet: kept until the payment it belongs to is confirmed."""
    for ref in refs:
        await conn.execute(
            """INSERT INTO early_refunds (gateway, ref, amount_refunded_cents, amount_cents, event_id)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (gateway, ref) DO UPDATE
                 SET amount_refunded_cents = GREATEST(early_refunds.amount_refunded_cents, EXCLUDED.amount_refunded_cents)""",
            gateway,
            ref,
            refunded_cents_total,
            amount_cents,
            event_id,
        )


async def set_plan(conn: Conn, user_id: UUID) -> None:
    """users.plan = the package of the user's latest purchase still standing, else 'free'."""
    await conn.execute(
        """UPDATE users SET plan = COALESCE(
               (SELECT package_id FROM payments WHERE user_id = $1 AND status = 'paid'
                ORDER BY paid_at DESC LIMIT 1), 'free')
           WHERE id = $1""",
        user_id,
    )


async def link_subscription(conn: Conn, payment_id: str, subscription_ref: str | None) -> None:
    """The gateway's subscription that the payment started (kept once set)."""
    await conn.execute(
        "UPDATE payments SET subscription_ref = COALESCE(subscription_ref, $2) WHERE id = $1",
        payment_id,
        subscription_ref,
    )


@dataclass(frozen=True)
class PaymentOwner:
    payment_id: str
    email: str


async def payments_by_status(conn: Conn, status: str, limit: int = 200) -> list[PaymentOwner]:
    """The newest payments in ``status`` with their buyer's e-mail (the admin's list)."""
    rows = await conn.fetch(
        """SELECT p.id, u.email FROM payments p JOIN users u ON u.id = p.user_id
           WHERE p.status = $1 ORDER BY p.created_at DESC LIMIT $2""",
        status,
        limit,
    )
    return [PaymentOwner(str(r["id"]), r["email"]) for r in rows]
