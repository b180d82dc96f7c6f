"""Headless Chromium against a signaling process of its own: the billing page offers every gateway the server
has (Stripe, PayPal, invoice) and the invoice is reachable from it; the profile page downloads the export
and deletes the account after the password confirms it. Screenshots into test-artifacts/, 375 px and
accessible-name checks, CSP clean. The browser reaches 127.0.0.1 only (no gateway is called here)."""

from __future__ import annotations

import io
import zipfile

from page_fixtures import page_fixtures
from test_newuser_pages import PASSWORD, Visit, fetch_json

site, browser, visit = page_fixtures(
    "signaling-billingdata",
    STRIPE_API_KEY="sk_test_not_called",
    STRIPE_WEBHOOK_SECRET="whsec_not_called",
    PAYPAL_CLIENT_ID="paypal-client-not-called",
    PAYPAL_CLIENT_SECRET="paypal-secret-not-called",
    PAYPAL_WEBHOOK_ID="WH-NOT-CALLED",
    PAYPAL_API_BASE="http://127.0.0.1:9",
)


def test_billing_page_lists_the_servers_gateways_and_reaches_the_invoice(visit: Visit) -> None:
    visit.sign_up("Billing User")
    page = visit.page
    page.goto("/billing.html")
    page.wait_for_selector("#gateways input[name=gateway]")
    labels = page.locator("#gateways label").all_inner_texts()
    assert labels == ["Card (Stripe)", "PayPal", "Invoice (bank transfer)"], labels
    assert page.locator("#gateways legend").inner_text() == "Pay with"
    assert page.is_checked("#gateway-stripe")
    starter = page.locator("li.package[data-id=starter]")
    assert "$9.99" in starter.inner_text() and "5 h" in starter.inner_text() and "5 credits" in starter.inner_text()
    visit.shoot("billing-gateways")
    visit.phone_check("billing-gateways")

    # the offline invoice, chosen in the page: its printable invoice opens
    page.check("#gateway-manual")
    page.click("li.package[data-id=starter] button")
    page.wait_for_url("**/api/billing/receipts/*")
    assert "Invoice" in page.inner_text("h1")
    assert "INV-" in page.inner_text("table")
    visit.shoot("billing-invoice")
    page.goto("/billing.html")
    page.wait_for_selector("#purchases tr td:nth-child(5)")
    assert "pending" in page.inner_text("#purchases")
    visit.clean()


def test_profile_exports_the_data_and_deletes_the_account_after_the_password(visit: Visit) -> None:
    email = visit.sign_up("Data User")
    page = visit.page
    st, sess = fetch_json(page, "POST", "/api/sessions", {"title": "Export me"})
    assert st == 201, sess
    page.goto("/profile.html")
    page.wait_for_function("() => document.querySelector('#p-email').value !== ''")
    assert page.is_visible("#del-password") and not page.is_visible("#del-code")
    visit.shoot("profile-data")
    visit.phone_check("profile-data")

    with page.expect_download() as dl:
        page.click("#export-link")
    path = dl.value.path()
    assert dl.value.suggested_filename.startswith("interview-room-export-")
    zf = zipfile.ZipFile(io.BytesIO(open(path, "rb").read()))
    assert email in zf.read("account.json").decode()
    assert any(sess["id"] in n for n in zf.namelist())  # type: ignore[index]

    page.click("#del-submit")  # no password: the form says so, nothing is sent
    assert "password" in page.inner_text("#del-password-error").lower()
    page.fill("#del-password", "not my password")
    page.click("#del-submit")
    page.wait_for_function("() => document.querySelector('#del-password-error').textContent !== ''")
    assert "wrong" in page.inner_text("#del-password-error").lower()
    visit.shoot("profile-delete-wrong-password")
    st, _ = fetch_json(page, "GET", "/api/me")
    assert st == 200  # still there

    page.fill("#del-password", PASSWORD)
    page.click("#del-submit")
    page.wait_for_url("**/index.html?deleted=1")
    st, _ = fetch_json(page, "GET", "/api/me")
    assert st == 401
    visit.clean()
