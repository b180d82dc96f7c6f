"""Ending a candidate's answer session: on its media node (the recording is flushed) and in the database.

Shared by the candidate's finish, a new attempt replacing an abandoned one, the answer time limit and
the recruiter erasing a candidate.
"""

from __future__ import annotations

from typing import Any

from interview_room.store import sessions as sessions_store
from signaling import media_nodes
from web.common.context import Services


async def end_answer_session(svc: Services, owner_id: Any, session_id: Any) -> None:
    s = await sessions_store.get_session(svc.pool, owner_id, session_id)
    if s is None or s.status == "ended":
        return
    res = (await media_nodes.end_on_node(svc.http, s.media_node, str(s.id), svc.internal_token) if s.media_node else None) or {}
    secs, path = res.get("media_seconds"), res.get("recording_path")
    await sessions_store.mark_ended(
        svc.pool,
        owner_id,
        s.id,
        float(secs) if isinstance(secs, int | float) else None,
        path if isinstance(path, str) and path else None,
    )
