"""PayPal: Orders v2 (create → the buyer approves → we capture), verified webhooks, refunds.

The wire calls, made with aiohttp (no SDK):

- ``POST /v1/oauth2/token`` (HTTP basic client id/secret, ``grant_type=client_credentials``): a bearer
  token, reused until shortly before it expires;
- ``POST /v2/checkout/orders`` (intent CAPTURE, our payment id as ``custom_id``): the order id and its
  ``payer-action``/``approve`` link, where the browser goes;
- ``POST /v2/checkout/orders/{id}/capture`` when the browser comes back (``/api/billing/return/paypal``):
  the capture is turned into a ``paid`` event, applied like a webhook;
- ``POST /v1/notifications/verify-webhook-signature``: every webhook is checked by PayPal itself (with
  ``PAYPAL_WEBHOOK_ID``); anything but ``SUCCESS`` is refused and changes nothing;
- ``POST /v2/payments/captures/{id}/refund`` for refunds started here.

A capture is credited once whether the return, the ``PAYMENT.CAPTURE.COMPLETED`` webhook or both arrive
(and however often the webhook is redelivered): the payment moves pending → paid once.
Monthly plans are not sold through PayPal (they would need PayPal-side billing plans).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp

from interview_room.store.credits import Payment

from .base import (
    CheckoutRequest,
    CheckoutStart,
    Gateway,
    GatewayError,
    GatewayEvent,
    GatewayNotConfigured,
    InvalidSignature,
)

log = logging.getLogger("billing.paypal")

LIVE_API_BASE = "https://api-m.paypal.com"
# the headers PayPal signs a webhook with; all are passed to verify-webhook-signature
SIGNATURE_HEADERS = {
    "auth_algo": "PAYPAL-AUTH-ALGO",
    "cert_url": "PAYPAL-CERT-URL",
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
}
# currencies PayPal writes without decimals
ZERO_DECIMAL = {"HUF", "JPY", "TWD"}


def to_value(cents: int, currency: str) -> str:
    """Our integer minor units → PayPal's decimal string ("9.99")."""
    if currency.upper() in ZERO_DECIMAL:
        return str(cents // 100)
    return f"{cents // 100}.{cents % 100:02d}"


def to_cents(amount: Any) -> int | None:
    """PayPal's ``{"currency_code", "value"}`` → integer minor units (None when absent or malformed)."""
    if not isinstance(amount, Mapping):
        return None
    try:
        value = Decimal(str(amount.get("value")))
    except InvalidOperation:
        return None
    return int((value * 100).to_integral_value())


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _link(obj: Any, *rels: str) -> str | None:
    for link in obj.get("links") or [] if isinstance(obj, Mapping) else []:
        if isinstance(link, Mapping) and link.get("rel") in rels and isinstance(link.get("href"), str):
            return link["href"]
    return None


def _currency(amount: Any) -> str | None:
    c = _get(amount, "currency_code")
    return c.lower() if isinstance(c, str) else None


class PayPalGateway(Gateway):
    name = "paypal"
    supports_monthly = False
    refunds_here = True

    def __init__(self, client_id: str, client_secret: str, webhook_id: str, api_base: str = "") -> None:
        self.client_id = client_id
        self._secret = client_secret
        self.webhook_id = webhook_id
        self.api_base = (api_base or LIVE_API_BASE).rstrip("/")
        self._http: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_until = 0.0

    def __repr__(self) -> str:  # never the secret
        return f"PayPalGateway(api_base={self.api_base!r}, configured={self.configured()})"

    def configured(self) -> bool:
        return bool(self.client_id and self._secret)

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        return self._http

    def _basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self._secret}".encode()).decode()

    async def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_until:
            return self._token
        try:
            async with self.http.post(
                f"{self.api_base}/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                headers={"Accept": "application/json", "Authorization": self._basic()},
            ) as r:
                body = await r.json(content_type=None)
                if r.status != 200 or not isinstance(body, Mapping) or not body.get("access_token"):
                    log.warning("paypal token refused status=%s", r.status)
                    raise GatewayError("PayPal refused the credentials")
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise GatewayError(f"PayPal could not be reached ({type(e).__name__})") from e
        self._token = str(body["access_token"])
        self._token_until = time.monotonic() + max(0, int(body.get("expires_in") or 0) - 60)
        return self._token

    async def _call(self, method: str, path: str, body: Any, *, request_id: str | None = None) -> tuple[int, Any]:
        if not self.configured():
            raise GatewayNotConfigured("PAYPAL_CLIENT_ID / PAYPAL_CLIENT_SECRET are not set")
        token = await self._access_token()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id  # PayPal's idempotency key
        try:
            async with self.http.request(method, f"{self.api_base}{path}", data=json.dumps(body), headers=headers) as r:
                if r.status == 401:
                    self._token = None
                return r.status, await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise GatewayError(f"PayPal could not be reached ({type(e).__name__})") from e

    @staticmethod
    def _refusal(body: Any) -> str:
        return str(_get(body, "message") or _get(body, "name") or "PayPal refused the request")

    async def start_checkout(self, req: CheckoutRequest) -> CheckoutStart:
        if not self.configured():
            raise GatewayNotConfigured("PAYPAL_CLIENT_ID / PAYPAL_CLIENT_SECRET are not set")
        pkg, pay = req.package, req.payment
        if pkg.kind == "monthly":
            raise GatewayError("monthly plans are not sold through PayPal")
        return_url = f"{req.base_url}/api/billing/return/paypal?payment={pay.id}"
        order = {
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": pay.id,
                    "custom_id": pay.id,
                    "description": pkg.name[:127],
                    "amount": {
                        "currency_code": pay.currency.upper(),
                        "value": to_value(pay.amount_cents, pay.currency),
                    },
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "return_url": return_url,
                        "cancel_url": req.cancel_url,
                        "user_action": "PAY_NOW",
                        "shipping_preference": "NO_SHIPPING",
                    }
                }
            },
        }
        status, body = await self._call("POST", "/v2/checkout/orders", order, request_id=f"order-{pay.id}")
        if status not in (200, 201):
            log.warning("paypal order refused payment=%s status=%s", pay.id, status)
            raise GatewayError(self._refusal(body))
        order_id = _get(body, "id")
        approve = _link(body, "payer-action", "approve")
        if not isinstance(order_id, str) or not order_id or not approve:
            raise GatewayError("PayPal answered without an approval link")
        return CheckoutStart(gateway_ref=order_id, redirect_url=approve)

    async def capture(self, order_id: str) -> GatewayEvent:
        """Capture an approved order (the browser came back); the outcome as a gateway-neutral event."""
        status, body = await self._call(
            "POST", f"/v2/checkout/orders/{order_id}/capture", {}, request_id=f"capture-{order_id}"
        )
        if status == 422 and any(_get(d, "issue") == "ORDER_ALREADY_CAPTURED" for d in (_get(body, "details") or [])):
            status, body = await self._call("GET", f"/v2/checkout/orders/{order_id}", None)
        if status not in (200, 201):
            log.warning("paypal capture refused order=%s status=%s", order_id, status)
            raise GatewayError(self._refusal(body))
        return translate_order(body)

    async def complete_return(self, query: Mapping[str, str]) -> GatewayEvent | None:
        order_id = query.get("token", "")
        if not order_id:
            return None
        return await self.capture(order_id)

    async def refund(self, payment: Payment, amount_cents: int | None = None) -> GatewayEvent:
        """Refund a capture (all of it when ``amount_cents`` is None); PayPal's answer is translated like the
        PAYMENT.CAPTURE.REFUNDED webhook that follows it (cumulative total, so both together refund once)."""
        if not payment.payment_intent_ref:
            raise GatewayError("this payment has no PayPal capture to refund")
        body: dict[str, Any] = {}
        if amount_cents is not None:
            body["amount"] = {
                "currency_code": payment.currency.upper(),
                "value": to_value(amount_cents, payment.currency),
            }
        status, out = await self._call(
            "POST",
            f"/v2/payments/captures/{payment.payment_intent_ref}/refund",
            body,
            request_id=f"refund-{payment.id}-{amount_cents}",
        )
        if status not in (200, 201) or not isinstance(out, Mapping):
            log.warning("paypal refund refused payment=%s status=%s", payment.id, status)
            raise GatewayError(self._refusal(out))
        event = {"id": f"refund:{out.get('id')}", "event_type": "PAYMENT.CAPTURE.REFUNDED", "resource": out}
        ev = translate(event)
        if not ev.payment_intent_refs:  # the answer did not link its capture: we know it
            ev = GatewayEvent(**{**ev.__dict__, "payment_intent_refs": [payment.payment_intent_ref]})
        return ev

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        if not self.configured() or not self.webhook_id:
            raise GatewayNotConfigured("PAYPAL_WEBHOOK_ID is not set")
        sig = {key: headers.get(h) for key, h in SIGNATURE_HEADERS.items()}
        if not all(sig.values()):
            raise InvalidSignature("PayPal signature headers are missing")
        try:
            event = json.loads(body)
        except ValueError as e:
            raise InvalidSignature("the body is not a PayPal event") from e
        if not isinstance(event, dict):
            raise InvalidSignature("the body is not a PayPal event")
        try:
            status, out = await self._call(
                "POST",
                "/v1/notifications/verify-webhook-signature",
                {**sig, "webhook_id": self.webhook_id, "webhook_event": event},
            )
        except GatewayError as e:
            raise InvalidSignature(f"PayPal could not verify the webhook: {e}") from e
        if status != 200 or _get(out, "verification_status") != "SUCCESS":
            raise InvalidSignature(f"PayPal says the signature is {_get(out, 'verification_status') or status}")
        return translate(event)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = None


def translate_order(order: Mapping[str, Any]) -> GatewayEvent:
    """A captured order (the capture call's answer) → ``paid`` (or ``ignored`` while not completed)."""
    unit = (_get(order, "purchase_units") or [{}])[0]
    capture = (_get(unit, "payments", "captures") or [{}])[0]
    cap_id = _get(capture, "id")
    base: dict[str, Any] = {
        "gateway": "paypal",
        "event_id": f"capture:{cap_id or order.get('id')}",
        "type": "order.captured",
        "gateway_ref": order.get("id"),
        "payment_id": _get(capture, "custom_id") or _get(unit, "custom_id") or _get(unit, "reference_id"),
    }
    if order.get("status") == "COMPLETED" and _get(capture, "status") == "COMPLETED":
        return GatewayEvent(
            **base,
            action="paid",
            payment_intent_refs=[cap_id] if cap_id else [],
            amount_cents=to_cents(capture.get("amount")),
            currency=_currency(capture.get("amount")),
        )
    return GatewayEvent(**base, action="ignored")  # e.g. PENDING (an eCheck): the webhook follows


def translate(event: Mapping[str, Any]) -> GatewayEvent:
    """A verified PayPal webhook event → the gateway-neutral event billing applies."""
    etype = str(event.get("event_type") or "")
    eid = str(event.get("id") or "")
    res = event.get("resource") or {}
    base: dict[str, Any] = {"gateway": "paypal", "event_id": eid, "type": etype}
    if etype == "PAYMENT.CAPTURE.COMPLETED":
        return GatewayEvent(
            **base,
            action="paid",
            payment_id=_get(res, "custom_id"),
            gateway_ref=_get(res, "supplementary_data", "related_ids", "order_id"),
            payment_intent_refs=[r for r in (_get(res, "id"),) if r],
            amount_cents=to_cents(_get(res, "amount")),
            currency=_currency(_get(res, "amount")),
        )
    if etype in ("PAYMENT.CAPTURE.DENIED", "CHECKOUT.ORDER.VOIDED"):
        order_id = _get(res, "supplementary_data", "related_ids", "order_id") or (
            res.get("id") if etype.startswith("CHECKOUT.ORDER") else None
        )
        return GatewayEvent(**base, action="failed", payment_id=_get(res, "custom_id"), gateway_ref=order_id)
    if etype == "PAYMENT.CAPTURE.REFUNDED":
        up = _link(res, "up") or ""
        capture_id = up.rstrip("/").rsplit("/", 1)[-1] if "/captures/" in up else None
        total = to_cents(_get(res, "seller_payable_breakdown", "total_refunded_amount")) or to_cents(res.get("amount"))
        return GatewayEvent(
            **base,
            action="refunded",
            payment_id=_get(res, "custom_id"),
            payment_intent_refs=[capture_id] if capture_id else [],
            refunded_cents=total or 0,
            currency=_currency(res.get("amount")),
        )
    return GatewayEvent(**base, action="ignored")
