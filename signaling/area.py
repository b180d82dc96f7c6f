"""The signaling area's one ``setup(app)``: its routes and its background work (see ``web/__init__.py``)."""

from __future__ import annotations

from aiohttp import web

from interview_room.service import in_background
from web.common.context import SERVICES

from . import companion_routes, session_routes
from .reaper import OrphanReaper


def setup(app: web.Application) -> None:
    session_routes.setup(app)
    companion_routes.setup(app)
    svc = app[SERVICES]
    in_background(app, "orphan-reaper", lambda _: OrphanReaper(svc.pool, svc.redis).run())
