"""Billing API: packages, checkout through a gateway, gateway webhooks, the account's ledger, receipts.

Credits are only ever added by a verified gateway event (or an admin confirming an offline
invoice), applied in one transaction together with the row in ``webhook_events`` that makes it
happen at most once. The browser's return from the payment page changes nothing.

Register with ``billing.setup(app)`` (routes plus the gateways, closed on cleanup).
"""

from __future__ import annotations

import html
import logging
from typing import Any
from uuid import UUID

from aiohttp import web

from interview_room import config
from interview_room.config import Config
from interview_room.store import credits, users
from interview_room.store.credits import Payment
from web.accounts.auth import current_user
from web.common.context import SERVICES, services
from web.common.errors import ApiError
from web.common.serialize import iso
from web.common.validation import parse, read_json, string

from . import billing_return, mock_prices, receipts, subscriptions
from . import gateways as gateway_registry
from .gateways.base import (
    CheckoutRequest,
    Gateway,
    GatewayError,
    GatewayEvent,
    GatewayNotConfigured,
    InvalidSignature,
)
from .gateways.manual import invoice_number

log = logging.getLogger("signaling.billing")

routes = web.RouteTableDef()
GATEWAYS: web.AppKey[dict[str, Gateway]] = web.AppKey("billing_gateways", dict)


def setup(app: web.Application, cfg: Config | None = None) -> None:
    """Add the billing routes and the payment gateways (built from ``cfg``, default: the app's config)."""
    if cfg is None:
        cfg = app[SERVICES].cfg if SERVICES in app else config.load()
    app[GATEWAYS] = gateway_registry.build(cfg)
    app.router.add_routes(routes)
    app.router.add_routes(billing_return.routes)
    app.router.add_routes(subscriptions.routes)
    app.router.add_routes(receipts.routes)
    app.router.add_routes(mock_prices.routes)

    async def close_gateways(app: web.Application) -> None:
        for g in app[GATEWAYS].values():
            await g.close()

    app.on_cleanup.append(close_gateways)


def current_user_id(request: web.Request) -> UUID:
    return current_user(request).id


def _gateway(request: web.Request, name: str) -> Gateway | None:
    return request.app[GATEWAYS].get(name)


def _base_url(request: web.Request) -> str:
    cfg = services(request).cfg
    return cfg.public_url.rstrip("/") if cfg.public_url else f"{request.scheme}://{request.host}"


def _is_admin(request: web.Request) -> bool:
    user = current_user(request)  # a verified address only: anyone can register an unverified one
    return user.email_verified and user.email.lower() in services(request).cfg.admin_emails


def _payment_id(request: web.Request) -> str:
    raw = request.match_info["payment_id"]
    try:
        return str(UUID(raw))
    except ValueError:
        raise ApiError(404, "not_found", "No such payment") from None


def payment_json(p: Payment, base_url: str = "") -> dict[str, Any]:
    return {
        "id": p.id,
        "payment_id": p.id,
        "package_id": p.package_id,
        "package_name": p.package_name,
        "kind": p.kind,
        "gateway": p.gateway,
        "status": p.status,
        "seconds": p.seconds,
        "amount_cents": p.amount_cents,
        "refunded_cents": p.refunded_cents,
        "currency": p.currency,
        "invoice_number": invoice_number(p.id) if p.gateway == "manual" else None,
        "created_at": iso(p.created_at),
        "paid_at": iso(p.paid_at),
        "refunded_at": iso(p.refunded_at),
        "receipt_url": f"{base_url}/api/billing/receipts/{p.id}",
    }


# ---------------------------------------------------------------- applying gateway events


async def apply_event(pool: Any, ev: GatewayEvent) -> str:
    """Apply one gateway event exactly once; returns what it did (for the log and the webhook answer)."""
    async with pool.acquire() as conn, conn.transaction():
        if not await credits.record_event(conn, ev.gateway, ev.event_id, ev.type):
            log.info("gateway event already applied gateway=%s event=%s type=%s", ev.gateway, ev.event_id, ev.type)
            return "already_applied"
        outcome, payment_id = await _apply(conn, ev)
        await credits.set_event_outcome(conn, ev.gateway, ev.event_id, outcome, payment_id)
    log.info(
        "gateway event gateway=%s event=%s type=%s action=%s outcome=%s payment=%s",
        ev.gateway,
        ev.event_id,
        ev.type,
        ev.action,
        outcome,
        payment_id,
    )
    return outcome


async def _find(conn: Any, ev: GatewayEvent) -> Payment | None:
    """The payment an event names: by the gateway's checkout id first, then by the metadata we attached."""
    p = None
    if ev.gateway_ref:
        p = await credits.find_payment(conn, ev.gateway, "gateway_ref", ev.gateway_ref)
    if p is None and ev.payment_id:
        try:
            pid = str(UUID(ev.payment_id))
        except ValueError:
            return None
        p = await credits.find_payment(conn, ev.gateway, "id", pid)
    return p


async def _apply(conn: Any, ev: GatewayEvent) -> tuple[str, str | None]:
    if ev.action == "ignored":
        log.info("gateway event ignored gateway=%s event=%s type=%s", ev.gateway, ev.event_id, ev.type)
        return "ignored", None

    if ev.action in subscriptions.ACTIONS:
        return await subscriptions.apply(conn, ev)

    if ev.action in ("paid", "subscription_linked", "failed"):
        p = await _find(conn, ev)
        if p is None:
            log.warning(
                "gateway event for an unknown payment gateway=%s event=%s type=%s", ev.gateway, ev.event_id, ev.type
            )
            return "unknown_payment", None
        if ev.action == "paid":
            if ev.currency and ev.currency.lower() != p.currency.lower():
                log.error("currency mismatch payment=%s expected=%s got=%s", p.id, p.currency, ev.currency)
                return "currency_mismatch", p.id
            ok = await credits.mark_paid(
                conn, p, amount_cents=ev.amount_cents, payment_intent_refs=ev.payment_intent_refs
            )
            if ok:
                await credits.set_plan(conn, p.user_id)
            return ("paid" if ok else "already_applied"), p.id
        if ev.action == "subscription_linked":
            await credits.link_subscription(conn, p.id, ev.subscription_ref)
            await subscriptions.on_linked(conn, ev, p)
            return "subscription_linked", p.id
        ok = await credits.mark_failed(conn, p.id, note=ev.type)
        return ("failed" if ok else "already_applied"), p.id

    if ev.action == "period_paid":
        if not ev.invoice_ref:
            return "ignored", None
        if await credits.find_payment(conn, ev.gateway, "invoice_ref", ev.invoice_ref):
            return "already_applied", None
        root = await _find(conn, GatewayEvent(ev.gateway, ev.event_id, ev.type, ev.action, payment_id=ev.payment_id))
        if root is None and ev.subscription_ref:
            root = await credits.find_payment(conn, ev.gateway, "subscription_ref", ev.subscription_ref)
        if root is not None and root.parent_id:
            root = await credits.find_payment(conn, ev.gateway, "id", root.parent_id)
        if root is None:
            log.warning(
                "invoice for an unknown subscription event=%s subscription=%s", ev.event_id, ev.subscription_ref
            )
            return "unknown_payment", None
        if root.status in ("pending", "failed") and root.invoice_ref is None:
            target = root  # the first period, bought through the checkout
        else:
            target = await credits.add_renewal(
                conn,
                root,
                ev.invoice_ref,
                ev.amount_cents if ev.amount_cents is not None else root.amount_cents,
                ev.currency or root.currency,
            )
        ok = await credits.mark_paid(
            conn,
            target,
            amount_cents=ev.amount_cents,
            invoice_ref=ev.invoice_ref,
            payment_intent_refs=ev.payment_intent_refs,
            subscription_ref=ev.subscription_ref,
        )
        if ok:
            await credits.set_plan(conn, target.user_id)
        return ("paid" if target is root else "renewal_paid") if ok else "already_applied", target.id

    if ev.action == "refunded":
        p = None
        for ref in ev.payment_intent_refs:
            p = p or await credits.find_payment(conn, ev.gateway, "payment_intent_ref", ref)
        if p is None and ev.invoice_ref:
            p = await credits.find_payment(conn, ev.gateway, "invoice_ref", ev.invoice_ref)
        if p is None:
            p = await _find(conn, GatewayEvent(ev.gateway, ev.event_id, ev.type, ev.action, payment_id=ev.payment_id))
        if p is None:
            # the payment's confirmation has not arrived yet: keep the refund for when it does
            refs = [*ev.payment_intent_refs, *([ev.invoice_ref] if ev.invoice_ref else [])]
            await credits.remember_early_refund(
                conn, ev.gateway, refs, ev.refunded_cents, ev.amount_cents or 0, ev.event_id
            )
            return "refund_before_payment", None
        removed = await credits.apply_refund(conn, p, ev.refunded_cents, ev.amount_cents or p.amount_cents)
        await credits.set_plan(conn, p.user_id)
        log.info("refund applied payment=%s seconds_removed=%.1f", p.id, removed)
        return "refunded", p.id

    return "ignored", None


# ---------------------------------------------------------------- routes

CHECKOUT_SPEC = {"package_id": string(max_len=100, min_len=1), "gateway": string(max_len=40, min_len=1, lower=True)}


@routes.get("/api/packages")
async def list_packages(request: web.Request) -> web.Response:
    svc = services(request)
    packages = await credits.list_packages(svc.pool)
    gws = request.app[GATEWAYS]
    return web.json_response(
        {
            "packages": [p.to_json() for p in packages],
            "gateways": [
                {"name": g.name, "configured": g.configured(), "monthly": g.supports_monthly} for g in gws.values()
            ],
        }
    )


@routes.post("/api/checkout")
async def checkout(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    body = parse(await read_json(request), CHECKOUT_SPEC, required=("package_id",))
    gw_name = body.get("gateway", "stripe")
    gw = _gateway(request, gw_name)
    if gw is None:
        names = ", ".join(sorted(request.app[GATEWAYS]))
        raise ApiError(400, "validation_error", f"gateway must be one of: {names}", field="gateway")
    package = await credits.get_package(svc.pool, body["package_id"])
    if package is None:
        raise ApiError(404, "package_not_found", "No such package", field="package_id")
    if not package.purchasable or package.price_cents <= 0:
        raise ApiError(
            400, "package_not_purchasable", f"The {package.name} package is granted, not sold", field="package_id"
        )
    if not gw.configured():
        raise ApiError(
            503, "payments_not_configured", "Payments are not configured on this server; free credits still work"
        )
    if package.kind == "monthly" and not gw.supports_monthly:
        raise ApiError(
            400, "gateway_unsupported", "Monthly plans are paid by card (Stripe); this gateway sells one-time packages"
        )
    payment = await credits.create_payment(svc.pool, user.id, package, gw.name)
    base = _base_url(request)
    req = CheckoutRequest(
        payment=payment,
        package=package,
        user_id=str(user.id),
        user_email=user.email,
        base_url=base,
        success_url=f"{base}/billing.html?payment={payment.id}&status=success",
        cancel_url=f"{base}/billing.html?payment={payment.id}&status=cancelled",
    )
    try:
        start = await gw.start_checkout(req)
    except GatewayNotConfigured:
        await credits.mark_failed(svc.pool, payment.id, "gateway not configured")
        raise ApiError(503, "payments_not_configured", "Payments are not configured on this server") from None
    except GatewayError as e:
        await credits.mark_failed(svc.pool, payment.id, str(e))
        raise ApiError(502, "payment_gateway_error", f"The payment provider did not accept the checkout: {e}") from None
    await credits.set_gateway_ref(svc.pool, payment.id, start.gateway_ref)
    log.info("checkout started payment=%s gateway=%s package=%s user=%s", payment.id, gw.name, package.id, user.id)
    return web.json_response(
        {"payment_id": payment.id, "redirect_url": start.redirect_url, "gateway": gw.name, "status": payment.status},
        status=201,
    )


@routes.post("/api/webhooks/{gateway}")
async def webhook(request: web.Request) -> web.Response:
    """Unauthenticated: the gateway's signature is the authentication."""
    gw = _gateway(request, request.match_info["gateway"])
    if gw is None or not gw.has_webhooks:
        raise ApiError(404, "not_found", "No such webhook")
    body = await request.read()
    try:
        ev = await gw.verify_webhook(body, request.headers)
    except GatewayNotConfigured:
        raise ApiError(503, "payments_not_configured", "Webhooks are not configured on this server") from None
    except InvalidSignature as e:
        log.warning("webhook rejected gateway=%s reason=%s", gw.name, e)
        raise ApiError(400, "invalid_signature", "The webhook signature does not verify") from None
    if not ev.event_id:
        raise ApiError(400, "invalid_event", "The event has no id")
    outcome = await apply_event(services(request).pool, ev)
    return web.json_response({"received": True, "outcome": outcome})


@routes.get("/api/billing")
async def billing_overview(request: web.Request) -> web.Response:
    svc = services(request)
    uid = current_user_id(request)
    base = _base_url(request)
    async with svc.pool.acquire() as conn:
        bal = await credits.balance(conn, uid)
        payments = await credits.list_payments(conn, uid)
        debits = await credits.debits_by_session(conn, uid)
    return web.json_response(
        {
            "credits_seconds": round(bal, 3),
            "purchases": [payment_json(p, base) for p in payments],
            "debits": [
                {
                    "session_id": str(d.session_id) if d.session_id else None,
                    "title": d.title,
                    "seconds": round(d.seconds, 3),
                    "at": iso(d.last_at),
                    "started_at": iso(d.first_at),
                }
                for d in debits
            ],
        }
    )


@routes.get("/api/billing/receipts/{payment_id}")
async def receipt(request: web.Request) -> web.Response:
    """A printable HTML receipt (paid), invoice (pending) or credit note (refunded); the owner's only."""
    svc = services(request)
    user = current_user(request)
    pid = _payment_id(request)
    p = await credits.get_payment(svc.pool, pid, None if _is_admin(request) else user.id)
    if p is None:
        raise ApiError(404, "not_found", "No such payment")
    owner = user if p.user_id == user.id else None
    if owner is None:
        buyer = await users.get_user(svc.pool, p.user_id)
        email, name = (buyer.email, buyer.name) if buyer else ("", "")
    else:
        email, name = owner.email, owner.name
    resp = web.Response(text=render_receipt(p, email, name), content_type="text/html", charset="utf-8")
    disposition = "attachment" if request.query.get("download") else "inline"
    resp.headers["Content-Disposition"] = f'{disposition}; filename="receipt-{p.id}.html"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency.upper()}"


def render_receipt(p: Payment, email: str, name: str) -> str:
    title = {"paid": "Receipt", "pending": "Invoice", "refunded": "Receipt (refunded)", "failed": "Payment failed"}[
        p.status
    ]
    number = invoice_number(p.id) if p.gateway == "manual" else p.id
    e = html.escape
    rows = [
        ("Number", number),
        ("Billed to", f"{name} <{email}>" if name else email),
        ("Package", f"{p.package_name} ({p.seconds / 3600:g} hours{' per month' if p.kind == 'monthly' else ''})"),
        ("Amount", _money(p.amount_cents, p.currency)),
        ("Status", p.status),
        ("Payment method", {"stripe": "Card (Stripe)", "paypal": "PayPal", "manual": "Bank transfer / invoice"}.get(p.gateway, p.gateway)),
        ("Created", iso(p.created_at) or ""),
    ]
    if p.paid_at:
        rows.append(("Paid", iso(p.paid_at) or ""))
    if p.refunded_cents:
        rows.append(("Refunded", f"{_money(p.refunded_cents, p.currency)} on {iso(p.refunded_at)}"))
    body = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    note = ""
    if p.status == "pending" and p.gateway == "manual":
        note = (
            f"<p>Please pay {e(_money(p.amount_cents, p.currency))} by bank transfer quoting <strong>{e(number)}</strong>. "
            "Your credits are added as soon as the payment is confirmed.</p>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)} {e(number)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
th{{text-align:left;padding:.3rem 1rem .3rem 0;vertical-align:top}}td{{padding:.3rem 0}}</style></head>
<body><h1>{e(title)}</h1><p>Interview Room</p>
<table>{body}</table>
{note}
</body></html>
"""


# ---------------------------------------------------------------- admin (offline invoices)


def _require_admin(request: web.Request) -> None:
    if not _is_admin(request):
        raise ApiError(403, "forbidden", "Only an administrator may do this")


@routes.get("/api/admin/payments")
async def admin_list_payments(request: web.Request) -> web.Response:
    _require_admin(request)
    status = request.query.get("status", "pending")
    if status not in ("pending", "paid", "refunded", "failed"):
        raise ApiError(
            400, "validation_error", "status must be one of: failed, paid, pending, refunded", field="status"
        )
    rows = await credits.payments_by_status(services(request).pool, status)
    out = []
    base = _base_url(request)
    async with services(request).pool.acquire() as conn:
        for r in rows:
            p = await credits.get_payment(conn, r.payment_id)
            if p is not None:
                out.append({**payment_json(p, base), "user_email": r.email})
    return web.json_response({"payments": out})


async def _admin_payment(request: web.Request) -> Payment:
    _require_admin(request)
    p = await credits.get_payment(services(request).pool, _payment_id(request))
    if p is None:
        raise ApiError(404, "not_found", "No such payment")
    if p.gateway != "manual":
        raise ApiError(409, "not_manual_payment", f"This payment is handled by {p.gateway}, not confirmed by hand")
    return p


@routes.post("/api/admin/payments/{payment_id}/confirm")
async def admin_confirm(request: web.Request) -> web.Response:
    """The offline invoice was paid: credits are added (once, however often this is called)."""
    p = await _admin_payment(request)
    ev = GatewayEvent(
        gateway="manual", event_id=f"confirm:{p.id}", type="manual.confirmed", action="paid", payment_id=p.id
    )
    outcome = await apply_event(services(request).pool, ev)
    log.info("manual payment confirmed payment=%s by=%s outcome=%s", p.id, current_user(request).email, outcome)
    after = await credits.get_payment(services(request).pool, p.id)
    assert after is not None
    return web.json_response({"payment": payment_json(after, _base_url(request)), "outcome": outcome})


@routes.post("/api/admin/payments/{payment_id}/refund")
async def admin_refund(request: web.Request) -> web.Response:
    """An offline invoice was refunded in full, or a payment of a gateway that refunds from here (PayPal) is
    refunded in full at the provider: its unused credits are removed (once, however often this is called)."""
    _require_admin(request)
    p = await credits.get_payment(services(request).pool, _payment_id(request))
    gw = _gateway(request, p.gateway) if p is not None else None
    if p is not None and gw is not None and gw.refunds_here:
        return await billing_return.gateway_refund(request, gw, p)
    p = await _admin_payment(request)
    ev = GatewayEvent(
        gateway="manual",
        event_id=f"refund:{p.id}",
        type="manual.refunded",
        action="refunded",
        payment_id=p.id,
        amount_cents=p.amount_cents,
        refunded_cents=p.amount_cents,
    )
    outcome = await apply_event(services(request).pool, ev)
    after = await credits.get_payment(services(request).pool, p.id)
    assert after is not None
    return web.json_response({"payment": payment_json(after, _base_url(request)), "outcome": outcome})
