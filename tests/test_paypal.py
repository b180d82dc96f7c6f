"""PayPal over HTTP: the signaling app in-process on real Postgres/Redis, the PayPal gateway (aiohttp) talking
to a local server that speaks PayPal's wire format (tests/fake_paypal.py), webhooks verified by its
verify-webhook-signature call."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from conftest import Infra
from fake_http_api import served_fixture
from fake_paypal import FakePayPal
from test_billing import FREE, STARTER, Api, running_app

PP_ADMIN = f"ppadmin-{uuid.uuid4().hex[:8]}@example.com"


fake_paypal = served_fixture(FakePayPal, "fake_paypal")


@pytest_asyncio.fixture(scope="module")
async def pp(infra: Infra, fake_paypal: FakePayPal) -> AsyncIterator[Api]:
    async with running_app(
        infra,
        paypal_client_id=fake_paypal.client_id,
        paypal_client_secret=fake_paypal.client_secret,
        paypal_webhook_id=fake_paypal.webhook_id,
        paypal_api_base=fake_paypal.api_base,
        admin_emails=[PP_ADMIN],
    ) as api:
        yield api


async def _checkout(api: Api, fake: FakePayPal, token: str, package_id: str = "starter") -> tuple[str, str]:
    status, body = await api.call("POST", "/api/checkout", token, json={"package_id": package_id, "gateway": "paypal"})
    assert status == 201, body
    order_id = body["redirect_url"].rsplit("token=", 1)[-1]
    assert order_id in fake.orders
    return body["payment_id"], order_id


async def _return(api: Api, token: str, url: str) -> tuple[int, str]:
    """The browser follows PayPal's redirect back to us (signed in); the answer is a redirect to billing.html."""
    parts = urlsplit(url)
    async with api.http.get(
        api.base + parts.path + "?" + parts.query, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
    ) as r:
        return r.status, r.headers.get("Location", "") or await r.text()


async def _webhook(api: Api, fake: FakePayPal, event: dict[str, Any], *, forge: bool = False) -> tuple[int, Any]:
    body = json.dumps(event)
    headers = fake.webhook_headers(body)
    if forge:  # a body PayPal never sent, under headers it did
        event = {**event, "resource": {**event["resource"], "custom_id": "00000000-0000-0000-0000-000000000000"}}
        body = json.dumps(event)
    return await api.call("POST", "/api/webhooks/paypal", data=body.encode(), headers=headers)


async def _purchase(api: Api, token: str, payment_id: str) -> dict[str, Any]:
    _, body = await api.call("GET", "/api/billing", token)
    return next(p for p in body["purchases"] if p["payment_id"] == payment_id)


async def test_paypal_is_listed_and_creates_an_order(pp: Api, fake_paypal: FakePayPal) -> None:
    token, _ = await pp.register()
    status, body = await pp.call("GET", "/api/packages", token)
    assert status == 200
    assert {"name": "paypal", "configured": True, "monthly": False} in body["gateways"]
    payment_id, order_id = await _checkout(pp, fake_paypal, token)
    sent = next(
        r
        for r in fake_paypal.requests
        if r["path"] == "/v2/checkout/orders" and r["body"]["purchase_units"][0]["custom_id"] == payment_id
    )
    unit = sent["body"]["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "USD", "value": "9.99"}
    assert sent["body"]["intent"] == "CAPTURE"
    assert sent["headers"]["PayPal-Request-Id"] == f"order-{payment_id}"
    purchase = await _purchase(pp, token, payment_id)
    assert (purchase["status"], purchase["gateway"]) == ("pending", "paypal")
    assert await pp.balance(token) == pytest.approx(FREE)  # nothing before the capture


async def test_monthly_plans_are_not_sold_through_paypal(pp: Api) -> None:
    token, _ = await pp.register()
    status, body = await pp.call(
        "POST", "/api/checkout", token, json={"package_id": "pro_monthly", "gateway": "paypal"}
    )
    assert status == 400 and body["error"]["code"] == "gateway_unsupported"


async def test_capture_credits_once_when_return_and_webhook_both_arrive(pp: Api, fake_paypal: FakePayPal) -> None:
    token, _ = await pp.register()
    payment_id, order_id = await _checkout(pp, fake_paypal, token)
    back = fake_paypal.approve(order_id)
    status, location = await _return(pp, token, back)
    assert status == 302 and location.startswith("/billing.html?") and "status=success" in location
    assert fake_paypal.orders[order_id]["status"] == "COMPLETED"
    assert await pp.balance(token) == pytest.approx(FREE + STARTER)
    purchase = await _purchase(pp, token, payment_id)
    assert (purchase["status"], purchase["amount_cents"]) == ("paid", 999)

    # the webhook for the same capture, then its redelivery, then the return once more: nothing more
    capture_id = next(
        iter(
            c for c, v in fake_paypal.captures.items() if v["supplementary_data"]["related_ids"]["order_id"] == order_id
        )
    )
    event = fake_paypal.capture_completed(capture_id)
    for _ in range(2):
        status, body = await _webhook(pp, fake_paypal, event)
        assert status == 200, body
        assert body["outcome"] == "already_applied"
    status, location = await _return(pp, token, back)
    assert status == 302 and "status=success" in location
    assert await pp.balance(token) == pytest.approx(FREE + STARTER)


async def test_webhook_first_then_the_return_credits_once(pp: Api, fake_paypal: FakePayPal) -> None:
    token, _ = await pp.register()
    payment_id, order_id = await _checkout(pp, fake_paypal, token)
    back = fake_paypal.approve(order_id)
    # PayPal captured (e.g. the return was lost and the order captured by a retry); the webhook arrives first
    cap_status, cap_body = await _capture_directly(fake_paypal, order_id)
    assert cap_status == 201
    capture_id = cap_body["purchase_units"][0]["payments"]["captures"][0]["id"]
    status, body = await _webhook(pp, fake_paypal, fake_paypal.capture_completed(capture_id))
    assert status == 200 and body["outcome"] == "paid"
    assert await pp.balance(token) == pytest.approx(FREE + STARTER)
    status, location = await _return(pp, token, back)
    assert status == 302 and "status=success" in location
    assert await pp.balance(token) == pytest.approx(FREE + STARTER)
    assert (await _purchase(pp, token, payment_id))["status"] == "paid"


async def _capture_directly(fake: FakePayPal, order_id: str) -> tuple[int, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{fake.api_base}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={
                "Authorization": "Basic " + base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
            },
        ) as r:
            tok = (await r.json())["access_token"]
        async with http.post(
            f"{fake.api_base}/v2/checkout/orders/{order_id}/capture",
            json={},
            headers={"Authorization": f"Bearer {tok}"},
        ) as r:
            return r.status, await r.json()


async def test_forged_webhooks_change_nothing(pp: Api, fake_paypal: FakePayPal) -> None:
    token, _ = await pp.register()
    payment_id, order_id = await _checkout(pp, fake_paypal, token)
    fake_paypal.approve(order_id)
    _, cap = await _capture_directly(fake_paypal, order_id)
    capture_id = cap["purchase_units"][0]["payments"]["captures"][0]["id"]
    event = fake_paypal.capture_completed(capture_id)
    before = fake_paypal.verify_calls

    status, body = await _webhook(pp, fake_paypal, event, forge=True)  # PayPal's verification says FAILURE
    assert status == 400 and body["error"]["code"] == "invalid_signature"
    assert fake_paypal.verify_calls == before + 1
    status, body = await pp.call(
        "POST", "/api/webhooks/paypal", data=json.dumps(event).encode(), headers={"Content-Type": "application/json"}
    )  # no PayPal headers at all
    assert status == 400 and body["error"]["code"] == "invalid_signature"
    assert await pp.balance(token) == pytest.approx(FREE)
    assert (await _purchase(pp, token, payment_id))["status"] == "pending"

    # the genuine delivery still works afterwards (the forged one did not consume its event id)
    status, body = await _webhook(pp, fake_paypal, event)
    assert status == 200 and body["outcome"] == "paid"
    assert await pp.balance(token) == pytest.approx(FREE + STARTER)


async def test_refund_takes_the_credits_back_once(pp: Api, fake_paypal: FakePayPal) -> None:
    token, _ = await pp.register()
    payment_id, order_id = await _checkout(pp, fake_paypal, token)
    await _return(pp, token, fake_paypal.approve(order_id))
    assert await pp.balance(token) == pytest.approx(FREE + STARTER)
    capture_id = next(c for c, v in fake_paypal.captures.items() if v["custom_id"] == payment_id)

    full = fake_paypal.refund(capture_id)
    for _ in range(2):  # delivered, then redelivered
        status, body = await _webhook(pp, fake_paypal, full)
        assert status == 200, body
    assert await pp.balance(token) == pytest.approx(FREE)
    purchase = await _purchase(pp, token, payment_id)
    assert (purchase["status"], purchase["refunded_cents"]) == ("refunded", 999)


async def test_the_return_is_the_owners_only(pp: Api, fake_paypal: FakePayPal) -> None:
    owner, _ = await pp.register()
    other, _ = await pp.register()
    payment_id, order_id = await _checkout(pp, fake_paypal, owner)
    back = fake_paypal.approve(order_id)
    status, body = await _return(pp, other, back)
    assert status == 404
    assert fake_paypal.orders[order_id]["status"] == "APPROVED"  # not captured by someone else's visit
    status, _ = await _return(pp, owner, back.replace(order_id, "5OFORGED"))
    assert status == 404
    assert await pp.balance(owner) == pytest.approx(FREE)


async def test_without_paypal_keys_checkout_says_not_configured(infra: Infra) -> None:
    async with running_app(infra, paypal_client_id="", paypal_client_secret="", paypal_webhook_id="") as api:
        token, _ = await api.register()
        _, body = await api.call("GET", "/api/packages", token)
        assert {"name": "paypal", "configured": False, "monthly": False} in body["gateways"]
        status, body = await api.call(
            "POST", "/api/checkout", token, json={"package_id": "starter", "gateway": "paypal"}
        )
        assert status == 503 and body["error"]["code"] == "payments_not_configured"


async def test_the_client_secret_is_never_logged(
    pp: Api, fake_paypal: FakePayPal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token, _ = await pp.register()
    _, order_id = await _checkout(pp, fake_paypal, token)
    await _return(pp, token, fake_paypal.approve(order_id))
    assert fake_paypal.client_secret not in caplog.text
    from web.billing.gateways.paypal import PayPalGateway

    assert fake_paypal.client_secret not in repr(
        PayPalGateway("id", fake_paypal.client_secret, "wh", fake_paypal.api_base)
    )


async def test_an_admin_refunds_at_paypal_and_the_credits_go_once(pp: Api, fake_paypal: FakePayPal) -> None:
    token, _ = await pp.register()
    payment_id, order_id = await _checkout(pp, fake_paypal, token)
    await _return(pp, token, fake_paypal.approve(order_id))
    assert await pp.balance(token) == pytest.approx(FREE + STARTER)
    admin, _ = await pp.register(PP_ADMIN)

    status, body = await pp.call("POST", f"/api/admin/payments/{payment_id}/refund", token)
    assert status == 403  # not an admin: nothing refunded
    assert await pp.balance(token) == pytest.approx(FREE + STARTER)

    status, body = await pp.call("POST", f"/api/admin/payments/{payment_id}/refund", admin)
    assert status == 200, body
    assert (body["outcome"], body["payment"]["status"], body["payment"]["refunded_cents"]) == (
        "refunded",
        "refunded",
        999,
    )
    capture_id = next(c for c, v in fake_paypal.captures.items() if v["custom_id"] == payment_id)
    assert fake_paypal.captures[capture_id]["status"] == "REFUNDED"
    assert await pp.balance(token) == pytest.approx(FREE)
    # PayPal's webhook for that refund, twice, and the admin's second click: nothing more
    for _ in range(2):
        status, _ = await _webhook(pp, fake_paypal, fake_paypal.refund_events[-1])
        assert status == 200
    status, body = await pp.call("POST", f"/api/admin/payments/{payment_id}/refund", admin)
    assert status == 200 and body["outcome"] == "already_applied"
    assert len([e for e in fake_paypal.refund_events if e["resource"]["custom_id"] == payment_id]) == 1
    assert await pp.balance(token) == pytest.approx(FREE)
