"""What the ledger's HTTP layer reads and answers: the bodies it accepts, and the views of a request,
its system tasks and its audit trail."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pydantic import Field, field_validator

from ..shared.inputs import Incoming
from . import rules as rr
from .tables import AuditEntry, Request, SystemTask

DUE_SOON_DAYS = 7
OPEN = tuple(sorted(s.value for s in rr.OPEN_STATES))  # as stored, for queries and views


class FileIn(Incoming):
    customer_id: str = Field(min_length=1, max_length=32, description="the verified customer's id (never from what the customer typed)")
    type: rr.RequestType
    categories: list[str] | None = Field(None, max_length=30, description="data categories; none for all that apply")
    details: dict[str, Any] = Field(default_factory=dict, max_length=10,
                                    description="field/value (correction), purposes (consents), note, language")
    client_request_id: str = Field(min_length=1, max_length=200, description="the same id for a retry of the same filing")
    channel: str | None = Field(None, max_length=40)
    conversation_id: str | None = Field(None, max_length=200)


class DraftIn(Incoming):
    type: rr.RequestType
    categories: list[str] | None = Field(None, max_length=30, description="data categories; none for all that apply")
    details: dict[str, Any] = Field(default_factory=dict, max_length=10, description="as for a filing")
    knowledge_version: str | None = Field(None, max_length=50, description="the knowledge version the summary came from")


class ExtendIn(Incoming):
    reason: str = Field(min_length=1, max_length=2000, description="why more time is needed; the customer is told")

    @field_validator("reason")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a reason is required")
        return value.strip()


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _outcome(task: SystemTask) -> dict | None:
    """What a done task achieved, without the personal data itself (the privacy view has the full answer)."""
    result = task.result or {}
    if task.state != rr.TaskState.DONE.value:
        return None
    if task.operation == "export":
        return {"records": {c: len(v) for c, v in (result.get("categories") or {}).items()}}
    if task.operation == "erase":
        return {"erased": result.get("erased", {}), "kept": result.get("kept", [])}
    if task.operation == "restrict":
        return {"restricted": result.get("restricted", [])}
    if task.operation == "preferences":
        return {"preferences": result.get("preferences", {})}
    return {"field": result.get("field")}


def task_view(task: SystemTask, full: bool = False) -> dict:
    view = {
        "system": task.system, "categories": task.categories, "operation": task.operation, "state": task.state,
        "attempts": task.attempts, "next_attempt_at": _iso(task.next_attempt_at), "last_error": task.last_error,
        "completed_at": _iso(task.completed_at), "outcome": _outcome(task),
    }
    if full:
        view.update(id=task.id, idempotency_key=task.idempotency_key, locked_by=task.locked_by,
                    locked_until=_iso(task.locked_until), result=task.result)
    return view


def audit_view(entry: AuditEntry) -> dict:
    return {"at": _iso(entry.at), "actor": entry.actor, "action": entry.action, "from_status": entry.from_status,
            "to_status": entry.to_status, "reason": entry.reason, "detail": entry.detail}


def unheld(request: Request) -> list[str]:
    """The categories this open request covers that no connected system holds (`filing` noted them)."""
    return list((request.details or {}).get("not_in_connected_systems", [])) if request.status in OPEN else []


def request_view(request: Request, tasks: Iterable[SystemTask], today: dt.date, full: bool = False) -> dict:
    tasks = list(tasks)
    domain = request.to_domain()
    details = request.details or {}
    view = {
        "id": request.id, "customer_id": request.customer_id, "type": request.type, "article": domain.type.article,
        "status": request.status, "open": domain.is_open, "received_at": _iso(request.received_at),
        "due_on": _iso(request.due_on), "original_due_on": _iso(request.original_due_on), "extended": request.extended,
        "extension_reason": request.extension_reason, "denial_reason": request.denial_reason,
        "categories": request.categories, "channel": request.channel, "conversation_id": request.conversation_id,
        "knowledge_version": request.knowledge_version,
        "overdue": rr.is_overdue(domain, today),
        f"due_within_{DUE_SOON_DAYS}_days": rr.due_within(domain, today, DUE_SOON_DAYS),
        "needs_attention": rr.needs_attention(domain, [t.to_domain() for t in tasks], today) + [
            f"{category} is held by no connected system: handle it by hand" for category in unheld(request)] + (
            ["an objection awaiting the privacy team's decision: uphold it or refuse it with a reason"]
            if domain.type is rr.RequestType.OBJECTION and domain.status is rr.Status.VERIFIED else []) + [
            f"{system} holds this processing's data but cannot be told to stop it: tell it by hand"
            for system in details.get("stop_by_hand", [])],
        "purpose": details.get("purpose"), "note": details.get("note"),
        "decision": request.decision, "decided_at": _iso(request.decided_at), "outcome_told_at": _iso(request.outcome_told_at),
        "kept_after_erasure": details.get("kept_after_erasure", []),
        "tasks": [task_view(t, full) for t in tasks],
    }
    if full:
        view.update(details=details, client_request_id=request.client_request_id, updated_at=_iso(request.updated_at),
                    closed_at=_iso(request.closed_at))
    return view
