"""The privacy team's work on the ledger: every request with its deadline, one request with its tasks
and audit trail, extending a deadline and retrying a failed task.

For privacy officers signed in to the staff console (the routes check it); the audit trail names the
officer (`privacy_officer:<e-mail>`).
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from ...staff.rules import Staff
from ..rules import DUE_SOON_DAYS, OPEN, TaskState, extend, open_by_due_week, retry
from ..tables import AuditEntry, Request, SystemTask, append_audit
from .views import audit_view, load, request_view, tasks_of

OVERVIEW_LIMIT = 500
Listing = Literal["all", "open", "closed"]


class TaskNotFound(LookupError):
    """The request has no task for that system; the message says so."""


def actor(officer: Staff) -> str:
    return f"privacy_officer:{officer.email}"


def full_view(session: Session, request: Request, today: dt.date) -> dict:
    view = request_view(request, tasks_of(session, [request.id])[request.id], today, full=True)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.request_id == request.id).order_by(AuditEntry.id))
    view["audit"] = [audit_view(e) for e in audit]
    return view


def deadline_conditions(today: dt.date) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]]:
    """In SQL, as `rules.is_overdue` and `rules.due_within(..., DUE_SOON_DAYS)` say: an open request, an
    overdue one, and one due within DUE_SOON_DAYS (today included); the overview's counts and /metrics'."""
    is_open = Request.status.in_(OPEN)
    overdue = and_(is_open, Request.due_on < today)
    due_soon = and_(is_open, Request.due_on >= today, Request.due_on <= today + dt.timedelta(days=DUE_SOON_DAYS))
    return is_open, overdue, due_soon


def overview(session: Session, listing: Listing, today: dt.date, catalogue_problems: list[str]) -> dict:
    """The counts over every request (in SQL), and up to OVERVIEW_LIMIT of them: the open ones first,
    the most urgent on top, then the closed ones, newest first. An old overdue request is never cut."""
    is_open, overdue, due_soon = deadline_conditions(today)
    failed = exists().where(SystemTask.request_id == Request.id, SystemTask.state == TaskState.FAILED.value)
    by_hand = Request.details["not_in_connected_systems"].as_string().is_not(None)
    counted = session.execute(select(
        func.count().filter(is_open), func.count().filter(overdue), func.count().filter(due_soon),
        func.count().filter(or_(overdue, and_(is_open, or_(failed, by_hand)))),
    ).select_from(Request)).one()

    query = select(Request)
    if listing == "open":
        query = query.where(is_open)
    elif listing == "closed":
        query = query.where(~is_open)
    urgent_first = case((is_open, Request.due_on), else_=None).asc()
    rows = list(session.scalars(query.order_by(is_open.desc(), urgent_first, Request.received_at.desc()).limit(OVERVIEW_LIMIT)))
    tasks = tasks_of(session, [r.id for r in rows])
    views = [request_view(r, tasks[r.id], today) for r in rows]
    return {
        "today": today.isoformat(),
        "counts": {"open": counted[0], "overdue": counted[1], f"due_within_{DUE_SOON_DAYS}_days": counted[2],
                   "needs_attention": counted[3]},
        "requests": views,
        "open_by_due_week": open_by_due_week(due_counts(session), today),
        "catalogue_problems": catalogue_problems,
    }


def due_counts(session: Session) -> list[tuple[str, dt.date, int]]:
    """How many open requests there are of each status on each due date."""
    rows = session.execute(select(Request.status, Request.due_on, func.count()).where(Request.status.in_(OPEN))
                           .group_by(Request.status, Request.due_on))
    return [(status, due_on, count) for status, due_on, count in rows]


def extend_deadline(session: Session, request_id: str, reason: str, officer_actor: str, now: dt.datetime) -> Request:
    """Extend the request's deadline once, with the reason the customer is told; committed.
    `RequestNotFound`, or `rules.ExtensionRefused` when the law does not allow it."""
    request = load(session, request_id, lock=True)
    moved, entry = extend(request.to_domain(), reason, now, actor=officer_actor)
    before = request.due_on
    request.due_on, request.extended, request.extension_reason = moved.due_on, True, moved.extension_reason
    request.updated_at = now
    append_audit(session, entry, detail={"from_due_on": before.isoformat(), "to_due_on": moved.due_on.isoformat()})
    session.commit()
    return request


def retry_failed_task(session: Session, request_id: str, system: str, officer_actor: str, now: dt.datetime) -> Request:
    """Give a task that failed for good a new round of attempts, starting now; committed.
    `RequestNotFound`, `TaskNotFound`, or `rules.RetryRefused` unless the task failed and the request is open."""
    request = load(session, request_id, lock=True)
    task = session.scalar(select(SystemTask).where(SystemTask.request_id == request.id, SystemTask.system == system))
    if task is None:
        raise TaskNotFound(f"request {request.id} has no task for '{system[:40]}'")
    again, entry = retry(task.to_domain(), request.to_domain(), officer_actor, now)
    task.state, task.attempts, task.next_attempt_at = again.state.value, again.attempts, again.next_attempt_at
    task.locked_by = task.locked_until = None
    request.updated_at = now
    append_audit(session, entry, detail={"system": system})
    session.commit()
    return request
