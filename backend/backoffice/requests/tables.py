"""Tables of the privacy request ledger: requests, their system tasks (the outbox), the audit log, consents.

The rules live in `rules` (pure, no database); this module only stores their results.
`to_domain()` turns a row into the domain value the rules work on.

- `Request`: one customer request to use one right, with its deadline.
- `SystemTask`: the part of a request one company system must carry out. The rows *are* the outbox:
  they are written in the same transaction as the request, and the worker delivers them.
- `AuditEntry`: append-only. There is no code path that changes or deletes one, and the database
  refuses it too (triggers created by migration 0002).
- `ConsentState`: the customer's current choice per purpose (newsletter, personalised_offers,
  wifi_counting), changed at once by an objection to direct marketing or a withdrawal.
- `RequestDraft`: a request as the customer was shown it to confirm, kept here from the moment the
  summary is shown until it is filed (or expires); "yes" files exactly this row (`service.drafts`).

Times are stored in UTC and always come back timezone-aware, on SQLite as on PostgreSQL.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..shared.database import Base, UTCDateTime
from ..vocabulary import RequestType, Status
from . import rules

REGIMES = {rules.GDPR.name: rules.GDPR, rules.CCPA.name: rules.CCPA}


class Request(Base):
    """A privacy request. `id` reads like REQ-2026-7K3D9QX2MB; `client_request_id` de-duplicates repeated filings."""

    __tablename__ = "privacy_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(40))
    regime: Mapped[str] = mapped_column(String(10), default=rules.GDPR.name)
    status: Mapped[str] = mapped_column(String(30), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    original_due_on: Mapped[dt.date] = mapped_column(Date)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    denial_reason: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list] = mapped_column(JSON)
    details: Mapped[dict] = mapped_column(JSON)
    channel: Mapped[str | None] = mapped_column(String(40))
    conversation_id: Mapped[str | None] = mapped_column(String(200), index=True)
    client_request_id: Mapped[str] = mapped_column(String(200), unique=True)
    knowledge_version: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # an objection (Art. 21(1)) is weighed by the privacy team: "upheld" or "refused", and when the customer heard it
    decision: Mapped[str | None] = mapped_column(String(20))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome_told_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    tasks: Mapped[list[SystemTask]] = relationship(back_populates="request", order_by="SystemTask.id")
    audit: Mapped[list[AuditEntry]] = relationship(order_by="AuditEntry.id", viewonly=True)

    def to_domain(self) -> rules.RightsRequest:
        return rules.RightsRequest(
            id=self.id, customer_id=self.customer_id, type=RequestType(self.type),
            received_on=rules.local_date(self.received_at), regime=REGIMES[self.regime], status=Status(self.status),
            due_on=self.due_on, original_due_on=self.original_due_on, extended=self.extended,
            extension_reason=self.extension_reason, denial_reason=self.denial_reason,
        )


class SystemTask(Base):
    """One company system's part of a request; also the outbox message the worker delivers."""

    __tablename__ = "system_tasks"
    __table_args__ = (
        UniqueConstraint("request_id", "system", name="uq_system_tasks_request_system"),
        Index("ix_system_tasks_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("privacy_requests.id"), index=True)
    system: Mapped[str] = mapped_column(String(20))
    categories: Mapped[list] = mapped_column(JSON)
    operation: Mapped[str] = mapped_column(String(20))  # export | erase | restrict | rectify | preferences | stop_processing
    payload: Mapped[dict | None] = mapped_column(JSON)  # the JSON body sent to the system (None for export)
    state: Mapped[str] = mapped_column(String(20), default=rules.TaskState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict | None] = mapped_column(JSON)  # the system's answer (an export, what was erased and kept)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    request: Mapped[Request] = relationship(back_populates="tasks")

    def to_domain(self) -> rules.SystemTask:
        return rules.SystemTask(
            request_id=self.request_id, system=self.system, categories=tuple(self.categories),
            idempotency_key=self.idempotency_key, state=rules.TaskState(self.state), attempts=self.attempts,
            next_attempt_at=self.next_attempt_at, last_error=self.last_error,
        )


class AuditEntry(Base):
    """One line of the append-only audit log. Only ever inserted (see `append_audit`)."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("privacy_requests.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(300))  # a process, or a person by their login ("privacy_officer:<e-mail>")
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)


class ConsentState(Base):
    """The customer's current choice for one purpose, and what changed it last."""

    __tablename__ = "consent_states"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(100))


class RequestDraft(Base):
    """A request waiting for the customer's "yes": what the summary showed, for whom, in which conversation."""

    __tablename__ = "request_drafts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    categories: Mapped[list | None] = mapped_column(JSON)  # None: all that apply
    details: Mapped[dict] = mapped_column(JSON)
    knowledge_version: Mapped[str | None] = mapped_column(String(50))  # the version the summary came from
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    request_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("privacy_requests.id"))  # once filed
    filed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


def append_audit(session: Any, entry: rules.AuditEntry, detail: dict | None = None) -> AuditEntry:
    """Add the domain's audit entry to the session (committed with the change it records)."""
    row = AuditEntry(
        request_id=entry.request_id, at=entry.at, actor=entry.actor, action=entry.action,
        from_status=entry.from_status.value if entry.from_status is not None else None,
        to_status=entry.to_status.value if entry.to_status is not None else None,
        reason=entry.reason, detail=detail,
    )
    session.add(row)
    return row


def _refuse_audit_change(*_args: Any) -> None:
    raise RuntimeError("audit entries are append-only: they are never changed or deleted")


event.listen(AuditEntry, "before_update", _refuse_audit_change)
event.listen(AuditEntry, "before_delete", _refuse_audit_change)
