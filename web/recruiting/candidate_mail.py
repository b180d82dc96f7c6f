"""E-mails to candidates from the organisation's templates (issue 21): texts, rendering, sending and
the delivery log entry of each. The routes that edit the templates are in ``email_templates``.

Each kind (invite, reminder, thank-you, pass and fail decisions) has a default text; an organisation
may save its own subject and body, plain text with ``{{variable}}`` placeholders from ``VARIABLES``.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from interview_room.store import email_templates as et_store
from web.common.context import Services
from web.common.errors import ApiError
from web.common.mailer import deliver

log = logging.getLogger("signaling.recruiting.candidate_mail")

KINDS = ("invite", "reminder", "thank_you", "decision_pass", "decision_fail")
COMMON = ("candidate_name", "interview_title", "company")
VARIABLES: dict[str, tuple[str, ...]] = {
    "invite": (*COMMON, "link", "deadline_note"),
    "reminder": (*COMMON, "link", "expires_at"),
    "thank_you": COMMON,
    "decision_pass": COMMON,
    "decision_fail": COMMON,
}
NEEDS_LINK = ("invite", "reminder")
DEFAULTS: dict[str, tuple[str, str]] = {
    "invite": (
        "Video interview: {{interview_title}}",
        "Hello {{candidate_name}},\n\n{{company}} invites you to a recorded video interview: {{interview_title}}.\n"
        "No account is needed; open this personal link (do not share it):\n\n{{link}}\n{{deadline_note}}\n"
        "You can stop and come back to the same link later.\n",
    ),
    "reminder": (
        "Reminder: video interview {{interview_title}}",
        "Hello {{candidate_name}},\n\nA reminder from {{company}}: your recorded video interview "
        '"{{interview_title}}" closes at {{expires_at}}.\nYour personal link (do not share it):\n\n{{link}}\n\n'
        "If you already started, the link takes you back to where you stopped.\n",
    ),
    "thank_you": (
        "Your interview is complete: {{interview_title}}",
        'Hello {{candidate_name}},\n\nThank you: your answers to "{{interview_title}}" are recorded and sent to '
        "{{company}}. They will get back to you.\n",
    ),
    "decision_pass": (
        "{{interview_title}}: next steps",
        "Hello {{candidate_name}},\n\nThank you for your interview for {{interview_title}}. We are happy to tell you "
        "that {{company}} would like to move forward with you; we will be in touch about the next steps.\n",
    ),
    "decision_fail": (
        "{{interview_title}}: our decision",
        "Hello {{candidate_name}},\n\nThank you for your interview for {{interview_title}}. After careful review, "
        "{{company}} has decided not to move forward with your application this time. We wish you all the best.\n",
    ),
}
SAMPLE = {
    "candidate_name": "Alex Example",
    "interview_title": "Backend engineer",
    "company": "Acme Corp",
    "link": "https://example.com/c.html#sample-link",
    "deadline_note": "Please answer before 2030-01-31 17:00 UTC.",
    "expires_at": "2030-01-31 17:00 UTC",
}
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def placeholders(text: str) -> list[str]:
    return [m.group(1) for m in _VAR.finditer(text)]


def render(text: str, values: dict[str, str]) -> str:
    """Each ``{{name}}`` replaced by its value (once: a value's own braces stay as they are)."""
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def one_line(text: str) -> str:
    return " ".join(text.split())  # a subject is one header line


def check_template(kind: str, subject: str, body: str) -> None:
    allowed = VARIABLES[kind]
    for field, text in (("subject", subject), ("body", body)):
        unknown = [v for v in placeholders(text) if v not in allowed]
        if unknown:
            raise ApiError(
                400,
                "invalid_field",
                f"Unknown variable {{{{{unknown[0]}}}}}; this template can use: {', '.join(allowed)}",
                field=field,
            )
    if kind in NEEDS_LINK and "link" not in placeholders(body):
        raise ApiError(400, "invalid_field", "This e-mail must contain {{link}}: the candidate needs it", field="body")


async def text_of(svc: Services, org_id: uuid.UUID, kind: str) -> tuple[str, str, bool]:
    t = await et_store.template(svc.pool, org_id, kind)
    return (t.subject, t.body, True) if t else (*DEFAULTS[kind], False)


def values_for(c: dict[str, Any], iv: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "candidate_name": c.get("name") or "there",
        "interview_title": iv["title"],
        "company": iv.get("company_name") or "the hiring team",
        **extra,
    }


async def send(svc: Services, org_id: uuid.UUID, c: dict[str, Any], kind: str, values: dict[str, str]) -> bool:
    """The organisation's template (or the default) rendered and sent to the candidate, and logged."""
    subject, body, _ = await text_of(svc, org_id, kind)
    error = await deliver(svc.cfg, c["email"], one_line(render(subject, values)), render(body, values))
    await et_store.log_delivery(svc.pool, org_id, c["id"], kind, c["email"], not error, error)
    log.info("candidate e-mail org=%s candidate=%s kind=%s ok=%s", org_id, c["id"], kind, not error)
    return not error


def _when(dt: datetime) -> str:
    return f"{dt.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


async def invite(svc: Services, org_id: uuid.UUID, c: dict[str, Any], iv: dict[str, Any], link: str) -> bool:
    note = f"\nPlease answer before {_when(iv['deadline'])}.\n" if iv.get("deadline") else ""
    return await send(svc, org_id, c, "invite", values_for(c, iv, link=link, deadline_note=note))


async def reminder(svc: Services, c: dict[str, Any], iv: dict[str, Any], link: str) -> bool:
    return await send(svc, c["org_id"], c, "reminder", values_for(c, iv, link=link, expires_at=_when(c["expires_at"])))


async def thank_you(svc: Services, c: dict[str, Any], iv: dict[str, Any]) -> bool:
    return await send(svc, c["org_id"], c, "thank_you", values_for(c, iv))
