"""The server's side of an answer's time limit: attempts still recording well past it are ended.

The candidate page stops at the limit itself; this catches a tab that was closed mid-answer (its
session would otherwise stay open on a media node until the candidate came back) and a client that
ignores the limit (the organisation's credits pay for the time). The attempt is marked
``abandoned``, like one the candidate left: it does not count against the retakes.
"""

from __future__ import annotations

import logging

from interview_room.service import every
from interview_room.store import recruiting as store
from web.common.context import Services

from . import practice
from .answer_sessions import end_answer_session

log = logging.getLogger("signaling.recruiting.answer_limits")

GRACE_S = 30.0
INTERVAL_S = 10.0


class AnswerTimeLimit:
    def __init__(self, svc: Services, *, grace_s: float = GRACE_S) -> None:
        self.svc = svc
        self.grace_s = grace_s

    async def sweep(self) -> int:
        """One pass; returns how many attempts it ended."""
        ended = 0
        for a in await store.overdue_attempts(self.svc.pool, self.grace_s, practice.ANSWER_SECONDS):
            await end_answer_session(self.svc, a["owner_id"], a["session_id"])
            if await store.finish_attempt_if_recording(self.svc.pool, a, "abandoned"):
                ended += 1
                log.warning(
                    "answer past its time limit ended candidate=%s question=%d attempt=%d session=%s",
                    a["candidate_id"],
                    a["question_idx"],
                    a["attempt"],
                    a["session_id"],
                )
        return ended

    async def run(self, interval_s: float = INTERVAL_S) -> None:
        await every(interval_s, self.sweep, "answer time limit sweep")
