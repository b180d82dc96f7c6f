"""The recruiter side's e-mails: candidate invitations, team invitations, completion confirmations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from interview_room.config import Config
from web.common.mailer import send_email


def _company(interview: dict[str, Any]) -> str:
    return interview.get("company_name") or "the hiring team"


async def candidate_invite(cfg: Config, to: str, name: str, interview: dict[str, Any], link: str) -> bool:
    deadline = interview.get("deadline")
    when = f"\nPlease answer before {deadline:%Y-%m-%d %H:%M} UTC.\n" if deadline else ""
    body = (
        f"Hello {name or 'there'},\n\n{_company(interview)} invites you to a recorded video interview: "
        f"{interview['title']}.\nNo account is needed; open this personal link (do not share it):\n\n{link}\n{when}\n"
        "You can stop and come back to the same link later.\n"
    )
    return await send_email(cfg, to, f"Video interview: {interview['title']}", body)


async def candidate_reminder(
    cfg: Config, to: str, name: str, interview: dict[str, Any], link: str, expires_at: datetime
) -> bool:
    when = f" at {expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    body = (
        f"Hello {name or 'there'},\n\nA reminder from {_company(interview)}: your recorded video interview "
        f"\"{interview['title']}\" closes{when}.\nYour personal link (do not share it):\n\n{link}\n\n"
        "If you already started, the link takes you back to where you stopped.\n"
    )
    return await send_email(cfg, to, f"Reminder: video interview {interview['title']}", body)


async def team_invite(cfg: Config, to: str, org_name: str, link: str) -> bool:
    body = (
        f"You are invited to join {org_name} on Interview Room.\n\nSign in (or register) with this e-mail "
        f"address, then open:\n\n{link}\n\nThe invitation expires in 7 days.\n"
    )
    return await send_email(cfg, to, f"Join {org_name} on Interview Room", body)


async def completion_confirmation(cfg: Config, to: str, name: str, interview: dict[str, Any]) -> bool:
    body = (
        f'Hello {name or "there"},\n\nThank you: your answers to "{interview["title"]}" are recorded and sent to '
        f"{_company(interview)}. They will get back to you.\n"
    )
    return await send_email(cfg, to, f"Your interview is complete: {interview['title']}", body)


async def credits_ran_out(cfg: Config, to: str, org_name: str, base_url: str) -> bool:
    body = (
        f"A candidate of {org_name} tried to record an answer, but the organisation's recording credits are used "
        f"up, so they were asked to try again later.\n\nBuy credits here, then tell your candidates to open their "
        f"link again (their earlier answers are kept):\n\n{base_url}/billing.html\n"
    )
    return await send_email(cfg, to, f"{org_name}: candidates cannot record (no credits left)", body)


async def candidate_completed(cfg: Config, to: str, candidate: str, interview: dict[str, Any], review_url: str) -> bool:
    body = (
        f'{candidate} has answered every question of "{interview["title"]}".\n\nReview the answers (recordings, '
        f"captions and AI scores):\n\n{review_url}\n"
    )
    return await send_email(cfg, to, f"{candidate} completed: {interview['title']}", body)
