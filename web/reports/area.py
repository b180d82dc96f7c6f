"""The reports area's one ``setup(app)``: its routes and its background work (see ``web/__init__.py``)."""

from __future__ import annotations

from aiohttp import web

from . import report_routes


def setup(app: web.Application) -> None:
    report_routes.setup(app)
