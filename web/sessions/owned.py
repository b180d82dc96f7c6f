"""The session a URL names, for its owner only: every /api/sessions/{id}/... route starts here."""

from __future__ import annotations

from aiohttp import web

from interview_room.store import sessions as store
from interview_room.store.sessions import Session
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import not_found


async def owned_session(request: web.Request) -> Session:
    """The session named in the URL if it belongs to the caller, else 404 (also for report routes)."""
    sid = store.parse_id(request.match_info.get("id", ""))
    s = await store.get_session(services(request).pool, current_user(request).id, sid) if sid else None
    if s is None:
        raise not_found("No such session")
    return s
