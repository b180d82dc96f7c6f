"""Reminder e-mails before a candidate's link expires (``REMINDER_HOURS``, default 24).

Each pending candidate with an e-mail address gets one automatic reminder, carrying the same link
(derived again from its nonce, see links.py). A candidate is claimed in the database before the
e-mail goes out, so several signaling replicas never send it twice; if the e-mail fails the claim
is released and the next sweep tries again. Candidates invited inside the window are skipped: the
invitation itself states the deadline.
"""

from __future__ import annotations

import logging
from typing import Any

from interview_room.metrics import REMINDERS_SENT
from interview_room.service import every
from interview_room.store import recruiting as store
from web.common.context import Services

from . import candidate_mail, links

log = logging.getLogger("signaling.recruiting.reminders")

INTERVAL_S = 300.0


async def send_reminder(svc: Services, c: dict[str, Any], base_url: str) -> bool:
    iv = await store.interview_of_candidate(svc.pool, c)
    token = links.candidate_token(svc.secret, c["id"], c["link_nonce"])
    link = links.candidate_url(base_url, token)
    sent = await candidate_mail.reminder(svc, c, iv, link)
    if sent:
        REMINDERS_SENT.inc()
    return sent


class ReminderSweeper:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def sweep(self) -> int:
        """One pass; returns how many reminders were e-mailed."""
        cfg = self.svc.cfg
        if cfg.reminder_hours <= 0 or not cfg.smtp_host:
            return 0
        sent = 0
        base = links.base_url_of(self.svc)
        for c in await store.claim_due_reminders(self.svc.pool, cfg.reminder_hours * 3600):
            if await send_reminder(self.svc, c, base):
                sent += 1
                log.info("reminder sent candidate=%s expires_at=%s", c["id"], c["expires_at"].isoformat())
            else:
                await store.set_reminded(self.svc.pool, c["id"], None)  # try again next sweep
        return sent

    async def run(self, interval_s: float = INTERVAL_S) -> None:
        if not self.svc.cfg.smtp_host:
            log.info("reminder e-mails are off (no SMTP_HOST)")
        await every(interval_s, self.sweep, "reminder sweep")
