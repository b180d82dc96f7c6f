"""Receipts as PDF, drawn with the report PDF machinery (``web.reports.report_pdf.ReportPDF``, fpdf2).

``GET /api/billing/receipts/{payment_id}/pdf``: the owner's (or an administrator's) receipt, invoice or credit
note; the same facts as the printable HTML receipt in ``signaling.billing``.
"""

from __future__ import annotations

from aiohttp import web

from interview_room.store import credits, users
from interview_room.store.credits import Payment
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import ApiError
from web.common.serialize import iso
from web.reports.report_pdf import MUTED, ReportPDF

from . import routes as billing
from .gateways.manual import invoice_number

routes = web.RouteTableDef()

TITLES = {"paid": "Receipt", "pending": "Invoice", "refunded": "Receipt (refunded)", "failed": "Payment failed"}
METHODS = {"stripe": "Card (Stripe)", "paypal": "PayPal", "manual": "Bank transfer / invoice"}


def receipt_rows(p: Payment, email: str, name: str) -> list[tuple[str, str]]:
    number = invoice_number(p.id) if p.gateway == "manual" else p.id
    hours = f"{p.seconds / 3600:g} hours{' per month' if p.kind == 'monthly' else ''}"
    rows = [
        ("Number", number),
        ("Billed to", f"{name} <{email}>" if name else email),
        ("Package", f"{p.package_name} ({hours})"),
        ("Amount", billing._money(p.amount_cents, p.currency)),
        ("Status", p.status),
        ("Payment method", METHODS.get(p.gateway, p.gateway)),
        ("Created", iso(p.created_at) or ""),
    ]
    if p.paid_at:
        rows.append(("Paid", iso(p.paid_at) or ""))
    if p.refunded_cents:
        rows.append(("Refunded", f"{billing._money(p.refunded_cents, p.currency)} on {iso(p.refunded_at)}"))
    return rows


class ReceiptPDF(ReportPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.font(8, color=MUTED)
        self.cell(0, 6, self.t(f"Interview Room - receipt - page {self.page_no()}"), align="C")


def render_pdf(p: Payment, email: str, name: str) -> bytes:
    title = TITLES.get(p.status, "Receipt")
    pdf = ReceiptPDF()
    pdf.set_title(pdf.t(f"{title} {p.id}"))
    pdf.set_author("Interview Room")
    pdf.add_page()
    pdf.font(20, bold=True)
    pdf.cell(0, 10, pdf.t(title), new_x="LMARGIN", new_y="NEXT")
    pdf.para("Interview Room", size=10, color=MUTED)
    pdf.ln(4)
    for label, value in receipt_rows(p, email, name):
        pdf.font(10, bold=True)
        pdf.cell(40, 7, pdf.t(label))
        pdf.font(10)
        pdf.multi_cell(0, 7, pdf.t(value), new_x="LMARGIN", new_y="NEXT")
    if p.status == "pending" and p.gateway == "manual":
        pdf.ln(3)
        pdf.para(
            f"Please pay {billing._money(p.amount_cents, p.currency)} by bank transfer quoting "
            f"{invoice_number(p.id)}. Your credits are added as soon as the payment is confirmed."
        )
    return bytes(pdf.output())


@routes.get("/api/billing/receipts/{payment_id}/pdf")
async def receipt_pdf(request: web.Request) -> web.Response:
    svc = services(request)
    user = current_user(request)
    pid = billing._payment_id(request)
    p = await credits.get_payment(svc.pool, pid, None if billing._is_admin(request) else user.id)
    if p is None:
        raise ApiError(404, "not_found", "No such payment")
    if p.user_id == user.id:
        email, name = user.email, user.name
    else:
        owner = await users.get_user(svc.pool, p.user_id)
        email, name = (owner.email, owner.name) if owner else ("", "")
    resp = web.Response(body=render_pdf(p, email, name), content_type="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="receipt-{p.id}.pdf"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
