"""Billing over HTTP: the signaling app in-process on real Postgres/Redis, the real ``stripe`` client
talking to a local server that speaks Stripe's wire format, webhooks signed with Stripe's scheme."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
import stripe
from aiohttp.test_utils import TestServer
from conftest import Infra, verified
from fake_http_api import served_fixture
from fake_stripe import FakeStripe, dumps

from interview_room import bus
from interview_room.config import Config
from interview_room.store import credits
from web.app import create_app
from web.billing import routes as billing
from web.billing.gateways.stripe_gateway import STRIPE_API_VERSION

FREE = 7200.0
STARTER = 18000.0  # 5 h
MONTHLY = 72000.0  # 20 h per month
ADMIN = f"admin-{uuid.uuid4().hex[:8]}@example.com"  # ADMIN_EMAILS of the configured app


@dataclass
class Api:
    """A running signaling app and a cookie-less HTTP client for it."""

    base: str
    http: aiohttp.ClientSession
    pool: Any = None
    app: Any = None

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.base + path, headers=headers, **kw) as r:
            if r.content_type == "application/json":
                return r.status, await r.json()
            return r.status, await r.text()

    async def register(self, email: str | None = None) -> tuple[str, uuid.UUID]:
        email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
        status, body = await self.call("POST", "/api/auth/register", json={"email": email, "password": "pw-123456789"})
        assert status == 201, body
        await verified(self.pool, body["user"]["id"])
        return body["token"], uuid.UUID(body["user"]["id"])

    async def balance(self, token: str) -> float:
        status, body = await self.call("GET", "/api/billing", token)
        assert status == 200, body
        return float(body["credits_seconds"])

    async def webhook(self, payload: str, signature: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return await self.call("POST", "/api/webhooks/stripe", data=payload.encode(), headers=headers)


@asynccontextmanager
async def running_app(infra: Infra, **cfg: Any) -> AsyncIterator[Api]:
    config = Config(
        data_dir=infra.data_dir,
        database_url=infra.database_url,
        redis_url=infra.redis_url,
        secret_key="test-secret-key-not-for-production",
        public_url="",
        **cfg,
    )
    pool = await asyncpg.create_pool(infra.database_url, min_size=1, max_size=5)
    redis = bus.connect(infra.redis_url)
    app = create_app(config, pool, redis, web_root=None, docs_root=None)
    if billing.GATEWAYS not in app:  # until web.app registers billing itself
        billing.setup(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            yield Api(str(server.make_url("")).rstrip("/"), http, pool, app)
    finally:
        await server.close()
        await pool.close()
        await redis.aclose()


fake_stripe = served_fixture(FakeStripe, "fake_stripe")


def stripe_app_fixture(**cfg: Any) -> Any:
    """A module-scoped fixture ``paid``: the app with Stripe configured (pointed at ``fake_stripe``) and ``cfg``."""

    @pytest_asyncio.fixture(scope="module", name="paid")
    async def paid(infra: Infra, fake_stripe: FakeStripe) -> AsyncIterator[Api]:
        async with running_app(
            infra,
            stripe_api_key=fake_stripe.api_key,
            stripe_webhook_secret=fake_stripe.webhook_secret,
            stripe_api_base=fake_stripe.api_base,
            **cfg,
        ) as api:
            yield api

    return paid


paid = stripe_app_fixture(admin_emails=[ADMIN])  # the app with Stripe and an admin e-mail


@pytest_asyncio.fixture(scope="module")
async def unpaid(infra: Infra) -> AsyncIterator[Api]:
    """The app with no payment keys at all."""
    async with running_app(infra, stripe_api_key="", stripe_webhook_secret="", stripe_api_base="") as api:
        yield api


async def _checkout(api: Api, fake: FakeStripe, token: str, package_id: str = "starter") -> tuple[str, str]:
    """Start a Stripe checkout; returns (payment_id, checkout session id)."""
    status, body = await api.call("POST", "/api/checkout", token, json={"package_id": package_id, "gateway": "stripe"})
    assert status == 201, body
    session_id = body["redirect_url"].rsplit("/", 1)[-1]
    assert session_id in fake.sessions
    return body["payment_id"], session_id


async def _send(api: Api, fake: FakeStripe, event: dict[str, Any]) -> dict[str, Any]:
    payload = dumps(event)
    status, body = await api.webhook(payload, fake.sign(payload))
    assert status == 200, body
    return body


async def _bought(api: Api, fake: FakeStripe) -> tuple[str, str, str]:
    """Two new users, the first of whom bought the starter package: (buyer's token, other's token, payment id)."""
    token, _ = await api.register()
    other, _ = await api.register()
    payment_id, session_id = await _checkout(api, fake, token)
    await _send(api, fake, fake.complete(session_id))
    return token, other, payment_id


async def _purchase(api: Api, token: str, payment_id: str) -> dict[str, Any]:
    _, body = await api.call("GET", "/api/billing", token)
    return next(p for p in body["purchases"] if p["payment_id"] == payment_id)


# ------------------------------------------------------------------ packages and checkout


async def test_packages_are_listed_from_the_database(paid: Api, pool: asyncpg.Pool) -> None:
    token, _ = await paid.register()
    status, body = await paid.call("GET", "/api/packages", token)
    assert status == 200
    by_id = {p["id"]: p for p in body["packages"]}
    assert {"free", "starter", "professional", "enterprise"} <= set(by_id)
    starter = by_id["starter"]
    assert (starter["seconds"], starter["price_cents"], starter["currency"], starter["kind"]) == (
        5 * 3600,
        999,
        "usd",
        "one_time",
    )
    assert by_id["free"]["seconds"] == 7200 and not by_id["free"]["purchasable"]
    assert any(p["kind"] == "monthly" for p in body["packages"])

    # a package added in the database appears without a code change, and disappears when retired
    pid = f"test_{uuid.uuid4().hex[:8]}"
    await pool.execute(
        "INSERT INTO packages (id, name, seconds, price_cents, currency, kind) VALUES ($1, 'Trial week', 3600, 500, 'eur', 'one_time')",
        pid,
    )
    try:
        _, body = await paid.call("GET", "/api/packages", token)
        added = next(p for p in body["packages"] if p["id"] == pid)
        assert (added["name"], added["seconds"], added["price_cents"], added["currency"]) == (
            "Trial week",
            3600,
            500,
            "eur",
        )
    finally:
        await pool.execute("UPDATE packages SET active = false WHERE id = $1", pid)
    _, body = await paid.call("GET", "/api/packages", token)
    assert pid not in {p["id"] for p in body["packages"]}


async def test_billing_needs_a_signed_in_user(paid: Api) -> None:
    for method, path in (("GET", "/api/billing"), ("POST", "/api/checkout"), ("GET", "/api/packages")):
        status, body = await paid.call(method, path)
        assert status == 401 and body["error"]["code"] == "unauthorized"


async def test_without_stripe_keys_paid_packages_are_unavailable_and_free_credits_work(unpaid: Api) -> None:
    token, _ = await unpaid.register()
    assert await unpaid.balance(token) == FREE
    status, body = await unpaid.call(
        "POST", "/api/checkout", token, json={"package_id": "starter", "gateway": "stripe"}
    )
    assert status == 503
    assert body["error"]["code"] == "payments_not_configured"
    _, overview = await unpaid.call("GET", "/api/billing", token)
    assert overview["purchases"] == [] and overview["credits_seconds"] == FREE
    _, pk = await unpaid.call("GET", "/api/packages", token)
    assert {"name": "stripe", "configured": False, "monthly": True} in pk["gateways"]
    # nor can a webhook be verified without the secret
    status, body = await unpaid.webhook('{"id":"evt_x","object":"event"}', "t=1,v1=00")
    assert status == 503 and body["error"]["code"] == "payments_not_configured"


async def test_checkout_rejects_what_cannot_be_bought(paid: Api) -> None:
    token, _ = await paid.register()
    cases = [
        ({"package_id": "free", "gateway": "stripe"}, 400, "package_not_purchasable"),
        ({"package_id": "no_such_package", "gateway": "stripe"}, 404, "package_not_found"),
        ({"package_id": "starter", "gateway": "bitcoin"}, 400, "validation_error"),
        ({"gateway": "stripe"}, 400, "validation_error"),
        ({"package_id": "pro_monthly", "gateway": "manual"}, 400, "gateway_unsupported"),
    ]
    for body, want_status, want_code in cases:
        status, got = await paid.call("POST", "/api/checkout", token, json=body)
        assert (status, got["error"]["code"]) == (want_status, want_code), body
    _, overview = await paid.call("GET", "/api/billing", token)
    assert overview["purchases"] == []


async def test_checkout_creates_a_stripe_checkout_session(paid: Api, fake_stripe: FakeStripe) -> None:
    token, user_id = await paid.register()
    status, body = await paid.call("POST", "/api/checkout", token, json={"package_id": "starter", "gateway": "stripe"})
    assert status == 201
    assert body["redirect_url"].startswith(f"{fake_stripe.api_base}/c/pay/cs_test_")
    sent = fake_stripe.requests[-1]["params"]
    assert sent["mode"] == "payment"
    assert sent["metadata"] == {"payment_id": body["payment_id"], "user_id": str(user_id), "package_id": "starter"}
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "999"
    assert sent["line_items"][0]["price_data"]["currency"] == "usd"
    assert sent["success_url"].endswith(f"payment={body['payment_id']}&status=success")
    # the redirect alone grants nothing: the purchase is pending until Stripe's webhook
    purchase = await _purchase(paid, token, body["payment_id"])
    assert purchase["status"] == "pending"
    assert await paid.balance(token) == FREE


async def test_stripe_requests_name_the_pinned_api_version(
    paid: Api, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the pin is the version the locked stripe library is typed for: upgrading the library means revisiting it
    assert STRIPE_API_VERSION == stripe.api_version
    # a library whose own default is another version (an upgrade) does not move what the gateway asks for
    from stripe._api_version import _ApiVersion

    monkeypatch.setattr(_ApiVersion, "CURRENT", "2020-08-27")
    token, _ = await paid.register()
    status, body = await paid.call("POST", "/api/checkout", token, json={"package_id": "starter", "gateway": "stripe"})
    assert status == 201, body
    assert fake_stripe.requests[-1]["headers"]["Stripe-Version"] == STRIPE_API_VERSION


async def test_gateway_refusal_is_a_clear_error_and_leaves_a_failed_payment(
    infra: Infra, fake_stripe: FakeStripe
) -> None:
    async with running_app(
        infra, stripe_api_key="sk_test_wrong", stripe_webhook_secret="whsec_x", stripe_api_base=fake_stripe.api_base
    ) as api:
        token, _ = await api.register()
        status, body = await api.call("POST", "/api/checkout", token, json={"package_id": "starter"})
        assert status == 502 and body["error"]["code"] == "payment_gateway_error"
        _, overview = await api.call("GET", "/api/billing", token)
        assert [p["status"] for p in overview["purchases"]] == ["failed"]
        assert overview["credits_seconds"] == FREE


# ------------------------------------------------------------------ webhooks


async def test_completed_checkout_adds_credits_exactly_once(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _ = await paid.register()
    payment_id, session_id = await _checkout(paid, fake_stripe, token)
    event = fake_stripe.complete(session_id)
    payload = dumps(event)
    signature = fake_stripe.sign(payload)

    status, body = await paid.webhook(payload, signature)
    assert status == 200 and body["outcome"] == "paid"
    assert await paid.balance(token) == FREE + STARTER
    purchase = await _purchase(paid, token, payment_id)
    assert purchase["status"] == "paid" and purchase["paid_at"]

    # Stripe retries the same event: acknowledged, nothing changes
    for _ in range(2):
        status, body = await paid.webhook(payload, signature)
        assert status == 200 and body["outcome"] == "already_applied"
    # a different event about the same payment (async confirmation) adds nothing either
    late = fake_stripe.event("checkout.session.async_payment_succeeded", event["data"]["object"])
    assert (await _send(paid, fake_stripe, late))["outcome"] == "already_applied"
    assert await paid.balance(token) == FREE + STARTER


async def test_bad_signatures_are_rejected_and_change_nothing(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _ = await paid.register()
    payment_id, session_id = await _checkout(paid, fake_stripe, token)
    payload = dumps(fake_stripe.complete(session_id))
    forged = [
        fake_stripe.sign(payload, secret="whsec_someone_else"),
        None,
        "garbage",
        fake_stripe.sign(payload.replace('"paid"', '"paid" '), timestamp=None),  # signature of another body
        fake_stripe.sign(payload, timestamp=1_000_000_000),  # a captured request replayed years later
    ]
    for signature in forged:
        status, body = await paid.webhook(payload, signature)
        assert status == 400, signature
        assert body["error"]["code"] == "invalid_signature"
    assert await paid.balance(token) == FREE
    assert (await _purchase(paid, token, payment_id))["status"] == "pending"
    # the rejected attempts did not burn the event id: the genuine delivery still applies
    status, body = await paid.webhook(payload, fake_stripe.sign(payload))
    assert status == 200 and body["outcome"] == "paid"
    assert await paid.balance(token) == FREE + STARTER


async def test_unknown_events_are_acknowledged(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _ = await paid.register()
    body = await _send(paid, fake_stripe, fake_stripe.event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert body["outcome"] == "ignored"
    assert await paid.balance(token) == FREE


async def test_refund_removes_the_purchase_credits(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _ = await paid.register()
    payment_id, session_id = await _checkout(paid, fake_stripe, token)
    completed = fake_stripe.complete(session_id)
    await _send(paid, fake_stripe, completed)
    pi = completed["data"]["object"]["payment_intent"]

    half = fake_stripe.charge_refunded(pi, amount=1900, amount_refunded=950)
    assert (await _send(paid, fake_stripe, half))["outcome"] == "refunded"
    assert await paid.balance(token) == pytest.approx(FREE + STARTER / 2)
    assert (await _purchase(paid, token, payment_id))["status"] == "paid"

    full = fake_stripe.charge_refunded(pi, amount=1900, amount_refunded=1900)
    payload = dumps(full)
    await _send(paid, fake_stripe, full)
    assert await paid.balance(token) == pytest.approx(FREE)
    purchase = await _purchase(paid, token, payment_id)
    assert purchase["status"] == "refunded" and purchase["refunded_cents"] == 1900
    # replayed refund: nothing more is taken (the free credits stay)
    status, _ = await paid.webhook(payload, fake_stripe.sign(payload))
    assert status == 200
    assert await paid.balance(token) == pytest.approx(FREE)


async def test_refund_after_use_takes_only_what_is_left(paid: Api, fake_stripe: FakeStripe, pool: asyncpg.Pool) -> None:
    token, user_id = await paid.register()
    _, session_id = await _checkout(paid, fake_stripe, token)
    completed = fake_stripe.complete(session_id)
    await _send(paid, fake_stripe, completed)
    async with pool.acquire() as conn:
        await credits.debit(conn, user_id, uuid.uuid4(), FREE + STARTER - 1000)  # 1000 s left
    await _send(
        paid, fake_stripe, fake_stripe.charge_refunded(completed["data"]["object"]["payment_intent"], 1900, 1900)
    )
    assert await paid.balance(token) == 0.0  # never below zero


async def test_refund_before_completion_creates_no_credits(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _ = await paid.register()
    payment_id, session_id = await _checkout(paid, fake_stripe, token)
    completed = fake_stripe.complete(session_id)  # built now, delivered last
    refund = fake_stripe.charge_refunded(completed["data"]["object"]["payment_intent"], 1900, 1900)

    assert (await _send(paid, fake_stripe, refund))["outcome"] == "refund_before_payment"
    assert await paid.balance(token) == FREE
    await _send(paid, fake_stripe, completed)
    assert await paid.balance(token) == FREE
    assert (await _purchase(paid, token, payment_id))["status"] == "refunded"
    # and replays of both, in either order, still change nothing
    for ev in (completed, refund, completed):
        payload = dumps(ev)
        status, body = await paid.webhook(payload, fake_stripe.sign(payload))
        assert (status, body["outcome"]) == (200, "already_applied")
    assert await paid.balance(token) == FREE


async def test_monthly_plan_credits_every_paid_period_once(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _ = await paid.register()
    payment_id, session_id = await _checkout(paid, fake_stripe, token, "pro_monthly")
    sent = fake_stripe.requests[-1]["params"]
    assert sent["mode"] == "subscription"
    assert sent["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}
    assert sent["subscription_data"]["metadata"]["payment_id"] == payment_id

    # Stripe often delivers the first invoice before the checkout completion
    first = fake_stripe.invoice_paid(session_id, reason="subscription_create")
    assert (await _send(paid, fake_stripe, first))["outcome"] == "paid"
    assert await paid.balance(token) == FREE + MONTHLY
    assert (await _send(paid, fake_stripe, fake_stripe.complete(session_id)))["outcome"] == "subscription_linked"
    assert await paid.balance(token) == FREE + MONTHLY

    renewal = fake_stripe.invoice_paid(session_id)
    assert (await _send(paid, fake_stripe, renewal))["outcome"] == "renewal_paid"
    # the same invoice announced again under a new event id adds nothing
    again = fake_stripe.event("invoice.paid", renewal["data"]["object"])
    assert (await _send(paid, fake_stripe, again))["outcome"] == "already_applied"
    assert await paid.balance(token) == FREE + 2 * MONTHLY
    _, overview = await paid.call("GET", "/api/billing", token)
    monthly = [p for p in overview["purchases"] if p["package_id"] == "pro_monthly"]
    assert [p["status"] for p in monthly] == ["paid", "paid"]
    _, me = await paid.call("GET", "/api/me", token)
    assert me["plan"] == "pro_monthly"


# ------------------------------------------------------------------ account page, receipts, manual invoices


async def test_billing_lists_purchases_and_debits_by_session(
    paid: Api, fake_stripe: FakeStripe, pool: asyncpg.Pool
) -> None:
    token, user_id = await paid.register()
    payment_id, session_id = await _checkout(paid, fake_stripe, token)
    await _send(paid, fake_stripe, fake_stripe.complete(session_id))
    s1, s2 = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as conn:
        for sid, seconds in ((s1, 15.0), (s1, 15.0), (s1, 4.5), (s2, 60.0)):
            await credits.debit(conn, user_id, sid, seconds)
    status, body = await paid.call("GET", "/api/billing", token)
    assert status == 200
    assert body["credits_seconds"] == pytest.approx(FREE + STARTER - 94.5)
    assert [(p["payment_id"], p["status"], p["amount_cents"], p["currency"]) for p in body["purchases"]] == [
        (payment_id, "paid", 999, "usd")
    ]
    debits = {d["session_id"]: d for d in body["debits"]}
    assert debits[str(s1)]["seconds"] == pytest.approx(34.5)
    assert debits[str(s2)]["seconds"] == pytest.approx(60.0)
    assert all(d["at"] for d in body["debits"])


async def test_receipt_is_the_owners_only(paid: Api, fake_stripe: FakeStripe) -> None:
    token, other, payment_id = await _bought(paid, fake_stripe)

    async with paid.http.get(
        f"{paid.base}/api/billing/receipts/{payment_id}?download=1", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        assert r.headers["Content-Disposition"].startswith("attachment")
        text = await r.text()
    assert "Receipt" in text and "Starter" in text and "9.99 USD" in text

    for who, pid in ((other, payment_id), (token, str(uuid.uuid4())), (token, "not-a-uuid")):
        status, body = await paid.call("GET", f"/api/billing/receipts/{pid}", who)
        assert status == 404 and body["error"]["code"] == "not_found"


async def test_manual_invoice_is_credited_when_an_admin_confirms_it(paid: Api) -> None:
    token, _ = await paid.register()
    admin_token, _ = await paid.register(ADMIN)
    status, body = await paid.call("POST", "/api/checkout", token, json={"package_id": "starter", "gateway": "manual"})
    assert status == 201
    payment_id = body["payment_id"]
    assert body["redirect_url"].endswith(f"/api/billing/receipts/{payment_id}")
    status, invoice = await paid.call("GET", f"/api/billing/receipts/{payment_id}", token)
    assert status == 200 and "Invoice" in invoice and "INV-" in invoice
    assert await paid.balance(token) == FREE

    # the user cannot confirm their own invoice
    status, body = await paid.call("POST", f"/api/admin/payments/{payment_id}/confirm", token)
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert await paid.balance(token) == FREE

    status, pending = await paid.call("GET", "/api/admin/payments?status=pending", admin_token)
    assert status == 200 and payment_id in {p["payment_id"] for p in pending["payments"]}
    for want in ("paid", "already_applied"):
        status, body = await paid.call("POST", f"/api/admin/payments/{payment_id}/confirm", admin_token)
        assert status == 200 and body["outcome"] == want
        assert body["payment"]["status"] == "paid"
    assert await paid.balance(token) == FREE + STARTER
    status, receipt = await paid.call("GET", f"/api/billing/receipts/{payment_id}", token)
    assert "Receipt" in receipt

    status, body = await paid.call("POST", f"/api/admin/payments/{payment_id}/refund", admin_token)
    assert status == 200 and body["payment"]["status"] == "refunded"
    assert await paid.balance(token) == FREE
