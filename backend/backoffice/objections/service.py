"""The privacy team decides an objection (Art. 21(1)), and the customer is told the outcome by e-mail.

    decide(session, request_id, upheld, reason, actor, now, kb, catalogue)   upheld: stop tasks; refused: denied
    OutcomeNotices.tell(request_id) / .sweep()                               the decision e-mail, once per request

A decision and its stop tasks (the outbox the worker delivers) are committed in one transaction. The
e-mail goes out right after the decision, in the background of the answer; one that could not go out
(the CRM or the mail server down) is sent by the worker's sweep. Once per request: the notice is
claimed by setting `outcome_told_at` in one conditional UPDATE before the mail goes out, and released
if it fails.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Callable

import httpx2
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..catalogue import Catalogue
from ..identity.service import SmtpConfig, addresses_on_file, plain_message, send
from ..knowledge.rules import KnowledgeBase, KnowledgeVersion, objectable_purposes
from ..requests.rules import AuditEntry
from ..requests.tables import Request, SystemTask, append_audit
from ..sentences import texts
from ..shared.company_systems import CompanySystems
from ..vocabulary import RequestType, Status
from . import rules

log = logging.getLogger(__name__)
SWEEP_BATCH = 50


def _knowledge(kb: KnowledgeBase, request: Request, now: dt.datetime) -> KnowledgeVersion:
    """The register version the request was filed under (its purpose's categories then), else today's."""
    return (kb.get(request.knowledge_version) if request.knowledge_version else None) or kb.current_at(now)


def decide(session: Session, request: Request, upheld: bool, reason: str | None, actor: str, now: dt.datetime,
           kb: KnowledgeBase, catalogue: Catalogue) -> Request:
    """Record the privacy team's decision (the request row locked by the caller); committed.
    `rules.DecisionRefused` or `requests.rules.InvalidTransition` (a refusal without a reason) when it cannot be made."""
    purpose = str((request.details or {}).get("purpose") or "")
    plan = None
    if upheld:
        uses = objectable_purposes(_knowledge(kb, request, now).purposes).get(purpose, ())
        plan = rules.stop_plan(request.id, uses, catalogue.route(uses), catalogue.able_to(rules.STOP))
    moved, entry = rules.decide(request.to_domain(), upheld, reason, actor, now, plan)
    request.status, request.denial_reason = moved.status.value, moved.denial_reason
    request.decision, request.decided_at, request.updated_at = rules.UPHELD if upheld else rules.REFUSED, now, now
    if not moved.is_open:
        request.closed_at = now
    tasks = [SystemTask(request_id=request.id, system=t.system, categories=list(t.categories), operation=rules.STOP,
                        payload={"purpose": purpose, "categories": list(t.categories)}, state=t.state.value, attempts=0,
                        next_attempt_at=now, idempotency_key=t.idempotency_key, created_at=now)
             for t in (plan.tasks if plan else ())]
    session.add_all(tasks)
    if plan and plan.by_hand:
        request.details = {**(request.details or {}), "stop_by_hand": list(plan.by_hand)}
    append_audit(session, entry, detail={"decision": request.decision, "purpose": purpose,
                                         "tasks": {t.system: t.categories for t in tasks},
                                         "by_hand": list(plan.by_hand) if plan else []})
    session.commit()
    return request


class OutcomeNotices:
    """Tells a customer the privacy team's decision on their objection, once, in their language."""

    def __init__(self, Session: sessionmaker, systems: CompanySystems, smtp: SmtpConfig, kb: KnowledgeBase,
                 clock: Callable[[], dt.datetime]) -> None:
        self.Session, self.systems, self.smtp, self.kb, self.clock = Session, systems, smtp, kb, clock

    @staticmethod
    def _due() -> list:
        return [Request.type == RequestType.OBJECTION.value, Request.decision.is_not(None), Request.outcome_told_at.is_(None)]

    def tell(self, request_id: str, now: dt.datetime | None = None) -> bool:
        """Send the decision e-mail if it is due and nobody sent it yet; True if it went out now."""
        now = now or self.clock()
        with self.Session() as session:
            claimed = session.execute(update(Request).where(Request.id == request_id, *self._due()).values(outcome_told_at=now)
                                      .returning(Request.id)).first()
            session.commit()
            if claimed is None:
                return False
            request = session.get(Request, request_id)
            assert request is not None
            session.expunge(request)
            session.commit()  # nothing stays open on the database while the CRM and the mail server are asked
            try:
                self._send(request, now)
            except (httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError, smtplib.SMTPException, OSError) as exc:
                log.warning("the decision on %s could not be mailed (%s); the next sweep tries again", request_id, type(exc).__name__)
                session.execute(update(Request).where(Request.id == request_id).values(outcome_told_at=None))
                session.commit()
                return False
            append_audit(session, AuditEntry(
                request_id=request.id, actor="system:notices", action="customer_told", from_status=Status(request.status),
                to_status=Status(request.status), reason=f"the customer was e-mailed the decision ({request.decision})", at=now))
            session.commit()
        log.info("customer told of the decision on %s", request_id)
        return True

    def _send(self, request: Request, now: dt.datetime) -> None:
        addresses = addresses_on_file(self.systems, request.customer_id)
        if not addresses:
            raise ValueError(f"no e-mail address on file for customer {request.customer_id}")
        details = request.details or {}
        language = "en" if details.get("language") == "en" else "nl"
        knowledge = _knowledge(self.kb, request, now)
        purpose_id = str(details.get("purpose") or "")
        purpose = next((getattr(p.name, language) for p in knowledge.purposes if p.id == purpose_id), purpose_id)
        body = rules.outcome(request.decision or "", language, purpose, request.denial_reason, request.id,
                             knowledge.company.authority.model_dump(), texts(self.smtp.company))
        subject = texts(self.smtp.company)(language, "back_office.objection_email.subject", request=request.id)
        send(plain_message(addresses, subject, body, self.smtp.sender), self.smtp)

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Tell every customer whose objection was decided but who was not told yet (up to SWEEP_BATCH)."""
        now = now or self.clock()
        with self.Session() as session:
            due = list(session.scalars(select(Request.id).where(*self._due()).order_by(Request.decided_at).limit(SWEEP_BATCH)))
        return sum(self.tell(request_id, now) for request_id in due)
