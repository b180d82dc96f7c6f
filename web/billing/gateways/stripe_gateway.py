"""Stripe: Checkout Sessions for one-time packages and subscriptions, and webhook translation.

Credits are granted from webhooks only (``checkout.session.completed`` for one-time packages,
``invoice.paid`` for every period of a subscription, the first included), never from the
browser's redirect. Prices come from our database as inline ``price_data``, so no Stripe-side
product catalogue has to be kept in sync.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import stripe

from .base import (
    CheckoutRequest,
    CheckoutStart,
    Gateway,
    GatewayError,
    GatewayEvent,
    GatewayNotConfigured,
    InvalidSignature,
)

log = logging.getLogger("billing.stripe")

# The Stripe API version every request names (``Stripe-Version``) and the webhook payloads we translate were
# written against: the one the locked ``stripe`` library is typed for. Changing it is a code change (read Stripe's
# upgrade notes, then the tests with tests/fake_stripe.py), never a side effect of the account's default version.
STRIPE_API_VERSION = "2026-10-28.endive"


def _get(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]…, None as soon as a step is missing (webhook payloads vary by API version)."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _id(value: Any) -> str | None:
    """An expandable field: either an id string or an expanded object with ``id``."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        v = value.get("id")
        return v if isinstance(v, str) and v else None
    return None


def _metadata_payment_id(*candidates: Any) -> str | None:
    for md in candidates:
        pid = _get(md, "payment_id")
        if isinstance(pid, str) and pid:
            return pid
    return None


class StripeGateway(Gateway):
    name = "stripe"

    def __init__(self, api_key: str, webhook_secret: str, api_base: str = "") -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.api_base = api_base.rstrip("/")
        self._client: stripe.StripeClient | None = None
        self._http: stripe.AIOHTTPClient | None = None

    def configured(self) -> bool:
        return bool(self.api_key)

    @property
    def client(self) -> stripe.StripeClient:
        """Created on first use, inside the running loop (its aiohttp session belongs to that loop)."""
        if self._client is None:
            self._http = stripe.AIOHTTPClient()
            kwargs: dict[str, Any] = {
                "http_client": self._http,
                "max_network_retries": 2,
                "stripe_version": STRIPE_API_VERSION,
            }
            if self.api_base:
                kwargs["base_addresses"] = {"api": self.api_base}
            self._client = stripe.StripeClient(self.api_key, **kwargs)
        return self._client

    async def start_checkout(self, req: CheckoutRequest) -> CheckoutStart:
        if not self.configured():
            raise GatewayNotConfigured("STRIPE_API_KEY is not set")
        pkg, pay = req.package, req.payment
        metadata = {"payment_id": pay.id, "user_id": req.user_id, "package_id": pkg.id}
        price_data: dict[str, Any] = {
            "currency": pay.currency,
            "unit_amount": pay.amount_cents,
            "product_data": {"name": pkg.name, **({"description": pkg.description} if pkg.description else {})},
        }
        params: dict[str, Any] = {
            "success_url": req.success_url,
            "cancel_url": req.cancel_url,
            "client_reference_id": pay.id,
            "metadata": metadata,
            "line_items": [{"quantity": 1, "price_data": price_data}],
        }
        if req.user_email:
            params["customer_email"] = req.user_email
        if pkg.kind == "monthly":
            price_data["recurring"] = {"interval": "month"}
            params["mode"] = "subscription"
            params["subscription_data"] = {"metadata": metadata}
        else:
            params["mode"] = "payment"
            params["payment_intent_data"] = {"metadata": metadata}
        try:
            session = await self.client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"checkout-{pay.id}"},
            )
        except stripe.StripeError as e:
            log.warning("stripe checkout failed payment=%s error=%s", pay.id, e.user_message or type(e).__name__)
            raise GatewayError(e.user_message or "Stripe refused the checkout") from e
        if not session.id or not session.url:
            raise GatewayError("Stripe answered without a checkout URL")
        return CheckoutStart(gateway_ref=session.id, redirect_url=session.url)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        if not self.webhook_secret:
            raise GatewayNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
        try:
            stripe.Webhook.construct_event(body, headers.get("Stripe-Signature"), self.webhook_secret)
        except stripe.SignatureVerificationError as e:
            raise InvalidSignature(str(e)) from e
        except ValueError as e:  # the body is not JSON (cannot happen for a correctly signed Stripe event)
            raise InvalidSignature("the body is not a Stripe event") from e
        # plain dicts from here: the shapes are read defensively across API versions
        event = json.loads(body)
        return translate(event)

    async def portal_session(self, customer_ref: str, return_url: str) -> str:
        """A Billing Portal session (cancel at period end, resume, switch plan, update the card)."""
        if not self.configured():
            raise GatewayNotConfigured("STRIPE_API_KEY is not set")
        try:
            session = await self.client.v1.billing_portal.sessions.create_async(
                {"customer": customer_ref, "return_url": return_url}
            )
        except stripe.StripeError as e:
            log.warning("stripe portal session failed error=%s", e.user_message or type(e).__name__)
            raise GatewayError(e.user_message or "Stripe refused the portal session") from e
        if not session.url:
            raise GatewayError("Stripe answered without a portal URL")
        return session.url

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close_async()
        self._client = None
        self._http = None


def translate(event: Mapping[str, Any]) -> GatewayEvent:
    """A Stripe event (as JSON) → the gateway-neutral event billing applies."""
    etype = str(event.get("type") or "")
    eid = str(event.get("id") or "")
    obj = _get(event, "data", "object") or {}
    base: dict[str, Any] = {"gateway": "stripe", "event_id": eid, "type": etype}

    if etype in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        pid = _metadata_payment_id(obj.get("metadata")) or obj.get("client_reference_id")
        common = {**base, "payment_id": pid, "gateway_ref": obj.get("id"), "currency": obj.get("currency")}
        if obj.get("mode") == "subscription":
            return GatewayEvent(
                **common,
                action="subscription_linked",
                subscription_ref=_id(obj.get("subscription")),
                customer_ref=_id(obj.get("customer")),
                created=int(event.get("created") or 0),
            )
        if obj.get("payment_status") in ("paid", "no_payment_required"):
            refs = [r for r in (_id(obj.get("payment_intent")),) if r]
            return GatewayEvent(**common, action="paid", payment_intent_refs=refs, amount_cents=obj.get("amount_total"))
        # e.g. a bank debit still processing: async_payment_succeeded will follow
        return GatewayEvent(**common, action="ignored")

    if etype in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        pid = _metadata_payment_id(obj.get("metadata")) or obj.get("client_reference_id")
        return GatewayEvent(**base, action="failed", payment_id=pid, gateway_ref=obj.get("id"))

    if etype == "invoice.paid":
        sub = _id(obj.get("subscription")) or _id(_get(obj, "parent", "subscription_details", "subscription"))
        if not sub:
            return GatewayEvent(**base, action="ignored")  # a one-off invoice we did not create
        lines = _get(obj, "lines", "data") or []
        pid = _metadata_payment_id(
            _get(obj, "parent", "subscription_details", "metadata"),
            _get(obj, "subscription_details", "metadata"),
            obj.get("metadata"),
            *[_get(line, "metadata") for line in lines if isinstance(line, Mapping)],
        )
        refs: list[str] = []
        for r in (_id(obj.get("payment_intent")), _id(obj.get("charge"))):
            if r:
                refs.append(r)
        for ip in _get(obj, "payments", "data") or []:
            for r in (_id(_get(ip, "payment", "payment_intent")), _id(_get(ip, "payment", "charge"))):
                if r:
                    refs.append(r)
        return GatewayEvent(
            **base,
            action="period_paid",
            payment_id=pid,
            subscription_ref=sub,
            invoice_ref=obj.get("id"),
            payment_intent_refs=refs,
            amount_cents=obj.get("amount_paid"),
            currency=obj.get("currency"),
        )

    if etype == "charge.refunded":
        refs = [r for r in (_id(obj.get("payment_intent")), obj.get("id")) if r]
        return GatewayEvent(
            **base,
            action="refunded",
            payment_id=_metadata_payment_id(obj.get("metadata")),
            invoice_ref=_id(obj.get("invoice")),
            payment_intent_refs=refs,
            amount_cents=obj.get("amount"),
            refunded_cents=int(obj.get("amount_refunded") or 0),
            currency=obj.get("currency"),
        )

    if etype in ("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"):
        return _subscription_event(base, event, obj)

    if etype == "invoice.payment_failed":
        sub = _id(obj.get("subscription")) or _id(_get(obj, "parent", "subscription_details", "subscription"))
        if not sub:
            return GatewayEvent(**base, action="ignored")
        return GatewayEvent(
            **base,
            action="payment_failed",
            subscription_ref=sub,
            invoice_ref=obj.get("id"),
            customer_ref=_id(obj.get("customer")),
            created=int(event.get("created") or 0),
        )

    return GatewayEvent(**base, action="ignored")


def _subscription_event(base: dict[str, Any], event: Mapping[str, Any], obj: Mapping[str, Any]) -> GatewayEvent:
    """customer.subscription.*: the subscription's whole state (Stripe sends the object as it is now)."""
    items = [i for i in (_get(obj, "items", "data") or []) if isinstance(i, Mapping)]
    # current_period_end moved from the subscription to its items in API 2025-03-31
    ends = [i.get("current_period_end") for i in items if isinstance(i.get("current_period_end"), int)]
    period_end = obj.get("current_period_end") if isinstance(obj.get("current_period_end"), int) else None
    package_id = None
    for item in items:
        price = item.get("price") if isinstance(item.get("price"), Mapping) else {}
        candidate = _get(price, "metadata", "package_id") or price.get("lookup_key")
        if isinstance(candidate, str) and candidate:
            package_id = candidate
            break
    deleted = base["type"] == "customer.subscription.deleted"
    return GatewayEvent(
        **base,
        action="subscription_ended" if deleted else "subscription_updated",
        payment_id=_metadata_payment_id(obj.get("metadata")),
        subscription_ref=_id(obj.get("id")),
        customer_ref=_id(obj.get("customer")),
        subscription_status="canceled" if deleted else str(obj.get("status") or "") or None,
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        current_period_end=max(ends) if ends else period_end,
        package_id=package_id,
        created=int(event.get("created") or 0),
    )
