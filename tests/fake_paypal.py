"""A local HTTP server speaking PayPal's REST wire format, for the calls billing makes.

OAuth client-credentials tokens (HTTP basic in, bearer token out), Orders v2 (create with a ``payer-action``
link, capture, get), refunds of a capture, and ``/v1/notifications/verify-webhook-signature``, which answers
SUCCESS only for events this fake itself "sent" (it remembers each transmission id and signature it issued
for exactly that event body) and FAILURE for anything else. Error bodies are PayPal's
``{"name", "message", "details": [{"issue"}]}``. The test plays the buyer (``approve``) and PayPal's webhook
delivery (``webhook_headers``).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from fake_http_api import LocalApi


def _rid(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(8).upper()}"


def _error(status: int, name: str, message: str, issue: str | None = None) -> web.Response:
    body: dict[str, Any] = {"name": name, "message": message, "debug_id": secrets.token_hex(6)}
    if issue:
        body["details"] = [{"issue": issue, "description": message}]
    return web.json_response(body, status=status)


def _cents(value: str) -> int:
    whole, _, frac = value.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def _value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class FakePayPal(LocalApi):
    client_id: str = "fake-paypal-client"
    client_secret: str = "fake-paypal-secret"
    webhook_id: str = "WH-FAKE-0001"
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    sent: dict[str, tuple[str, str]] = field(default_factory=dict)  # transmission id → (signature, body)
    requests: list[dict[str, Any]] = field(default_factory=list)
    verify_calls: int = 0
    refund_events: list[dict[str, Any]] = field(default_factory=list)  # webhooks owed for refunds made over the API

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/oauth2/token", self._token)
        app.router.add_post("/v2/checkout/orders", self._create_order)
        app.router.add_get("/v2/checkout/orders/{id}", self._get_order)
        app.router.add_post("/v2/checkout/orders/{id}/capture", self._capture)
        app.router.add_post("/v2/payments/captures/{id}/refund", self._refund)
        app.router.add_post("/v1/notifications/verify-webhook-signature", self._verify)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    # ---- wire

    async def _unknown(self, request: web.Request) -> web.Response:
        return _error(404, "RESOURCE_NOT_FOUND", f"No route for {request.method} {request.path}")

    def _bearer_ok(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    async def _token(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response(
                {"error": "invalid_client", "error_description": "Client Authentication failed"}, status=401
            )
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return web.json_response(
            {
                "scope": "https://uri.paypal.com/services/payments",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-FAKE",
                "expires_in": 32400,
            }
        )

    async def _json(self, request: web.Request) -> Any:
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="PayPal takes JSON")
        raw = await request.text()
        body = json.loads(raw) if raw else {}
        self.requests.append(
            {"method": request.method, "path": request.path, "body": body, "headers": dict(request.headers)}
        )
        return body

    async def _create_order(self, request: web.Request) -> web.Response:
        if not self._bearer_ok(request):
            return _error(
                401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid authentication credentials"
            )
        body = await self._json(request)
        rid = request.headers.get("PayPal-Request-Id")
        if rid:
            for order in self.orders.values():
                if order["_request_id"] == rid:
                    return web.json_response(self._public(order), status=200)
        if body.get("intent") not in ("CAPTURE", "AUTHORIZE"):
            return _error(400, "INVALID_REQUEST", "intent is required", "MISSING_REQUIRED_PARAMETER")
        units = body.get("purchase_units") or []
        amount = (units[0] if units else {}).get("amount") or {}
        if not amount.get("currency_code") or not amount.get("value"):
            return _error(422, "UNPROCESSABLE_ENTITY", "amount is required", "MISSING_REQUIRED_PARAMETER")
        oid = _rid("5O")
        ctx = (((body.get("payment_source") or {}).get("paypal") or {}).get("experience_context")) or {}
        self.orders[oid] = {
            "id": oid,
            "status": "PAYER_ACTION_REQUIRED",
            "intent": body["intent"],
            "purchase_units": units,
            "_request_id": rid,
            "_return_url": ctx.get("return_url"),
            "_cancel_url": ctx.get("cancel_url"),
        }
        return web.json_response(self._public(self.orders[oid]), status=200)

    def _public(self, order: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in order.items() if not k.startswith("_")}
        out["links"] = [
            {"href": f"{self.api_base}/v2/checkout/orders/{order['id']}", "rel": "self", "method": "GET"},
            {
                "href": f"https://www.sandbox.paypal.com/checkoutnow?token={order['id']}",
                "rel": "payer-action",
                "method": "GET",
            },
        ]
        return out

    async def _get_order(self, request: web.Request) -> web.Response:
        if not self._bearer_ok(request):
            return _error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        order = self.orders.get(request.match_info["id"])
        if order is None:
            return _error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", "INVALID_RESOURCE_ID")
        return web.json_response(self._public(order))

    async def _capture(self, request: web.Request) -> web.Response:
        if not self._bearer_ok(request):
            return _error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        await self._json(request)
        order = self.orders.get(request.match_info["id"])
        if order is None:
            return _error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", "INVALID_RESOURCE_ID")
        if order["status"] == "COMPLETED":
            return _error(422, "UNPROCESSABLE_ENTITY", "Order already captured.", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return _error(422, "UNPROCESSABLE_ENTITY", "The buyer has not approved the order.", "ORDER_NOT_APPROVED")
        unit = order["purchase_units"][0]
        cid = _rid("3C")
        capture = {
            "id": cid,
            "status": "COMPLETED",
            "amount": dict(unit["amount"]),
            "custom_id": unit.get("custom_id"),
            "final_capture": True,
            "supplementary_data": {"related_ids": {"order_id": order["id"]}},
            "links": [
                {"href": f"{self.api_base}/v2/payments/captures/{cid}/refund", "rel": "refund", "method": "POST"}
            ],
            "_refunded": 0,
        }
        self.captures[cid] = capture
        order["status"] = "COMPLETED"
        unit["payments"] = {"captures": [{k: v for k, v in capture.items() if not k.startswith("_")}]}
        return web.json_response(self._public(order), status=201)

    async def _refund(self, request: web.Request) -> web.Response:
        if not self._bearer_ok(request):
            return _error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        body = await self._json(request)
        capture = self.captures.get(request.match_info["id"])
        if capture is None:
            return _error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", "INVALID_RESOURCE_ID")
        if capture["status"] == "REFUNDED":
            return _error(
                422, "UNPROCESSABLE_ENTITY", "The capture has already been fully refunded", "CAPTURE_FULLY_REFUNDED"
            )
        event = self.refund(capture["id"], _cents(body["amount"]["value"]) if body.get("amount") else None)
        self.refund_events.append(event)
        return web.json_response(event["resource"], status=201)

    async def _verify(self, request: web.Request) -> web.Response:
        if not self._bearer_ok(request):
            return _error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        body = await self._json(request)
        self.verify_calls += 1
        required = (
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_id",
            "webhook_event",
        )
        if any(not body.get(k) for k in required):
            return _error(400, "VALIDATION_ERROR", "Invalid request - see details", "MISSING_REQUIRED_PARAMETER")
        issued = self.sent.get(body["transmission_id"])
        ok = (
            body["webhook_id"] == self.webhook_id
            and issued is not None
            and issued[0] == body["transmission_sig"]
            and json.loads(issued[1]) == body["webhook_event"]
        )
        return web.json_response({"verification_status": "SUCCESS" if ok else "FAILURE"})

    # ---- the test's hands: the buyer, PayPal's dashboard and its webhook delivery

    def approve(self, order_id: str) -> str:
        """The buyer approves on PayPal; returns the URL PayPal sends the browser back to."""
        order = self.orders[order_id]
        order["status"] = "APPROVED"
        sep = "&" if "?" in order["_return_url"] else "?"
        return f"{order['_return_url']}{sep}token={order_id}&PayerID=FAKEPAYER01"

    def capture_completed(self, capture_id: str) -> dict[str, Any]:
        cap = {k: v for k, v in self.captures[capture_id].items() if not k.startswith("_")}
        return {
            "id": _rid("WH-"),
            "event_version": "1.0",
            "resource_type": "capture",
            "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "summary": "Payment completed",
            "resource": cap,
        }

    def refund(self, capture_id: str, cents: int | None = None) -> dict[str, Any]:
        """Refund (part of) a capture as the merchant's dashboard would; returns the webhook event PayPal sends."""
        cap = self.captures[capture_id]
        total = _cents(cap["amount"]["value"])
        cents = total - cap["_refunded"] if cents is None else cents
        cap["_refunded"] += cents
        if cap["_refunded"] >= total:
            cap["status"] = "REFUNDED"
        currency = cap["amount"]["currency_code"]
        resource = {
            "id": _rid("1R"),
            "status": "COMPLETED",
            "amount": {"currency_code": currency, "value": _value(cents)},
            "custom_id": cap.get("custom_id"),
            "seller_payable_breakdown": {
                "total_refunded_amount": {"currency_code": currency, "value": _value(cap["_refunded"])}
            },
            "links": [
                {"href": f"{self.api_base}/v2/payments/refunds/x", "rel": "self", "method": "GET"},
                {"href": f"{self.api_base}/v2/payments/captures/{capture_id}", "rel": "up", "method": "GET"},
            ],
        }
        return {
            "id": _rid("WH-"),
            "event_version": "1.0",
            "resource_type": "refund",
            "event_type": "PAYMENT.CAPTURE.REFUNDED",
            "summary": "A payment was refunded",
            "resource": resource,
        }

    def webhook_headers(self, body: str) -> dict[str, str]:
        """PayPal's delivery headers for ``body``; the fake remembers them so verification says SUCCESS."""
        tid = secrets.token_hex(16)
        sig = base64.b64encode(secrets.token_bytes(32)).decode()
        self.sent[tid] = (sig, body)
        return {
            "Content-Type": "application/json",
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-CERT-URL": "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-fake",
            "PAYPAL-TRANSMISSION-ID": tid,
            "PAYPAL-TRANSMISSION-SIG": sig,
            "PAYPAL-TRANSMISSION-TIME": "2026-12-02T16:00:00Z",
        }
