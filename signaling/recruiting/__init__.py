"""Recorded interviews for recruiters (issue 8): organisations, interviews, candidate links, review.

Register with ``recruiting.setup(app)``. Recruiter routes live under /api/org (signed-in users,
scoped to their organisation); candidate routes under /api/c/ (public: the link's token, sent in the
X-Candidate-Token header, is the credential, see ``signaling.auth.PUBLIC_PREFIXES``).
"""

from __future__ import annotations

from aiohttp import web

from ..context import SERVICES
from . import candidate_routes, email_templates, recruiter_routes, review_links, team_review, webhooks
from .scoring import SCORER, AnswerScorer


def setup(app: web.Application) -> None:
    svc = app[SERVICES]
    app[SCORER] = AnswerScorer(svc.pool, svc.redis)  # the scores themselves come from the llm worker
    app[webhooks.DISPATCHER] = webhooks.Dispatcher(svc.pool, allow_private=svc.cfg.webhook_allow_private)
    app.on_response_prepare.append(candidate_routes.not_cached)
    app.on_response_prepare.append(review_links.not_cached)
    app.router.add_routes(recruiter_routes.routes)
    app.router.add_routes(candidate_routes.routes)
    app.router.add_routes(webhooks.routes)
    app.router.add_routes(team_review.routes)
    app.router.add_routes(review_links.routes)
    app.router.add_routes(email_templates.routes)
