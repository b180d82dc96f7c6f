"""A local HTTP server speaking Stripe's REST wire format, for the calls billing makes.

The real ``stripe`` client is pointed at it (``STRIPE_API_BASE``): form-encoded requests with
bracketed keys in, Stripe-shaped JSON objects (or Stripe error JSON) out. It also builds the
webhook events Stripe would send next, signed with Stripe's own scheme
(``stripe.WebhookSignature.generate_signature_header``), so the app verifies them with
``stripe.Webhook.construct_event`` exactly as in production.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import stripe
from aiohttp import web
from fake_http_api import LocalApi

from web.billing.gateways.stripe_gateway import STRIPE_API_VERSION

# the fake speaks only the pinned version: a request naming another one is refused as Stripe would
API_VERSION = STRIPE_API_VERSION


def _rid(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def decode_form(body: str) -> dict[str, Any]:
    """``a[b][0][c]=1`` → {"a": {"b": [{"c": "1"}]}} (Stripe's encoding of nested parameters)."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head] + ([p.rstrip("]") for p in rest.split("[")] if rest else [])
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    def listify(v: Any) -> Any:
        if isinstance(v, dict):
            v = {k: listify(x) for k, x in v.items()}
            if v and all(k.isdigit() for k in v):
                return [v[k] for k in sorted(v, key=int)]
        return v

    return listify(root)


def _error(status: int, type_: str, message: str, param: str | None = None) -> web.Response:
    err: dict[str, Any] = {"type": type_, "message": message}
    if param:
        err["param"] = param
    return web.json_response({"error": err}, status=status, headers={"Request-Id": _rid("req")})


@dataclass
class FakeStripe(LocalApi):
    api_key: str = "sk_test_fake_key"
    webhook_secret: str = "whsec_test_secret"
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    portal_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    # ---- server

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_post("/v1/billing_portal/sessions", self._create_portal_session)
        app.router.add_get("/p/session/{sid}", self._portal_page)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _unknown(self, request: web.Request) -> web.Response:
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({request.method}: {request.path}).")

    async def _create_session(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        if request.headers.get("Stripe-Version") != API_VERSION:
            version = request.headers.get("Stripe-Version")
            return _error(400, "invalid_request_error", f"This fake only speaks API version {API_VERSION}, not {version}")
        if not request.content_type == "application/x-www-form-urlencoded":
            return _error(400, "invalid_request_error", "Stripe takes form-encoded bodies")
        params = decode_form(await request.text())
        self.requests.append({"path": request.path, "params": params, "headers": dict(request.headers)})
        mode = params.get("mode")
        if mode not in ("payment", "subscription", "setup"):
            return _error(400, "invalid_request_error", "Invalid mode", "mode")
        for p in ("success_url",):
            if not params.get(p):
                return _error(400, "invalid_request_error", f"Missing required param: {p}.", p)
        items = params.get("line_items") or []
        if not items:
            return _error(400, "invalid_request_error", "Missing required param: line_items.", "line_items")
        total = 0
        currency = None
        for i, item in enumerate(items):
            pd = item.get("price_data") or {}
            if not pd.get("currency") or not pd.get("unit_amount") or not _get(pd, "product_data", "name"):
                return _error(400, "invalid_request_error", "Invalid price_data", f"line_items[{i}][price_data]")
            if mode == "subscription" and _get(pd, "recurring", "interval") != "month":
                return _error(400, "invalid_request_error", "A subscription needs a recurring price", "line_items")
            if mode == "payment" and pd.get("recurring"):
                return _error(400, "invalid_request_error", "A payment-mode price must not recur", "line_items")
            total += int(pd["unit_amount"]) * int(item.get("quantity", "1"))
            currency = pd["currency"]
        sid = f"cs_test_{secrets.token_hex(16)}"
        session = {
            "id": sid,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.api_base}/c/pay/{sid}",
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "metadata": params.get("metadata") or {},
            "amount_total": total,
            "amount_subtotal": total,
            "currency": currency,
            "livemode": False,
            "created": int(time.time()),
            "expires_at": int(time.time()) + 86400,
            "payment_intent": None,
            "subscription": None,
            "invoice": None,
            "customer": None,
            "_subscription_metadata": _get(params, "subscription_data", "metadata") or {},
        }
        self.sessions[sid] = session
        return web.json_response(_public(session), headers={"Request-Id": _rid("req")})

    async def _create_portal_session(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        if request.headers.get("Stripe-Version") != API_VERSION:
            return _error(400, "invalid_request_error", f"This fake only speaks API version {API_VERSION}")
        params = decode_form(await request.text())
        self.requests.append({"path": request.path, "params": params, "headers": dict(request.headers)})
        customer = params.get("customer")
        if not customer:
            return _error(400, "invalid_request_error", "Missing required param: customer.", "customer")
        if customer not in {s.get("customer") for s in self.sessions.values()}:
            return _error(400, "invalid_request_error", f"No such customer: '{customer}'", "customer")
        sid = _rid("bps")
        session = {
            "id": sid,
            "object": "billing_portal.session",
            "customer": customer,
            "return_url": params.get("return_url"),
            "url": f"{self.api_base}/p/session/{sid}",
            "livemode": False,
            "created": int(time.time()),
        }
        self.portal_sessions[sid] = session
        return web.json_response(session, headers={"Request-Id": _rid("req")})

    async def _portal_page(self, request: web.Request) -> web.Response:
        s = self.portal_sessions.get(request.match_info["sid"])
        if s is None:
            return web.Response(status=404, text="no such portal session")
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fake Stripe portal</title></head>'
            f'<body><h1>Fake Stripe customer portal</h1><p id="customer">{s["customer"]}</p>'
            f'<a id="return" href="{s["return_url"]}">Return</a></body></html>'
        )
        return web.Response(text=html, content_type="text/html")

    # ---- what Stripe would send next

    def event(self, type_: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        return {
            "id": event_id or _rid("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "type": type_,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }

    def complete(self, session_id: str) -> dict[str, Any]:
        """The customer paid: ``checkout.session.completed``."""
        s = self.sessions[session_id]
        s["status"] = "complete"
        s["payment_status"] = "paid"
        if s["mode"] == "payment":
            s["payment_intent"] = s["payment_intent"] or _rid("pi")
        else:
            s["subscription"] = s["subscription"] or _rid("sub")
            s["invoice"] = s["invoice"] or _rid("in")
            s["customer"] = s.get("customer") or _rid("cus")
        return self.event("checkout.session.completed", _public(s))

    def subscription_event(
        self,
        session_id: str,
        type_: str = "customer.subscription.updated",
        *,
        status: str = "active",
        cancel_at_period_end: bool = False,
        period_end: int | None = None,
        created: int | None = None,
        lookup_key: str | None = None,
    ) -> dict[str, Any]:
        """``customer.subscription.*`` as the current API shapes it (the period end on the items)."""
        s = self.sessions[session_id]
        s["subscription"] = s["subscription"] or _rid("sub")
        s["customer"] = s.get("customer") or _rid("cus")
        end = period_end or int(time.time()) + 30 * 86400
        sub = {
            "id": s["subscription"],
            "object": "subscription",
            "customer": s["customer"],
            "status": status,
            "cancel_at_period_end": cancel_at_period_end,
            "canceled_at": int(time.time()) if status == "canceled" else None,
            "metadata": s["_subscription_metadata"],
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": _rid("si"),
                        "object": "subscription_item",
                        "current_period_start": end - 30 * 86400,
                        "current_period_end": end,
                        "price": {
                            "id": _rid("price"),
                            "object": "price",
                            "unit_amount": s["amount_total"],
                            "currency": s["currency"],
                            "lookup_key": lookup_key,
                            "metadata": {},
                            "recurring": {"interval": "month"},
                        },
                        "quantity": 1,
                    }
                ],
            },
            "livemode": False,
        }
        ev = self.event(type_, sub)
        if created is not None:
            ev["created"] = created
        return ev

    def invoice_payment_failed(self, session_id: str) -> dict[str, Any]:
        s = self.sessions[session_id]
        invoice = {
            "id": _rid("in"),
            "object": "invoice",
            "status": "open",
            "billing_reason": "subscription_cycle",
            "amount_due": s["amount_total"],
            "amount_paid": 0,
            "currency": s["currency"],
            "customer": s.get("customer"),
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"subscription": s["subscription"], "metadata": s["_subscription_metadata"]},
            },
            "livemode": False,
        }
        return self.event("invoice.payment_failed", invoice)

    def invoice_paid(
        self, session_id: str, invoice_id: str | None = None, reason: str = "subscription_cycle"
    ) -> dict[str, Any]:
        """A subscription period was paid: ``invoice.paid`` (current API shape: parent.subscription_details)."""
        s = self.sessions[session_id]
        s["subscription"] = s["subscription"] or _rid("sub")
        inv_id = invoice_id or _rid("in")
        invoice = {
            "id": inv_id,
            "object": "invoice",
            "status": "paid",
            "billing_reason": reason,
            "amount_due": s["amount_total"],
            "amount_paid": s["amount_total"],
            "currency": s["currency"],
            "customer_email": s["customer_email"],
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"subscription": s["subscription"], "metadata": s["_subscription_metadata"]},
            },
            "period_start": int(time.time()),
            "period_end": int(time.time()) + 30 * 86400,
            "livemode": False,
        }
        return self.event("invoice.paid", invoice)

    def charge_refunded(self, payment_intent: str, amount: int, amount_refunded: int) -> dict[str, Any]:
        charge = {
            "id": _rid("ch"),
            "object": "charge",
            "amount": amount,
            "amount_refunded": amount_refunded,
            "refunded": amount_refunded >= amount,
            "currency": "usd",
            "payment_intent": payment_intent,
            "metadata": {},
            "status": "succeeded",
            "livemode": False,
        }
        return self.event("charge.refunded", charge)

    def sign(self, payload: str, secret: str | None = None, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` header for ``payload``, by Stripe's own helper."""
        return stripe.WebhookSignature.generate_signature_header(payload, secret or self.webhook_secret, timestamp)


def _get(obj: Any, *path: str) -> Any:
    for k in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _public(session: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in session.items() if not k.startswith("_")}


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))
