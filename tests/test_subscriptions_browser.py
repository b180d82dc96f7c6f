"""Headless Chromium against a signaling process of its own, its Stripe pointed at tests/fake_stripe.py (served
from a thread of this test over 127.0.0.1): the billing page shows the monthly plan's state and next renewal,
opens the customer portal with "Manage subscription", and downloads a receipt as PDF (read back with
pdftotext). Screenshots into test-artifacts/, 375 px and accessible-name checks, CSP clean."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import Infra, Stack
from fake_stripe import FakeStripe, dumps
from page_fixtures import browser_fixture, visit_fixture
from test_hostile_http import signaling_alone
from test_newuser_pages import Visit, fetch_json

PERIOD_END = int(datetime(2027, 1, 15, 12, 0, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fs = FakeStripe()
    asyncio.run_coroutine_threadsafe(fs.start(), loop).result(30)
    try:
        yield fs
    finally:
        asyncio.run_coroutine_threadsafe(fs.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture(scope="module")
def site(infra: Infra, fake: FakeStripe) -> Iterator[Stack]:
    with signaling_alone(
        infra,
        "signaling-subscriptions",
        STRIPE_API_KEY=fake.api_key,
        STRIPE_WEBHOOK_SECRET=fake.webhook_secret,
        STRIPE_API_BASE=fake.api_base,
    ) as s:
        yield s


browser, visit = browser_fixture(), visit_fixture()


def send(site: Stack, fake: FakeStripe, event: dict) -> str:
    payload = dumps(event)
    req = urllib.request.Request(
        f"{site.base_url}/api/webhooks/stripe",
        data=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": fake.sign(payload)},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["outcome"]


def test_billing_page_shows_the_plan_opens_the_portal_and_downloads_a_receipt_pdf(
    visit: Visit, fake: FakeStripe, tmp_path
) -> None:
    email = visit.sign_up("Plan User")
    page = visit.page
    page.goto("/billing.html")
    page.wait_for_selector("#purchases tr td")
    assert page.locator("#plan").is_hidden()  # no subscription yet

    status, body = fetch_json(page, "POST", "/api/checkout", {"package_id": "pro_monthly", "gateway": "stripe"})
    assert status == 201, body
    payment_id = body["payment_id"]  # type: ignore[index]
    sid = body["redirect_url"].rsplit("/", 1)[-1]  # type: ignore[index]
    assert send(visit.site, fake, fake.invoice_paid(sid, reason="subscription_create")) == "paid"
    assert send(visit.site, fake, fake.complete(sid)) == "subscription_linked"
    created = fake.subscription_event(sid, "customer.subscription.created", period_end=PERIOD_END)
    assert send(visit.site, fake, created) == "subscription_updated"

    page.goto("/billing.html")
    page.wait_for_selector("#manage-subscription:visible")
    assert page.inner_text("#plan-name") == "Pro Monthly"
    assert page.inner_text("#plan-state") == "Active"
    assert page.inner_text("#plan-renewal") == "Next renewal: January 15, 2027"
    assert page.get_by_role("button", name="Manage subscription").is_visible()
    visit.shoot("billing-subscription")
    visit.phone_check("billing-subscription")

    # the receipt as a PDF, downloaded from the purchases table
    link = page.get_by_role("link", name="Download the receipt for Pro Monthly", exact=False)
    with page.expect_download() as dl:
        link.click()
    pdf = tmp_path / "receipt.pdf"
    dl.value.save_as(pdf)
    assert dl.value.suggested_filename == f"receipt-{payment_id}.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("Receipt", "Pro Monthly (20 hours per month)", "39.00 USD", payment_id, email, "Card (Stripe)"):
        assert expected in text, (expected, text)
    visit.clean()

    # Manage subscription → the provider's portal for this user's customer, which returns to the billing page
    page.click("#manage-subscription")
    page.wait_for_url(f"{fake.api_base}/p/session/*")
    assert page.inner_text("h1") == "Fake Stripe customer portal"
    assert page.inner_text("#customer") == fake.sessions[sid]["customer"]
    page.click("#return")
    page.wait_for_url("**/billing.html?portal=return")

    # cancelled at period end in the portal: the page says when it ends and that it will not renew
    cancel = fake.subscription_event(sid, cancel_at_period_end=True, period_end=PERIOD_END)
    cancel["created"] = created["created"] + 1
    assert send(visit.site, fake, cancel) == "subscription_updated"
    page.reload()
    page.locator("#plan-state", has_text="Cancels at the end of the period").wait_for()
    assert page.inner_text("#plan-renewal") == "Ends on January 15, 2027; it will not renew."
    visit.shoot("billing-subscription-cancelling")
    visit.clean()
