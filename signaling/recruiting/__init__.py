"""Recorded interviews for recruiters (issue 8): organisations, interviews, candidate links, review.

Register with ``recruiting.setup(app)``. Recruiter routes live under /api/org (signed-in users,
scoped to their organisation); candidate routes under /api/c/{token} (public: the link's token is
the credential, see ``signaling.auth.PUBLIC_PREFIXES``).
"""

from __future__ import annotations

from aiohttp import web

from . import candidate_routes, recruiter_routes


def setup(app: web.Application) -> None:
    app.router.add_routes(recruiter_routes.routes)
    app.router.add_routes(candidate_routes.routes)
