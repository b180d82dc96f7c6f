"""The recruiting area's one ``setup(app)``: its routes and its background work (see ``web/__init__.py``)."""

from __future__ import annotations

from aiohttp import web

from interview_room.service import in_background
from web.common.context import SERVICES

from . import (
    accommodation_routes,
    audit_export,
    candidate_cv,
    candidate_routes,
    email_templates,
    funnel_routes,
    recruiter_routes,
    review_links,
    suggestions,
    team_review,
    webhook_event_routes,
    webhooks,
)
from .answer_limits import AnswerTimeLimit
from .ats_events import ClosedSweeper
from .erase import RetentionSweeper
from .reminders import ReminderSweeper
from .scoring import SCORER, AnswerScorer


def setup(app: web.Application) -> None:
    svc = app[SERVICES]
    app[SCORER] = AnswerScorer(svc.pool, svc.redis)  # the scores themselves come from the llm worker
    app[webhooks.DISPATCHER] = webhooks.Dispatcher(svc.pool, allow_private=svc.cfg.webhook_allow_private)
    app.on_response_prepare.append(candidate_routes.not_cached)
    app.on_response_prepare.append(review_links.not_cached)
    recruiter_routes.setup(app)
    candidate_routes.setup(app)
    webhooks.setup(app)
    for extra in (
        webhook_event_routes,
        funnel_routes,
        accommodation_routes,
        audit_export,
        team_review,
        review_links,
        email_templates,
        suggestions,
        candidate_cv,
    ):
        app.router.add_routes(extra.routes)
    in_background(app, "webhook-dispatcher", lambda app: app[webhooks.DISPATCHER].run())
    in_background(app, "reminder-sweeper", lambda _: ReminderSweeper(svc).run())
    in_background(app, "answer-time-limit", lambda _: AnswerTimeLimit(svc).run())
    in_background(app, "candidate-retention", lambda _: RetentionSweeper(svc).run())
    in_background(app, "interview-closed-events", lambda app: ClosedSweeper(svc, app).run())
