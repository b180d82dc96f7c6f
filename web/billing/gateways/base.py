"""The payment gateway interface: what a gateway module provides and what it hands back.

A gateway starts a checkout and turns its provider's webhooks into gateway-neutral
``GatewayEvent``s; ``web.billing.routes`` applies those to payments and the credit ledger (once per
event id, in one transaction). Adding PayPal or Razorpay is one module implementing ``Gateway`` and
one line in ``web.billing.gateways.build``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from interview_room.store.credits import Package, Payment

Action = Literal[
    "paid",
    "period_paid",
    "subscription_linked",
    "refunded",
    "failed",
    "ignored",
    "subscription_updated",  # a subscription's state changed (cancel at period end, resumed, plan, period)
    "subscription_ended",  # the subscription is over (cancelled now or at the end of its period)
    "payment_failed",  # a renewal could not be charged
]


class GatewayNotConfigured(Exception):
    """The gateway's keys are not set: paid packages answer 503 ``payments_not_configured``."""


class InvalidSignature(Exception):
    """A webhook whose signature does not verify: answered 400, nothing applied."""


class GatewayError(Exception):
    """The provider refused or could not be reached while starting a checkout."""


@dataclass(frozen=True)
class CheckoutRequest:
    payment: Payment
    package: Package
    user_id: str
    user_email: str
    base_url: str  # where this app is reachable from the browser (PUBLIC_URL or the request's host)
    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class CheckoutStart:
    gateway_ref: str  # the provider's id for this checkout (Checkout Session id, invoice number)
    redirect_url: str  # where the browser goes to pay


@dataclass(frozen=True)
class GatewayEvent:
    """One provider event, reduced to what billing needs. ``event_id`` makes applying it idempotent."""

    gateway: str
    event_id: str
    type: str  # the provider's own event type, for logs
    action: Action
    payment_id: str | None = None  # our id, from the provider-side metadata we attached
    gateway_ref: str | None = None  # checkout session id
    subscription_ref: str | None = None
    invoice_ref: str | None = None
    payment_intent_refs: list[str] = field(default_factory=list)  # charge / payment intent ids
    amount_cents: int | None = None  # amount paid (or charged, for refunds)
    refunded_cents: int = 0  # cumulative amount refunded on that charge
    currency: str | None = None
    # subscription events (signaling.subscriptions applies them)
    created: int = 0  # the provider's event time (unix seconds): an older state never overwrites a newer one
    subscription_status: str | None = None
    cancel_at_period_end: bool | None = None
    current_period_end: int | None = None  # unix seconds
    customer_ref: str | None = None
    package_id: str | None = None  # our package, when the provider-side price names one (plan switched)


class Gateway(ABC):
    name: str = ""
    has_webhooks: bool = True
    supports_monthly: bool = True  # False: monthly plans answer 400 gateway_unsupported
    refunds_here: bool = False  # True: an admin's refund (POST /api/admin/payments/{id}/refund) goes through ``refund``

    @abstractmethod
    def configured(self) -> bool:
        """Whether payments can be taken now (keys present)."""

    @abstractmethod
    async def start_checkout(self, req: CheckoutRequest) -> CheckoutStart:
        """Create the provider-side checkout; raises GatewayNotConfigured or GatewayError."""

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Verify and translate a webhook; raises InvalidSignature (nothing may change then)."""
        raise InvalidSignature(f"the {self.name} gateway takes no webhooks")

    async def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """As ``parse_webhook``, for gateways that verify with a call to the provider (PayPal)."""
        return self.parse_webhook(body, headers)

    async def complete_return(self, query: Mapping[str, str]) -> GatewayEvent | None:
        """The browser came back from the provider; gateways that must act then (PayPal captures) answer
        the resulting event. Default: nothing (credits come from webhooks only)."""
        return None

    async def refund(self, payment: Payment, amount_cents: int | None = None) -> GatewayEvent:
        """Refund (all of, when ``amount_cents`` is None) a paid payment at the provider; the provider's answer
        as a ``refunded`` event (cumulative, so applying it and the provider's later webhook takes credits once)."""
        raise GatewayError(f"refunds of {self.name} payments are made in its own dashboard")

    async def portal_session(self, customer_ref: str, return_url: str) -> str:
        """The URL of the provider's own page where the customer cancels, resumes, switches plan or updates the
        card; raises GatewayNotConfigured or GatewayError."""
        raise GatewayError(f"{self.name} has no customer portal")

    async def close(self) -> None:
        """Release connections (called on application cleanup)."""
        return None
