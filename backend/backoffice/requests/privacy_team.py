"""HTTP layer of the privacy team: every request with its deadline, one request with its tasks and
audit trail, extending a deadline and retrying a failed task.

HTTP Basic with PRIVACY_TEAM_USER / PRIVACY_TEAM_PASSWORD (an empty password keeps it all closed);
without a valid login only 401, and after too many wrong ones 429 with Retry-After (`login_throttle`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Request as HttpRequest
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from ..shared.dependencies import ClockDep, SessionDep, SettingsDep
from ..shared.responses import PAGE, PRIVATE
from . import rules as rr
from .login_throttle import LoginThrottle
from .privacy_pages import render_overview, render_request
from .routes import load, tasks_of
from .schemas import DUE_SOON_DAYS, OPEN, ExtendIn, audit_view, request_view
from .tables import AuditEntry, Request, SystemTask, append_audit

OVERVIEW_LIMIT = 500
Listing = Literal["all", "open", "closed"]

basic = HTTPBasic(auto_error=False, realm="privacy team")


def throttle(request: HttpRequest) -> LoginThrottle:
    return request.app.state.privacy_login_throttle


def _digest(text: str) -> bytes:
    """Equal-length values for compare_digest, so not even the length of the secret shows in the timing."""
    return hashlib.sha256(text.encode()).digest()


def require_privacy_team(request: HttpRequest, settings: SettingsDep, logins: Annotated[LoginThrottle, Depends(throttle)],
                         credentials: HTTPBasicCredentials | None = Depends(basic)) -> str:
    """The privacy team's login, compared in constant time, throttled per address and user name."""
    refused = HTTPException(401, "privacy team login required", headers={"WWW-Authenticate": 'Basic realm="privacy team", charset="UTF-8"'})
    if credentials is None or not settings.privacy_team_password:
        raise refused
    address = request.client.host if request.client else "unknown"
    wait = logins.retry_after(address, credentials.username)
    if wait is not None:
        raise HTTPException(429, f"too many wrong logins: try again in {wait} seconds", headers={"Retry-After": str(wait)})
    user_ok = hmac.compare_digest(_digest(credentials.username), _digest(settings.privacy_team_user))
    password_ok = hmac.compare_digest(_digest(credentials.password), _digest(settings.privacy_team_password))
    if not (user_ok and password_ok):
        logins.failed(address, credentials.username)
        raise refused
    logins.succeeded(address, credentials.username)
    return credentials.username


PrivacyOfficer = Annotated[str, Depends(require_privacy_team)]
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
        "catalogue_problems": catalogue_problems,
    }


@router.post("/api/requests/{request_id}/extend")
def extend_request(request_id: str, body: ExtendIn, user: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    now = clock()
    request = load(session, request_id, lock=True)
    try:
        moved, entry = rr.extend(request.to_domain(), body.reason, now, actor=f"privacy:{user}")
    except rr.ExtensionRefused as exc:
        raise HTTPException(409, str(exc)) from None
    before = request.due_on
    request.due_on, request.extended, request.extension_reason = moved.due_on, True, moved.extension_reason
    request.updated_at = now
    append_audit(session, entry, detail={"from_due_on": before.isoformat(), "to_due_on": moved.due_on.isoformat()})
    session.commit()
    return JSONResponse(full_view(session, request, rr.local_date(now)), headers=PRIVATE)


@router.post("/api/privacy/requests/{request_id}/tasks/{system}/retry")
def retry_task(request_id: str, system: str, user: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    now = clock()
    request = load(session, request_id, lock=True)
    task = session.scalar(select(SystemTask).where(SystemTask.request_id == request.id, SystemTask.system == system))
    if task is None:
        raise HTTPException(404, f"request {request.id} has no task for '{system[:40]}'")
    try:
        again, entry = rr.retry(task.to_domain(), request.to_domain(), f"privacy:{user}", now)
    except rr.RetryRefused as exc:
        raise HTTPException(409, str(exc)) from None
    task.state, task.attempts, task.next_attempt_at = again.state.value, again.attempts, again.next_attempt_at
    task.locked_by = task.locked_until = None
    request.updated_at = now
    append_audit(session, entry, detail={"system": system})
    session.commit()
    return JSONResponse(full_view(session, request, rr.local_date(now)), headers=PRIVATE)


@router.get("/api/privacy/requests")
def privacy_requests(request: HttpRequest, _user: PrivacyOfficer, session: SessionDep, clock: ClockDep,
                     status: Listing = "all") -> JSONResponse:
    return JSONResponse(overview(session, status, rr.local_date(clock()), request.app.state.catalogue_problems.found), headers=PRIVATE)


@router.get("/api/privacy/requests/{request_id}")
def privacy_request(request_id: str, _user: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    return JSONResponse(full_view(session, load(session, request_id), rr.local_date(clock())), headers=PRIVATE)


@router.get("/privacy/requests", response_class=HTMLResponse, include_in_schema=False)
def privacy_page(request: HttpRequest, _user: PrivacyOfficer, session: SessionDep, clock: ClockDep,
                 status: Listing = Query("all")) -> HTMLResponse:
    found = overview(session, status, rr.local_date(clock()), request.app.state.catalogue_problems.found)
    return HTMLResponse(render_overview(found, status), headers=PAGE)


@router.get("/privacy/requests/{request_id}", response_class=HTMLResponse, include_in_schema=False)
def privacy_request_page(request_id: str, _user: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    return HTMLResponse(render_request(full_view(session, load(session, request_id), rr.local_date(clock()))), headers=PAGE)
