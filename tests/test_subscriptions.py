"""Subscriptions the user controls (issue #20): Stripe's customer portal opened through the real ``stripe``
client against tests/fake_stripe.py over HTTP, ``customer.subscription.*`` and ``invoice.payment_failed``
webhooks applied once each on real Postgres, forged ones changing nothing; receipts as PDF."""

from __future__ import annotations

import io
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pypdf
from fake_http_api import served_fixture
from fake_stripe import FakeStripe, dumps
from test_billing import FREE, MONTHLY, Api, _bought, _checkout, _send, stripe_app_fixture

from web.billing.gateways.stripe_gateway import translate

fake_stripe = served_fixture(FakeStripe, "fake_stripe")


paid = stripe_app_fixture()


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _subscription(api: Api, token: str) -> dict[str, Any] | None:
    status, body = await api.call("GET", "/api/billing/subscription", token)
    assert status == 200, body
    return body["subscription"]


async def _subscribe(api: Api, fake: FakeStripe) -> tuple[str, str, str]:
    """A user with a paid monthly plan: (token, payment id, checkout session id)."""
    token, _ = await api.register()
    payment_id, session_id = await _checkout(api, fake, token, "pro_monthly")
    assert (await _send(api, fake, fake.invoice_paid(session_id, reason="subscription_create")))["outcome"] == "paid"
    assert (await _send(api, fake, fake.complete(session_id)))["outcome"] == "subscription_linked"
    return token, payment_id, session_id


async def test_subscription_state_follows_the_events_each_applied_once(paid: Api, fake_stripe: FakeStripe) -> None:
    token, payment_id, sid = await _subscribe(paid, fake_stripe)
    t0 = int(time.time())
    end = t0 + 30 * 86400
    created = fake_stripe.subscription_event(sid, "customer.subscription.created", period_end=end, created=t0)
    assert (await _send(paid, fake_stripe, created))["outcome"] == "subscription_updated"
    sub = await _subscription(paid, token)
    assert sub is not None
    assert (sub["package_id"], sub["status"], sub["cancel_at_period_end"]) == ("pro_monthly", "active", False)
    assert sub["renews_at"] == _iso(end) and sub["ends_at"] is None and sub["manageable"] is True

    # cancelled at period end in the portal; the same event redelivered is applied once
    cancel = fake_stripe.subscription_event(sid, cancel_at_period_end=True, period_end=end, created=t0 + 10)
    assert (await _send(paid, fake_stripe, cancel))["outcome"] == "subscription_updated"
    assert (await _send(paid, fake_stripe, cancel))["outcome"] == "already_applied"
    sub = await _subscription(paid, token)
    assert sub["cancel_at_period_end"] is True and sub["renews_at"] is None and sub["ends_at"] == _iso(end)

    # an older state delivered late (another event id) does not undo the newer one
    late = fake_stripe.subscription_event(sid, cancel_at_period_end=False, period_end=end, created=t0 + 5)
    assert (await _send(paid, fake_stripe, late))["outcome"] == "out_of_order"
    assert (await _subscription(paid, token))["cancel_at_period_end"] is True

    # resumed
    resume = fake_stripe.subscription_event(sid, cancel_at_period_end=False, period_end=end, created=t0 + 20)
    assert (await _send(paid, fake_stripe, resume))["outcome"] == "subscription_updated"
    sub = await _subscription(paid, token)
    assert sub["cancel_at_period_end"] is False and sub["renews_at"] == _iso(end)

    # a renewal that could not be charged: past due, once
    failed = fake_stripe.invoice_payment_failed(sid)
    failed["created"] = t0 + 25
    assert (await _send(paid, fake_stripe, failed))["outcome"] == "payment_failed"
    assert (await _send(paid, fake_stripe, failed))["outcome"] == "already_applied"
    sub = await _subscription(paid, token)
    assert sub["status"] == "past_due" and sub["payment_failed_at"] is not None
    assert await paid.balance(token) == FREE + MONTHLY  # no credits move on any of these

    # ended: the plan goes back to free, the portal is no longer offered
    _, me = await paid.call("GET", "/api/me", token)
    assert me["plan"] == "pro_monthly"
    deleted = fake_stripe.subscription_event(
        sid, "customer.subscription.deleted", status="canceled", period_end=end, created=t0 + 30
    )
    assert (await _send(paid, fake_stripe, deleted))["outcome"] == "subscription_ended"
    assert (await _send(paid, fake_stripe, deleted))["outcome"] == "already_applied"
    sub = await _subscription(paid, token)
    assert sub["status"] == "canceled" and sub["manageable"] is False and sub["renews_at"] is None
    _, me = await paid.call("GET", "/api/me", token)
    assert me["plan"] == "free"
    status, body = await paid.call("POST", "/api/billing/portal", token)
    assert status == 404 and body["error"]["code"] == "no_subscription"
    rows = await paid.pool.fetch(
        "SELECT outcome FROM webhook_events WHERE id = ANY($1::text[]) ORDER BY received_at",
        [created["id"], cancel["id"], failed["id"], deleted["id"]],
    )
    assert [r["outcome"] for r in rows] == ["subscription_updated", "subscription_updated", "payment_failed", "subscription_ended"]


async def test_forged_subscription_events_change_nothing(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _, sid = await _subscribe(paid, fake_stripe)
    before = await _subscription(paid, token)
    forged = fake_stripe.subscription_event(sid, "customer.subscription.deleted", status="canceled")
    payload = dumps(forged)
    for signature in (fake_stripe.sign(payload, secret="whsec_wrong"), None, "t=1,v1=deadbeef"):
        status, body = await paid.webhook(payload, signature)
        assert status == 400 and body["error"]["code"] == "invalid_signature"
    assert await _subscription(paid, token) == before
    assert await paid.pool.fetchval("SELECT count(*) FROM webhook_events WHERE id = $1", forged["id"]) == 0
    # events about a subscription nobody here has change nothing either
    stray = fake_stripe.event("invoice.payment_failed", {"id": "in_x", "subscription": "sub_unknown"})
    assert (await _send(paid, fake_stripe, stray))["outcome"] == "unknown_subscription"
    assert await _subscription(paid, token) == before


async def test_portal_session_is_opened_for_the_users_own_customer(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _, sid = await _subscribe(paid, fake_stripe)
    status, body = await paid.call("POST", "/api/billing/portal", token)
    assert status == 200, body
    assert body["url"].startswith(f"{fake_stripe.api_base}/p/session/bps_")
    sent = fake_stripe.requests[-1]
    assert sent["path"] == "/v1/billing_portal/sessions"
    assert sent["params"]["customer"] == fake_stripe.sessions[sid]["customer"]
    assert sent["params"]["return_url"].endswith("/billing.html?portal=return")

    nobody, _ = await paid.register()
    status, body = await paid.call("POST", "/api/billing/portal", nobody)
    assert status == 404 and body["error"]["code"] == "no_subscription"
    assert await _subscription(paid, nobody) is None
    for method, path in (("POST", "/api/billing/portal"), ("GET", "/api/billing/subscription")):
        status, _ = await paid.call(method, path)
        assert status == 401


async def test_portal_refused_by_stripe_is_a_clear_error(paid: Api, fake_stripe: FakeStripe) -> None:
    token, _, sid = await _subscribe(paid, fake_stripe)
    before = await _subscription(paid, token)
    real = fake_stripe.sessions[sid]["customer"]
    fake_stripe.sessions[sid]["customer"] = "cus_gone"  # Stripe no longer knows the customer we stored
    try:
        status, body = await paid.call("POST", "/api/billing/portal", token)
    finally:
        fake_stripe.sessions[sid]["customer"] = real
    assert status == 502 and body["error"]["code"] == "payment_gateway_error"
    assert "No such customer" in body["error"]["message"]
    assert await _subscription(paid, token) == before
    status, body = await paid.call("POST", "/api/billing/portal", token)  # the next attempt is served
    assert status == 200 and body["url"].startswith(fake_stripe.api_base)


def test_subscription_events_of_older_api_shapes_translate() -> None:
    """Before 2025-03-31 the period end sat on the subscription itself, and invoices named their subscription."""
    sub = {
        "id": "sub_1",
        "customer": {"id": "cus_1"},
        "status": "active",
        "cancel_at_period_end": True,
        "current_period_end": 1_800_000_000,
        "metadata": {"payment_id": "p1"},
        "items": {"data": [{"price": {"lookup_key": "pro_monthly"}}]},
    }
    ev = translate({"id": "evt_1", "type": "customer.subscription.updated", "created": 5, "data": {"object": sub}})
    assert (ev.action, ev.subscription_ref, ev.customer_ref, ev.payment_id) == ("subscription_updated", "sub_1", "cus_1", "p1")
    assert (ev.current_period_end, ev.cancel_at_period_end, ev.package_id, ev.created) == (1_800_000_000, True, "pro_monthly", 5)
    failed = translate({"id": "evt_2", "type": "invoice.payment_failed", "data": {"object": {"id": "in_1", "subscription": "sub_1"}}})
    assert (failed.action, failed.subscription_ref) == ("payment_failed", "sub_1")
    one_off = translate({"id": "evt_3", "type": "invoice.payment_failed", "data": {"object": {"id": "in_2"}}})
    assert one_off.action == "ignored"


async def test_receipt_pdf_is_the_owners_only(paid: Api, fake_stripe: FakeStripe) -> None:
    token, other, payment_id = await _bought(paid, fake_stripe)
    async with paid.http.get(
        f"{paid.base}/api/billing/receipts/{payment_id}/pdf", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status == 200
        assert r.content_type == "application/pdf"
        assert r.headers["Content-Disposition"] == f'attachment; filename="receipt-{payment_id}.pdf"'
        data = await r.read()
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    for expected in ("Receipt", "Starter", "9.99 USD", payment_id, "Card (Stripe)", "paid"):
        assert expected in text, (expected, text)
    for who, pid in ((other, payment_id), (token, str(uuid.uuid4())), (token, "not-a-uuid")):
        status, body = await paid.call("GET", f"/api/billing/receipts/{pid}/pdf", who)
        assert status == 404 and body["error"]["code"] == "not_found"


async def test_mock_interview_prices_by_difficulty(paid: Api) -> None:
    token, _ = await paid.register()
    status, body = await paid.call("GET", "/api/mock/prices?currency=INR", token)
    assert status == 200, body
    assert [(p["difficulty"], p["price_cents"], p["currency"]) for p in body["prices"]] == [
        ("easy", 9900, "inr"),
        ("medium", 14900, "inr"),
        ("hard", 19900, "inr"),
        ("expert", 29900, "inr"),
    ]
    status, body = await paid.call("GET", "/api/mock/prices?currency=xyz", token)
    assert status == 200 and body["prices"] == []
    for bad in ("dollars", "1nr", ""):
        status, body = await paid.call("GET", f"/api/mock/prices?currency={bad}", token)
        assert status == 400 and body["error"]["field"] == "currency", (bad, body)
    status, _ = await paid.call("GET", "/api/mock/prices")
    assert status == 401
