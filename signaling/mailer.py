"""Delivering one-time login codes: by SMTP when configured, else to the log (development)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage

from interview_room.config import Config

log = logging.getLogger("signaling.mailer")


def _message(cfg: Config, to: str, code: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.smtp_from
    msg["To"] = to
    msg["Subject"] = f"Your Interview Room sign-in code: {code}"
    msg.set_content(
        f"Your sign-in code is {code}\n\nIt works once and expires in 10 minutes.\n"
        "If you did not ask for it, you can ignore this e-mail.\n"
    )
    return msg


def _send_smtp(cfg: Config, msg: EmailMessage) -> None:
    if cfg.smtp_port == 465:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=20)
    else:
        smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=20)
    with smtp:
        smtp.ehlo()
        if cfg.smtp_port != 465 and smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        if cfg.smtp_user:
            smtp.login(cfg.smtp_user, cfg.smtp_password)
        smtp.send_message(msg)


async def send_login_code(cfg: Config, to: str, code: str) -> None:
    if not cfg.smtp_host:
        log.info("login code for %s: %s", to, code)
        return
    try:
        await asyncio.to_thread(_send_smtp, cfg, _message(cfg, to, code))
    except (OSError, smtplib.SMTPException):
        log.exception("sending the login code failed smtp=%s:%d", cfg.smtp_host, cfg.smtp_port)
        return
    log.info("login code sent by e-mail")


async def send_email(cfg: Config, to: str, subject: str, text: str) -> bool:
    """Any plain-text e-mail (recruiting invitations, confirmations); logged instead without SMTP_HOST."""
    if not cfg.smtp_host:
        log.info("e-mail not sent (no SMTP_HOST) to=%s subject=%r\n%s", to, subject, text)
        return False
    msg = EmailMessage()
    msg["From"] = cfg.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    try:
        await asyncio.to_thread(_send_smtp, cfg, msg)
    except (OSError, smtplib.SMTPException):
        log.exception("sending an e-mail failed smtp=%s:%d", cfg.smtp_host, cfg.smtp_port)
        return False
    return True
