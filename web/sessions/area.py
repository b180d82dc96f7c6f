"""The sessions area's one ``setup(app)``: its routes and its background work (see ``web/__init__.py``)."""

from __future__ import annotations

from aiohttp import web

from . import analytics_routes, screen_routes, summary_routes, webpage_routes


def setup(app: web.Application) -> None:
    screen_routes.setup(app)
    summary_routes.setup(app)
    webpage_routes.setup(app)
    analytics_routes.setup(app)
