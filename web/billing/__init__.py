"""Billing: packages, checkout through a payment gateway (``gateways/``), gateway webhooks, ledger, receipts."""
