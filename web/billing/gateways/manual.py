"""Invoices paid offline (bank transfer, purchase order): pending until an admin confirms them.

The "checkout" is an invoice: the redirect goes to its printable page, which tells the user how
to pay. ``POST /api/admin/payments/{id}/confirm`` applies it like a gateway webhook would.
"""

from __future__ import annotations

from .base import CheckoutRequest, CheckoutStart, Gateway


def invoice_number(payment_id: str) -> str:
    return "INV-" + payment_id.replace("-", "")[:12].upper()


class ManualGateway(Gateway):
    name = "manual"
    has_webhooks = False
    supports_monthly = False

    def configured(self) -> bool:
        return True

    async def start_checkout(self, req: CheckoutRequest) -> CheckoutStart:
        return CheckoutStart(
            gateway_ref=invoice_number(req.payment.id),
            redirect_url=f"{req.base_url}/api/billing/receipts/{req.payment.id}",
        )
