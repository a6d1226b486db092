"""The e-mail receipt of every filed request: its id, type, due date and how to ask about it, in the
customer's language, to the e-mail address the customer verified with (else the one on file).

The receipt is owed from the moment the request is filed: filing writes a `receipt_due` audit entry
in the same transaction as the request (filing.py), so a receipt is never owed for a request that
was not filed, and a request is never held up by the mail. `RequestReceipts` sends what is owed:
at once after a filing in the API (`wake`), and every RECEIPT_SWEEP_SECONDS for whatever could not
go out before (the back office runs it in a thread of its own). A receipt that went out is recorded
as `receipt_sent`; one that could not go out is logged each time and recorded once as
`receipt_not_sent` with the reason, on the request's audit trail the privacy team reads, and tried
again at the next sweep.

Once per request: the request's row is locked (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite has one
writer) and `receipt_sent` written before the mail goes out, in a transaction committed only after
the SMTP server took it, so two senders never both send it; `receipt_not_sent` is written under the
same row's lock, so two back offices failing at once write it once.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import Literal

import httpx2
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from ...identity.rules import address_key
from ...identity.service import SmtpConfig, send, set_headers
from ...identity.tables import EMAIL, VerificationAttempt
from ...knowledge.rules import KnowledgeBase
from ...sentences import texts, words
from ...shared.company_systems import CompanySystems
from ...vocabulary import Status
from .. import rules
from ..tables import AuditEntry, Request, append_audit

log = logging.getLogger(__name__)

RECEIPT_SWEEP_SECONDS = 30.0
SWEEP_BATCH = 50
DUE, SENT, NOT_SENT = "receipt_due", "receipt_sent", "receipt_not_sent"
ACTOR = "system:receipts"


def receipt_due(request_id: str, status: Status, now: dt.datetime) -> rules.AuditEntry:
    """The audit entry filing writes with every new request: an e-mail receipt is owed."""
    return rules.AuditEntry(request_id=request_id, at=now, actor="system:filing", action=DUE, from_status=status, to_status=status,
                         reason="an e-mail receipt is owed to the customer")


def long_date(day: dt.date, language: str) -> str:
    """7 januari 2027 / 7 January 2027: the one way a date is written to a customer."""
    return f"{day.day} {words(language, 'common.months')[day.month - 1]} {day.year}"


def receipt_email(to: str, request: Request, privacy_email: str, smtp: SmtpConfig) -> EmailMessage:
    """The receipt in the customer's language (the one the request was filed in; Dutch if not known)."""
    language: Literal["nl", "en"] = "en" if (request.details or {}).get("language") == "en" else "nl"
    kind = words(language, "common.rights").get(request.type, request.type)
    received = long_date(rules.local_date(request.received_at), language)
    said = texts(smtp.company)
    body = said(language, "back_office.receipt_email.body", request=request.id, type=kind, received=received,
                due=long_date(request.due_on, language), privacy_email=privacy_email)
    message = EmailMessage()
    set_headers(message, said(language, "back_office.receipt_email.subject", request=request.id), smtp.sender, to)
    message.set_content(body)
    return message


class RequestReceipts:
    def __init__(self, Session: sessionmaker, systems: CompanySystems, smtp: SmtpConfig, kb: KnowledgeBase,
                 address_secret: str, clock: Callable[[], dt.datetime]) -> None:
        """`address_secret`: the key verification stored the typed address under, to find which one it was."""
        self.Session = Session
        self.systems = systems
        self.smtp = smtp
        self.kb = kb
        self.address_secret = address_secret
        self.clock = clock
        self.stop = threading.Event()
        self.woken = threading.Event()

    def owed(self, limit: int = SWEEP_BATCH) -> list[str]:
        """The requests whose receipt is owed and not sent, oldest first."""
        sent = aliased(AuditEntry)
        with self.Session() as session:
            return list(session.scalars(
                select(AuditEntry.request_id).where(AuditEntry.action == DUE, ~exists().where(
                    sent.request_id == AuditEntry.request_id, sent.action == SENT)).order_by(AuditEntry.id).limit(limit)))

    def address_of(self, session: Session, request: Request) -> str | None:
        """The address the customer verified with in the conversation that filed, if it is on file;
        else the CRM's contact address (a request filed by an agent for a customer who logged in)."""
        response = self.systems.export(self.systems.finder, request.customer_id)
        response.raise_for_status()
        records = response.json()["categories"]
        on_file = [r.get("email") for r in records.get("contact_details", [])] + [r.get("login_email") for r in records.get("account", [])]
        addresses = [a for a in on_file if isinstance(a, str) and "@" in a]
        if request.conversation_id:
            keys = set(session.scalars(select(VerificationAttempt.address_key).where(
                VerificationAttempt.conversation_id == request.conversation_id, VerificationAttempt.channel == EMAIL,
                VerificationAttempt.customer_id == request.customer_id, VerificationAttempt.verified_at.is_not(None))))
            verified = [a for a in addresses if address_key(a, self.address_secret) in keys]
            if verified:
                return verified[0]
        return addresses[0] if addresses else None

    def send(self, request_id: str) -> bool:
        """Send this request's receipt if it is owed and nobody sent it; True if it went out now."""
        now = self.clock()
        with self.Session() as session:
            request = session.scalar(select(Request).where(Request.id == request_id).with_for_update(skip_locked=True))
            if request is None or session.scalar(select(exists().where(AuditEntry.request_id == request_id, AuditEntry.action == SENT))):
                return False
            try:
                to = self.address_of(session, request)
                if to is None:
                    raise LookupError("the CRM has no e-mail address for the customer")
                status = Status(request.status)
                append_audit(session, rules.AuditEntry(request_id=request_id, at=now, actor=ACTOR, action=SENT, from_status=status,
                                                    to_status=status, reason="e-mail receipt sent"))
                session.flush()
                privacy_email = self.kb.current_at(now).company.dpo.email
                send(receipt_email(to, request, privacy_email, self.smtp), self.smtp)
                session.commit()
            except (httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError, LookupError, smtplib.SMTPException, OSError) as exc:
                session.rollback()
                self._not_sent(request_id, f"{type(exc).__name__}: {exc}"[:300], now)
                return False
        log.info("e-mail receipt of request %s sent", request_id)
        return True

    def _not_sent(self, request_id: str, reason: str, now: dt.datetime) -> None:
        """Logged every time; on the request's audit trail once, with the reason."""
        log.warning("the e-mail receipt of request %s could not go out (%s); the next sweep tries again", request_id, reason)
        with self.Session() as session:
            # the request's row first: of two back offices failing at once, the second reads the first's line
            request = session.scalar(select(Request).where(Request.id == request_id).with_for_update())
            told = session.scalar(select(exists().where(AuditEntry.request_id == request_id, AuditEntry.action == NOT_SENT)))
            if not told and request is not None:
                status = Status(request.status)
                append_audit(session, rules.AuditEntry(request_id=request_id, at=now, actor=ACTOR, action=NOT_SENT, from_status=status,
                                                    to_status=status, reason=f"e-mail receipt not sent, tried again every "
                                                    f"{RECEIPT_SWEEP_SECONDS:.0f} s: {reason}"))
                session.commit()

    def sweep(self) -> int:
        """Send every receipt owed (up to SWEEP_BATCH); how many went out."""
        return sum(self.send(request_id) for request_id in self.owed())

    def wake(self) -> None:
        """A request was filed: sweep now instead of at the next interval."""
        self.woken.set()

    def run_forever(self) -> None:
        while not self.stop.is_set():
            self.woken.clear()
            try:
                self.sweep()
            except Exception:  # the database may be restarting: the next sweep tries again
                log.exception("sweep of e-mail receipts failed; trying again later")
            self.woken.wait(RECEIPT_SWEEP_SECONDS)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, daemon=True, name="request-receipts")
        thread.start()
        return thread

    def close(self) -> None:
        self.stop.set()
        self.woken.set()
