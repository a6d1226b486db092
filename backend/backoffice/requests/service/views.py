"""What the ledger answers: a request, its system tasks and its audit trail as the API and the console
show them, and the queries that read them."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...vocabulary import RequestType, Status
from ..rules import DUE_SOON_DAYS, OPEN, TaskState, due_within, is_overdue, needs_attention
from ..tables import AuditEntry, Request, SystemTask

CUSTOMER_REQUESTS_SHOWN = 100


class RequestNotFound(LookupError):
    """No request has this id; the message names the id (cut short) for the answer."""


def load(session: Session, request_id: str, lock: bool = False) -> Request:
    query = select(Request).where(Request.id == request_id)
    request = session.scalar(query.with_for_update() if lock else query)
    if request is None:
        raise RequestNotFound(f"no request '{request_id[:60]}'")
    return request


def tasks_of(session: Session, ids: list[str]) -> dict[str, list[SystemTask]]:
    found: dict[str, list[SystemTask]] = {i: [] for i in ids}
    for task in session.scalars(select(SystemTask).where(SystemTask.request_id.in_(ids)).order_by(SystemTask.id)):
        found[task.request_id].append(task)
    return found


def requests_of(session: Session, customer_id: str, today: dt.date) -> dict:
    rows = list(session.scalars(
        select(Request).where(Request.customer_id == customer_id)
        .order_by(Request.received_at.desc()).limit(CUSTOMER_REQUESTS_SHOWN)
    ))
    tasks = tasks_of(session, [r.id for r in rows])
    return {"customer_id": customer_id, "requests": [request_view(r, tasks[r.id], today) for r in rows]}


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _outcome(task: SystemTask) -> dict | None:
    """What a done task achieved, without the personal data itself (the privacy view has the full answer)."""
    result = task.result or {}
    if task.state != TaskState.DONE.value:
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
        "overdue": is_overdue(domain, today),
        f"due_within_{DUE_SOON_DAYS}_days": due_within(domain, today, DUE_SOON_DAYS),
        "needs_attention": needs_attention(domain, [t.to_domain() for t in tasks], today) + [
            f"{category} is held by no connected system: handle it by hand" for category in unheld(request)] + (
            ["an objection awaiting the privacy team's decision: uphold it or refuse it with a reason"]
            if domain.type is RequestType.OBJECTION and domain.status is Status.VERIFIED else []) + [
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
