"""Subscriptions the user controls: the plan's state on the billing page, and the gateway's customer portal.

Cancelling at period end, resuming, switching plan and updating the card all happen on the provider's own
page (Stripe's Billing Portal); the provider then sends ``customer.subscription.updated`` / ``.deleted`` and
``invoice.payment_failed``, which ``signaling.billing.apply_event`` records once per event id and hands to
``apply`` here in the same transaction. Nothing the browser says changes a subscription.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from interview_room.store import credits
from interview_room.store import subscriptions as store
from interview_room.store.subscriptions import Subscription, SubscriptionState
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import ApiError
from web.common.serialize import iso

from . import routes as billing
from .gateways.base import GatewayError, GatewayEvent, GatewayNotConfigured

log = logging.getLogger("signaling.subscriptions")

routes = web.RouteTableDef()

ACTIONS = ("subscription_updated", "subscription_ended", "payment_failed")


def _state(ev: GatewayEvent) -> SubscriptionState:
    assert ev.subscription_ref
    return SubscriptionState(
        gateway=ev.gateway,
        subscription_ref=ev.subscription_ref,
        event_created=ev.created,
        status=ev.subscription_status,
        cancel_at_period_end=ev.cancel_at_period_end,
        current_period_end=ev.current_period_end,
        customer_ref=ev.customer_ref,
    )


async def on_linked(conn: Any, ev: GatewayEvent, payment: credits.Payment) -> None:
    """The checkout created a subscription: remember it (and the provider's customer, for the portal)."""
    if not ev.subscription_ref:
        return
    st = SubscriptionState(ev.gateway, ev.subscription_ref, 0, customer_ref=ev.customer_ref)
    await store.apply_state(conn, payment.user_id, payment.package_id, st)


async def apply(conn: Any, ev: GatewayEvent) -> tuple[str, str | None]:
    """One subscription event inside billing's once-per-event transaction; returns (outcome, payment id)."""
    if not ev.subscription_ref:
        return "ignored", None
    known = await store.get(conn, ev.gateway, ev.subscription_ref)
    if ev.action == "payment_failed":
        if known is None or not await store.mark_payment_failed(conn, ev.gateway, ev.subscription_ref, ev.created):
            log.warning("payment failure for an unknown subscription event=%s", ev.event_id)
            return "unknown_subscription", None
        log.info("subscription renewal failed subscription=%s user=%s", ev.subscription_ref, known.user_id)
        return "payment_failed", None

    payment = None
    if ev.payment_id:
        payment = await credits.find_payment(conn, ev.gateway, "id", ev.payment_id, for_update=False)
    if payment is None:
        payment = await credits.find_payment(conn, ev.gateway, "subscription_ref", ev.subscription_ref, for_update=False)
    user_id = known.user_id if known else payment.user_id if payment else None
    if user_id is None:
        log.warning("event for an unknown subscription event=%s type=%s", ev.event_id, ev.type)
        return "unknown_subscription", None
    package_id = payment.package_id if payment else None
    if ev.package_id and await credits.get_package(conn, ev.package_id) is not None:
        package_id = ev.package_id  # switched in the portal to a price that names one of our packages
    if not await store.apply_state(conn, user_id, package_id, _state(ev)):
        log.info("older subscription state ignored subscription=%s event=%s", ev.subscription_ref, ev.event_id)
        return "out_of_order", None
    await store.set_plan_excluding_ended(conn, user_id)
    return ("subscription_ended" if ev.action == "subscription_ended" else "subscription_updated"), (
        payment.id if payment else None
    )


def subscription_json(s: Subscription | None, portal: bool) -> dict[str, Any] | None:
    if s is None:
        return None
    live = s.live
    return {
        "gateway": s.gateway,
        "package_id": s.package_id,
        "package_name": s.package_name,
        "status": s.status,
        "cancel_at_period_end": s.cancel_at_period_end,
        "current_period_end": iso(s.current_period_end),
        "renews_at": iso(s.current_period_end) if live and not s.cancel_at_period_end else None,
        "ends_at": iso(s.current_period_end) if live and s.cancel_at_period_end else None,
        "payment_failed_at": iso(s.last_payment_failed_at),
        "manageable": portal and live and bool(s.customer_ref),
    }


@routes.get("/api/billing/subscription")
async def get_subscription(request: web.Request) -> web.Response:
    user = current_user(request)
    s = await store.current_for_user(services(request).pool, user.id)
    gw = request.app[billing.GATEWAYS].get(s.gateway) if s else None
    return web.json_response({"subscription": subscription_json(s, bool(gw and gw.configured()))})


@routes.post("/api/billing/portal")
async def open_portal(request: web.Request) -> web.Response:
    """A one-time link to the provider's customer portal for the user's running subscription."""
    user = current_user(request)
    s = await store.current_for_user(services(request).pool, user.id)
    if s is None or not s.live or not s.customer_ref:
        raise ApiError(404, "no_subscription", "You have no running subscription to manage")
    gw = request.app[billing.GATEWAYS].get(s.gateway)
    if gw is None or not gw.configured():
        raise ApiError(503, "payments_not_configured", "Payments are not configured on this server")
    try:
        url = await gw.portal_session(s.customer_ref, f"{billing._base_url(request)}/billing.html?portal=return")
    except GatewayNotConfigured:
        raise ApiError(503, "payments_not_configured", "Payments are not configured on this server") from None
    except GatewayError as e:
        raise ApiError(502, "payment_gateway_error", f"The payment provider did not open its portal: {e}") from None
    log.info("portal opened gateway=%s user=%s", gw.name, user.id)
    return web.json_response({"url": url})
