"""E-mail of identity verification: the one-time code message (Dutch and English) and sending it by SMTP.

In the embedded demo the SMTP server is the local mail sink (`python -m backoffice mailsink`), whose
inbox the demo page shows; a real deployment points SMTP_HOST / SMTP_PORT at the company's relay.
"""
from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Literal

try:
    from zoneinfo import ZoneInfo

    LOCAL = ZoneInfo("Europe/Amsterdam")
except Exception:  # no time zone data on this machine: say UTC
    LOCAL = dt.timezone.utc

SUBJECT = "Je verificatiecode voor Voltera / Your Voltera verification code"

TEXT = {
    "nl": (
        "Hallo,\n\n"
        "Je verificatiecode voor de privacy-assistent van Voltera is:\n\n"
        "    {code}\n\n"
        "Typ deze code in de chat om te bevestigen dat dit e-mailadres van jou is. "
        "De code is {minutes} minuten geldig (tot {until}) en werkt maar één keer.\n\n"
        "Wij vragen nooit om een kopie van je identiteitsbewijs (paspoort, ID-kaart of rijbewijs).\n\n"
        "Heb je hier niet om gevraagd? Negeer deze e-mail dan: zonder de code gebeurt er niets.\n\n"
        "Groet,\nVoltera, team privacy"
    ),
    "en": (
        "Hello,\n\n"
        "Your verification code for the Voltera privacy assistant is:\n\n"
        "    {code}\n\n"
        "Type this code in the chat to confirm that this e-mail address is yours. "
        "The code is valid for {minutes} minutes (until {until}) and works only once.\n\n"
        "We never ask for a copy of your identity document (passport, ID card or driving licence).\n\n"
        "Did you not ask for this? Then ignore this e-mail: without the code nothing happens.\n\n"
        "Kind regards,\nVoltera, privacy team"
    ),
}


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 8025
    sender: str = "Voltera privacy <privacy@voltera.example>"
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0


def code_email(to: str, code: str, expires_at: dt.datetime, validity: dt.timedelta, sender: str,
               language: Literal["nl", "en"] = "nl") -> EmailMessage:
    """The message with the code, in both languages (the customer's language first)."""
    until = expires_at.astimezone(LOCAL)
    minutes = int(validity.total_seconds() // 60)
    parts = {
        "nl": TEXT["nl"].format(code=code, minutes=minutes, until=until.strftime("%H:%M") + (" Nederlandse tijd" if LOCAL is not dt.timezone.utc else " UTC")),
        "en": TEXT["en"].format(code=code, minutes=minutes, until=until.strftime("%H:%M") + (" Dutch time" if LOCAL is not dt.timezone.utc else " UTC")),
    }
    order = ("nl", "en") if language == "nl" else ("en", "nl")
    message = EmailMessage()
    message["Subject"] = SUBJECT
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    address = parseaddr(sender)[1]
    message["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[-1] if "@" in address else None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"{parts[order[0]]}\n\n----------------------------------------\n\n{parts[order[1]]}\n")
    return message


def send(message: EmailMessage, config: SmtpConfig) -> None:
    """Hand the message to the SMTP server; raises `smtplib.SMTPException` or `OSError` when it fails."""
    with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(message)
