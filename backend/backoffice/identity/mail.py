"""E-mail of identity verification: the one-time code message, the notice of a code that went unused
(both in Dutch and English) and sending them by SMTP.

In the embedded demo the SMTP server is the local mail sink (`python -m backoffice mailsink`), whose
inbox the demo page shows; a real deployment points SMTP_HOST / SMTP_PORT at the company's relay.
"""
from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Literal

from ..sentences import CODE_EMAIL, CODE_EMAIL_SUBJECT, DUTCH_TIME, UNUSED_CODE_EMAIL, UNUSED_CODE_REASONS, UNUSED_CODE_SUBJECT

try:
    from zoneinfo import ZoneInfo

    LOCAL: dt.tzinfo = ZoneInfo("Europe/Amsterdam")
except Exception:  # no time zone data on this machine: say UTC
    LOCAL = dt.UTC







@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 8025
    sender: str = "Voltera privacy <privacy@voltera.example>"
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> SmtpConfig:
        """From the back office's `config.Settings`."""
        return cls(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from, username=settings.smtp_username,
                   password=settings.smtp_password, starttls=settings.smtp_starttls)


def code_email(to: str, code: str, expires_at: dt.datetime, validity: dt.timedelta, sender: str,
               language: Literal["nl", "en"] = "nl") -> EmailMessage:
    """The message with the code, in both languages (the customer's language first)."""
    until = expires_at.astimezone(LOCAL)
    minutes = int(validity.total_seconds() // 60)
    parts = {
        lang: CODE_EMAIL[lang].format(code=code, minutes=minutes, until=until.strftime("%H:%M") + _zone(lang)) for lang in ("nl", "en")
    }
    order = ("nl", "en") if language == "nl" else ("en", "nl")
    message = EmailMessage()
    _headers(message, CODE_EMAIL_SUBJECT, sender, to)
    message.set_content(f"{parts[order[0]]}\n\n----------------------------------------\n\n{parts[order[1]]}\n")
    return message


def _headers(message: EmailMessage, subject: str, sender: str, to: str) -> None:
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    address = parseaddr(sender)[1]
    message["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[-1] if "@" in address else None)
    message["Auto-Submitted"] = "auto-generated"


def _zone(language: Literal["nl", "en"]) -> str:
    return DUTCH_TIME[language] if LOCAL is not dt.UTC else " UTC"


def _local_time(moment: dt.datetime, language: Literal["nl", "en"]) -> str:
    return moment.astimezone(LOCAL).strftime("%d-%m-%Y %H:%M") + _zone(language)


def unused_code_notice(to: Sequence[str], asked_at: dt.datetime, reason: Literal["locked", "expired"], sender: str) -> EmailMessage:
    """The notice that a code sent to the customer went unused, to every address on file (Dutch first:
    the language of the conversation that asked is not kept)."""
    contact = parseaddr(sender)[1] or sender
    parts = [UNUSED_CODE_EMAIL[lang].format(asked=_local_time(asked_at, lang), reason=UNUSED_CODE_REASONS[reason][lang], contact=contact)
             for lang in ("nl", "en")]
    message = EmailMessage()
    _headers(message, UNUSED_CODE_SUBJECT, sender, ", ".join(to))
    message.set_content(f"{parts[0]}\n\n----------------------------------------\n\n{parts[1]}\n")
    return message


def plain_message(to: Sequence[str], subject: str, body: str, sender: str) -> EmailMessage:
    """A plain-text message from the privacy team (a request's outcome, for instance) to every address given."""
    message = EmailMessage()
    _headers(message, subject, sender, ", ".join(to))
    message.set_content(body if body.endswith("\n") else body + "\n")
    return message


def send(message: EmailMessage, config: SmtpConfig) -> None:
    """Hand the message to the SMTP server; raises `smtplib.SMTPException` or `OSError` when it fails."""
    with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(message)
