"""HTTP layer of the privacy team: every request with its deadline, one request with its tasks and
audit trail, extending a deadline and retrying a failed task.

For privacy officers signed in to the staff console (`staff.routes.PrivacyOfficer`; a change also
needs the session's CSRF token); the audit trail names the officer (`privacy_officer:<e-mail>`).
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi import Request as HttpRequest
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from ..shared.dependencies import ClockDep, SessionDep
from ..shared.responses import PRIVATE
from ..staff.pages import console_response
from ..staff.routes import PrivacyOfficer
from ..staff.rules import Staff
from . import rules as rr
from .due_weeks import open_by_due_week
from .privacy_pages import render_overview, render_request
from .routes import load, tasks_of
from .schemas import DUE_SOON_DAYS, OPEN, ExtendIn, audit_view, request_view
from .tables import AuditEntry, Request, SystemTask, append_audit

OVERVIEW_LIMIT = 500
Listing = Literal["all", "open", "closed"]


def actor(officer: Staff) -> str:
    return f"privacy_officer:{officer.email}"


router = APIRouter(tags=["privacy team"])


def full_view(session: Session, request: Request, today: dt.date) -> dict:
    view = request_view(request, tasks_of(session, [request.id])[request.id], today, full=True)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.request_id == request.id).order_by(AuditEntry.id))
    view["audit"] = [audit_view(e) for e in audit]
    return view


def overview(session: Session, listing: Listing, today: dt.date, catalogue_problems: list[str]) -> dict:
    """The counts over every request (in SQL), and up to OVERVIEW_LIMIT of them: the open ones first,
    the most urgent on top, then the closed ones, newest first. An old overdue request is never cut."""
    is_open = Request.status.in_(OPEN)
    overdue = and_(is_open, Request.due_on < today)
    due_soon = and_(is_open, Request.due_on >= today, Request.due_on <= today + dt.timedelta(days=DUE_SOON_DAYS))
    failed = exists().where(SystemTask.request_id == Request.id, SystemTask.state == rr.TaskState.FAILED.value)
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


@router.post("/api/requests/{request_id}/extend")
def extend_request(request_id: str, body: ExtendIn, officer: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    now = clock()
    request = load(session, request_id, lock=True)
    try:
        moved, entry = rr.extend(request.to_domain(), body.reason, now, actor=actor(officer))
    except rr.ExtensionRefused as exc:
        raise HTTPException(409, str(exc)) from None
    before = request.due_on
    request.due_on, request.extended, request.extension_reason = moved.due_on, True, moved.extension_reason
    request.updated_at = now
    append_audit(session, entry, detail={"from_due_on": before.isoformat(), "to_due_on": moved.due_on.isoformat()})
    session.commit()
    return JSONResponse(full_view(session, request, rr.local_date(now)), headers=PRIVATE)


@router.post("/api/privacy/requests/{request_id}/tasks/{system}/retry")
def retry_task(request_id: str, system: str, officer: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    now = clock()
    request = load(session, request_id, lock=True)
    task = session.scalar(select(SystemTask).where(SystemTask.request_id == request.id, SystemTask.system == system))
    if task is None:
        raise HTTPException(404, f"request {request.id} has no task for '{system[:40]}'")
    try:
        again, entry = rr.retry(task.to_domain(), request.to_domain(), actor(officer), now)
    except rr.RetryRefused as exc:
        raise HTTPException(409, str(exc)) from None
    task.state, task.attempts, task.next_attempt_at = again.state.value, again.attempts, again.next_attempt_at
    task.locked_by = task.locked_until = None
    request.updated_at = now
    append_audit(session, entry, detail={"system": system})
    session.commit()
    return JSONResponse(full_view(session, request, rr.local_date(now)), headers=PRIVATE)


@router.get("/api/privacy/requests")
def privacy_requests(request: HttpRequest, _officer: PrivacyOfficer, session: SessionDep, clock: ClockDep,
                     status: Listing = "all") -> JSONResponse:
    return JSONResponse(overview(session, status, rr.local_date(clock()), request.app.state.catalogue_problems.found), headers=PRIVATE)


@router.get("/api/privacy/requests/{request_id}")
def privacy_request(request_id: str, _officer: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    return JSONResponse(full_view(session, load(session, request_id), rr.local_date(clock())), headers=PRIVATE)


@router.get("/console/privacy/requests", response_class=HTMLResponse, include_in_schema=False)
def privacy_page(request: HttpRequest, officer: PrivacyOfficer, session: SessionDep, clock: ClockDep,
                 status: Listing = Query("all")) -> HTMLResponse:
    found = overview(session, status, rr.local_date(clock()), request.app.state.catalogue_problems.found)
    return console_response(render_overview(found, status, officer))


@router.get("/console/privacy/requests/{request_id}", response_class=HTMLResponse, include_in_schema=False)
def privacy_request_page(request_id: str, officer: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    return console_response(render_request(full_view(session, load(session, request_id), rr.local_date(clock())), officer))
