"""E-mail: one-time login codes and any plain-text message, by SMTP when configured.

SMTP uses TLS with the server's certificate verified: port 465 is TLS from the start, elsewhere
STARTTLS when the server offers it (``SMTP_TLS=require`` refuses to send without it, ``off`` never
asks). Without ``SMTP_HOST`` nothing is sent; the message (a login code, a candidate's link: both
open accounts or interviews) is written to the log only when ``DEV_LOG_EMAILS`` says so.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage

from interview_room.config import Config

log = logging.getLogger("signaling.mailer")


class TlsRequired(smtplib.SMTPException):
    """SMTP_TLS=require, and the server does not offer STARTTLS."""


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


def tls_context() -> ssl.SSLContext:
    """The system's CA store, hostname checked (``ssl.create_default_context``); a seam for tests."""
    return ssl.create_default_context()


def _send_smtp(cfg: Config, msg: EmailMessage) -> None:
    mode = cfg.smtp_tls.lower()
    if cfg.smtp_port == 465 and mode != "off":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=20, context=tls_context())
    else:
        smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=20)
    with smtp:
        smtp.ehlo()
        if not isinstance(smtp, smtplib.SMTP_SSL):
            if mode != "off" and smtp.has_extn("starttls"):
                smtp.starttls(context=tls_context())
                smtp.ehlo()
            elif mode == "require":
                raise TlsRequired(f"{cfg.smtp_host}:{cfg.smtp_port} does not offer STARTTLS (SMTP_TLS=require)")
        if cfg.smtp_user:
            smtp.login(cfg.smtp_user, cfg.smtp_password)
        smtp.send_message(msg)


def _not_sent(cfg: Config, to: str, what: str, text: str) -> None:
    if cfg.dev_log_emails:
        log.info("e-mail not sent (no SMTP_HOST; DEV_LOG_EMAILS) to=%s %s\n%s", to, what, text)
    else:
        log.info("e-mail not sent (no SMTP_HOST; DEV_LOG_EMAILS=1 would log it) to=%s %s", to, what)


async def send_login_code(cfg: Config, to: str, code: str) -> bool:
    if not cfg.smtp_host:
        if cfg.dev_log_emails:
            log.info("login code for %s: %s", to, code)
        else:
            _not_sent(cfg, to, "login code", "")
        return False
    try:
        await asyncio.to_thread(_send_smtp, cfg, _message(cfg, to, code))
    except (OSError, smtplib.SMTPException) as e:
        log.error("sending the login code failed smtp=%s:%d error=%s", cfg.smtp_host, cfg.smtp_port, e)
        return False
    log.info("login code sent by e-mail")
    return True


async def send_email(cfg: Config, to: str, subject: str, text: str) -> bool:
    """Any plain-text e-mail (recruiting invitations, confirmations); True when the SMTP server took it."""
    return await deliver(cfg, to, subject, text) == ""


async def deliver(cfg: Config, to: str, subject: str, text: str) -> str:
    """Like ``send_email``, but says why it was not sent: '' when the SMTP server took it, else the reason
    (for the recruiter's delivery log; it names no secret)."""
    if not cfg.smtp_host:
        _not_sent(cfg, to, f"subject={subject!r}", text)
        return "no mail server configured (SMTP_HOST)"
    msg = EmailMessage()
    msg["From"] = cfg.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    try:
        await asyncio.to_thread(_send_smtp, cfg, msg)
    except (OSError, smtplib.SMTPException) as e:
        log.error("sending an e-mail failed smtp=%s:%d error=%s", cfg.smtp_host, cfg.smtp_port, e)
        return f"{type(e).__name__}: {e}"[:300] or "send failed"
    return ""
