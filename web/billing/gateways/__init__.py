"""Payment gateways by name. A new gateway is one module implementing ``base.Gateway`` plus one line here."""

from __future__ import annotations

from interview_room.config import Config

from .base import Gateway
from .manual import ManualGateway
from .paypal import PayPalGateway
from .stripe_gateway import StripeGateway


def build(cfg: Config) -> dict[str, Gateway]:
    gateways: list[Gateway] = [
        StripeGateway(cfg.stripe_api_key, cfg.stripe_webhook_secret, cfg.stripe_api_base),
        PayPalGateway(cfg.paypal_client_id, cfg.paypal_client_secret, cfg.paypal_webhook_id, cfg.paypal_api_base),
        ManualGateway(),
    ]
    return {g.name: g for g in gateways}
