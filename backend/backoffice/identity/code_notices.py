"""Telling a customer that a verification code sent to them went unused, once per code.

Anyone can type a customer's address and have a code sent (rules.py, "Limits of the codes"). When
such a code is locked by wrong tries, or expires without being used, the customer gets one notice
(`mail.unused_code_notice`) at every address the CRM has for them:

- a locked code: right after the fifth wrong try, in the background of that answer;
- an expired code, and any notice that could not go out before: the worker's sweep
  (`CodeNotices.sweep`, run by `python -m backoffice worker` every NOTICE_SWEEP_SECONDS).

Once per code: a notice is claimed by setting `notified_at` in one conditional UPDATE before the mail
goes out, so two sweeps (or a sweep and the lock) never both send it; if the mail or the CRM fails,
the claim is released and the next sweep tries again. Not told: decoys (nothing was sent), a code
whose conversation verified with a later code (the customer asked twice), a code that was right but
met a conversation verified as someone else, and codes that ended more than NOTICE_HORIZON ago.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Callable
from typing import Literal

import httpx2
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased, sessionmaker

from ..shared.company_systems import CompanySystems
from . import mail
from .tables import EMAIL, VerificationAttempt

log = logging.getLogger(__name__)

NOTICE_HORIZON = dt.timedelta(days=1)
NOTICE_SWEEP_SECONDS = 30.0
SWEEP_BATCH = 50


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def addresses_on_file(systems: CompanySystems, customer_id: str) -> list[str]:
    """Every e-mail address the CRM has for the customer (contact and login), each once."""
    response = systems.export(systems.finder, customer_id)
    response.raise_for_status()
    records = response.json()["categories"]
    found = [r.get("email") for r in records.get("contact_details", [])] + [r.get("login_email") for r in records.get("account", [])]
    unique: dict[str, str] = {}
    for address in found:
        if isinstance(address, str) and "@" in address:
            unique.setdefault(address.lower(), address)
    return list(unique.values())


class CodeNotices:
    def __init__(self, Session: sessionmaker, systems: CompanySystems, smtp: mail.SmtpConfig,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        """`systems`: the company systems, to find the addresses on file."""
        self.Session = Session
        self.systems = systems
        self.smtp = smtp
        self.clock = clock

    @staticmethod
    def _unused(now: dt.datetime) -> list:
        """The conditions of a code the customer should hear about (locked, or expired), not told yet."""
        later = aliased(VerificationAttempt)
        verified_later = exists().where(later.conversation_id == VerificationAttempt.conversation_id, later.channel == EMAIL,
                                        later.verified_at.is_not(None), later.created_at >= VerificationAttempt.created_at)
        return [
            VerificationAttempt.channel == EMAIL, VerificationAttempt.usable.is_(True),
            VerificationAttempt.customer_id.is_not(None), VerificationAttempt.sent_at.is_not(None),
            VerificationAttempt.verified_at.is_(None), VerificationAttempt.notified_at.is_(None),
            or_(VerificationAttempt.outcome.is_(None), VerificationAttempt.outcome != "refused:other_customer"),
            or_(VerificationAttempt.locked_until.is_not(None), VerificationAttempt.expires_at <= now),
            VerificationAttempt.expires_at > now - NOTICE_HORIZON,
            ~verified_later,
        ]

    def addresses_of(self, customer_id: str) -> list[str]:
        return addresses_on_file(self.systems, customer_id)

    def tell(self, attempt_id: int, now: dt.datetime | None = None) -> bool:
        """Send the notice of this code if it is due and nobody sent it yet; True if it went out now."""
        now = now or self.clock()
        with self.Session() as session:
            claimed = session.execute(update(VerificationAttempt).where(VerificationAttempt.id == attempt_id, *self._unused(now))
                                      .values(notified_at=now).returning(VerificationAttempt.customer_id, VerificationAttempt.created_at,
                                                                         VerificationAttempt.locked_until)).first()
            session.commit()
        if claimed is None:
            return False
        customer_id, asked_at, locked_until = claimed
        try:
            addresses = self.addresses_of(customer_id)
            if not addresses:
                log.warning("no address on file to tell customer %s of an unused code (attempt %s)", customer_id, attempt_id)
                return False
            reason: Literal["locked", "expired"] = "locked" if locked_until is not None else "expired"
            mail.send(mail.unused_code_notice(addresses, asked_at, reason, self.smtp.sender), self.smtp)
        except (httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError, smtplib.SMTPException, OSError) as exc:
            log.warning("the notice of unused code %s could not go out (%s); the next sweep tries again", attempt_id, type(exc).__name__)
            with self.Session() as session:
                session.execute(update(VerificationAttempt).where(VerificationAttempt.id == attempt_id).values(notified_at=None))
                session.commit()
            return False
        log.info("customer %s told of an unused code (%s, attempt %s)", customer_id, reason, attempt_id)
        return True

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Tell the customers of every unused code that is due (up to SWEEP_BATCH); how many notices went out."""
        now = now or self.clock()
        with self.Session() as session:
            due = list(session.scalars(select(VerificationAttempt.id).where(and_(*self._unused(now)))
                                       .order_by(VerificationAttempt.id).limit(SWEEP_BATCH)))
        return sum(self.tell(attempt_id, now) for attempt_id in due)
