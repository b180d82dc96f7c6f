"""The accounts area's one ``setup(app)``: its routes and its background work (see ``web/__init__.py``)."""

from __future__ import annotations

from aiohttp import web

from interview_room.service import in_background
from web.common.context import SERVICES

from . import account_data, account_routes, auth_routes, passwords, ratelimit


def setup(app: web.Application) -> None:
    cfg = app[SERVICES].cfg
    passwords.setup(cfg)
    ratelimit.proxy_networks(tuple(cfg.trusted_proxies))  # a bad TRUSTED_PROXIES entry stops the start
    auth_routes.setup(app)
    account_routes.setup(app)
    account_data.setup(app)
    svc = app[SERVICES]
    in_background(app, "session-retention", lambda _: account_data.SessionRetentionSweeper(svc).run())
