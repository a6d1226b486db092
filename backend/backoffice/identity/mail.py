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

try:
    from zoneinfo import ZoneInfo

    LOCAL = ZoneInfo("Europe/Amsterdam")
except Exception:  # no time zone data on this machine: say UTC
    LOCAL = dt.UTC

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


NOTICE_SUBJECT = "Er is een verificatiecode voor je aangevraagd / A verification code was asked for you"

# Why the code went unused, in words.
NOTICE_REASONS = {
    "locked": {"nl": "na 5 verkeerde pogingen is de code geblokkeerd", "en": "it was blocked after 5 wrong tries"},
    "expired": {"nl": "de code is verlopen zonder dat hij gebruikt is", "en": "it expired without being used"},
}

NOTICE_TEXT = {
    "nl": (
        "Hallo,\n\n"
        "Op {asked} heeft iemand in de privacy-assistent van Voltera een verificatiecode voor dit e-mailadres "
        "aangevraagd. De code is niet gebruikt: {reason}.\n\n"
        "Was jij dat? Dan hoef je niets te doen; vraag gerust een nieuwe code aan.\n"
        "Was jij het niet? Dan heeft niemand toegang gekregen tot je gegevens: zonder de code kan dat niet. "
        "Deel een code nooit met iemand. Blijft dit gebeuren, laat het ons dan weten via {contact}.\n\n"
        "Wij vragen nooit om een kopie van je identiteitsbewijs (paspoort, ID-kaart of rijbewijs).\n\n"
        "Groet,\nVoltera, team privacy"
    ),
    "en": (
        "Hello,\n\n"
        "On {asked}, someone asked the Voltera privacy assistant for a verification code for this e-mail address. "
        "The code was not used: {reason}.\n\n"
        "Was that you? Then there is nothing to do; feel free to ask for a new code.\n"
        "Was it not you? Then nobody got access to your data: without the code that is not possible. "
        "Never share a code with anyone. If this keeps happening, let us know at {contact}.\n\n"
        "We never ask for a copy of your identity document (passport, ID card or driving licence).\n\n"
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
        "nl": TEXT["nl"].format(code=code, minutes=minutes, until=until.strftime("%H:%M") + (" Nederlandse tijd" if LOCAL is not dt.UTC else " UTC")),
        "en": TEXT["en"].format(code=code, minutes=minutes, until=until.strftime("%H:%M") + (" Dutch time" if LOCAL is not dt.UTC else " UTC")),
    }
    order = ("nl", "en") if language == "nl" else ("en", "nl")
    message = EmailMessage()
    _headers(message, SUBJECT, sender, to)
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


def _local_time(moment: dt.datetime, language: Literal["nl", "en"]) -> str:
    zone = {"nl": " Nederlandse tijd", "en": " Dutch time"}[language] if LOCAL is not dt.UTC else " UTC"
    return moment.astimezone(LOCAL).strftime("%d-%m-%Y %H:%M") + zone


def unused_code_notice(to: Sequence[str], asked_at: dt.datetime, reason: Literal["locked", "expired"], sender: str) -> EmailMessage:
    """The notice that a code sent to the customer went unused, to every address on file (Dutch first:
    the language of the conversation that asked is not kept)."""
    contact = parseaddr(sender)[1] or sender
    parts = [NOTICE_TEXT[lang].format(asked=_local_time(asked_at, lang), reason=NOTICE_REASONS[reason][lang], contact=contact)
             for lang in ("nl", "en")]
    message = EmailMessage()
    _headers(message, NOTICE_SUBJECT, sender, ", ".join(to))
    message.set_content(f"{parts[0]}\n\n----------------------------------------\n\n{parts[1]}\n")
    return message


def send(message: EmailMessage, config: SmtpConfig) -> None:
    """Hand the message to the SMTP server; raises `smtplib.SMTPException` or `OSError` when it fails."""
    with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(message)
