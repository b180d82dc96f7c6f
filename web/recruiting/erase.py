"""Erasing candidates: on the recruiter's request, with their interview, or after the retention period.

Everything recorded of a candidate goes: the answer sessions are stopped on their media node, their
recordings (every part), event streams, captions and scores removed, then the candidate row (answers by
cascade) and the ATS events still carrying their name and e-mail. ``CANDIDATE_RETENTION_DAYS`` (0 = keep)
erases candidates that finished (completed, or their link expired) that many days ago, swept hourly by
every signaling process (the deletes are idempotent).
"""

from __future__ import annotations

import logging
from typing import Any

from interview_room.bus import events_stream
from interview_room.service import every
from interview_room.store import recruiting as store
from interview_room.store import sessions as sessions_store
from web.common.context import Services
from web.sessions import recordings

from .answer_sessions import end_answer_session

log = logging.getLogger("signaling.recruiting.erase")

INTERVAL_S = 3600.0


async def erase_candidate(svc: Services, org: dict[str, Any], c: dict[str, Any]) -> int:
    """Returns how many files were removed."""
    removed = 0
    for sid in await store.answer_session_ids(svc.pool, org["id"], c["id"]):
        s = await sessions_store.get_session(svc.pool, org["owner_id"], sid)
        if s is None:
            continue
        await end_answer_session(svc, org["owner_id"], sid)
        removed += len(recordings.delete_files(svc.cfg, s))
        await svc.redis.delete(events_stream(str(sid)))
        await sessions_store.delete_session(svc.pool, s.user_id, s.id)
    await store.delete_candidate(svc.pool, org["id"], c["id"])
    log.info("candidate erased candidate=%s files_removed=%d", c["id"], removed)
    return removed


class RetentionSweeper:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def sweep(self) -> int:
        """One pass; returns how many candidates were erased."""
        days = self.svc.cfg.candidate_retention_days
        if days <= 0:
            return 0
        erased = 0
        for c in await store.candidates_past_retention(self.svc.pool, days * 86400.0):
            org = await store.org_by_id(self.svc.pool, c["org_id"])
            await erase_candidate(self.svc, org, c)
            erased += 1
        if erased:
            log.info("retention: candidates erased=%d older_than_days=%s", erased, days)
        return erased

    async def run(self, interval_s: float = INTERVAL_S) -> None:
        await every(interval_s, self.sweep, "retention sweep")
