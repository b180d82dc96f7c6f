"""The billing area's one ``setup(app)``: its routes and its background work (see ``web/__init__.py``)."""

from __future__ import annotations

from aiohttp import web

from . import routes


def setup(app: web.Application) -> None:
    routes.setup(app)
