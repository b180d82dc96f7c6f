"""The browser's return from a payment page (``GET /api/billing/return/{gateway}?payment=…``) and refunds an
admin starts at a gateway that refunds from here.

For most gateways it only leads back to the billing page. PayPal's buyer approves an order there, and the
order is captured here (server to server, with our credentials); the capture is applied as a gateway event,
so it credits once even when the ``PAYMENT.CAPTURE.COMPLETED`` webhook arrives as well. The signed-in user
(the Lax session cookie comes along on the top-level return) must own the payment.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web

from interview_room.store import credits
from interview_room.store.credits import Payment
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import ApiError

from . import routes as billing
from .gateways.base import Gateway, GatewayError, GatewayNotConfigured

log = logging.getLogger("signaling.billing")

routes = web.RouteTableDef()


def _back(payment_id: str, status: str) -> web.HTTPFound:
    return web.HTTPFound("/billing.html?" + urlencode({"payment": payment_id, "status": status}))


@routes.get("/api/billing/return/{gateway}")
async def payment_return(request: web.Request) -> web.Response:
    gw = request.app[billing.GATEWAYS].get(request.match_info["gateway"])
    if gw is None:
        raise ApiError(404, "not_found", "No such payment gateway")
    try:
        payment_id = str(UUID(request.query.get("payment", "")))
    except ValueError:
        raise ApiError(400, "validation_error", "payment must be a payment id", field="payment") from None
    pool = services(request).pool
    p = await credits.get_payment(pool, payment_id)
    order_ref = request.query.get("token")
    if (
        p is None
        or p.user_id != current_user(request).id
        or p.gateway != gw.name
        or (order_ref is not None and order_ref != p.gateway_ref)
    ):
        raise ApiError(404, "not_found", "No such payment")
    if p.status == "paid":
        raise _back(p.id, "success")
    try:
        ev = await gw.complete_return(request.query)
    except GatewayNotConfigured:
        raise ApiError(503, "payments_not_configured", "Payments are not configured on this server") from None
    except GatewayError as e:
        log.warning("payment return failed payment=%s gateway=%s error=%s", p.id, gw.name, e)
        raise _back(p.id, "error") from None
    if ev is None:
        raise _back(p.id, "success")
    outcome = await billing.apply_event(pool, ev)
    log.info("payment return payment=%s gateway=%s outcome=%s", p.id, gw.name, outcome)
    raise _back(p.id, "success" if ev.action == "paid" else "pending")


async def gateway_refund(request: web.Request, gw: Gateway, p: Payment) -> web.Response:
    """Refund ``p`` in full at its gateway and apply the provider's answer (the later webhook changes nothing more)."""
    pool = services(request).pool
    if p.status == "refunded":
        outcome = "already_applied"
    elif p.status != "paid":
        raise ApiError(409, "not_paid", "Only a paid payment can be refunded")
    else:
        try:
            ev = await gw.refund(p)
        except GatewayNotConfigured:
            raise ApiError(503, "payments_not_configured", "Payments are not configured on this server") from None
        except GatewayError as e:
            raise ApiError(502, "payment_gateway_error", f"The payment provider refused the refund: {e}") from None
        outcome = await billing.apply_event(pool, ev)
    log.info("gateway refund payment=%s gateway=%s by=%s outcome=%s", p.id, gw.name, current_user(request).id, outcome)
    after = await credits.get_payment(pool, p.id)
    assert after is not None
    return web.json_response({"payment": billing.payment_json(after, billing._base_url(request)), "outcome": outcome})
