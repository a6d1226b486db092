"""HTTP layer of the privacy request ledger.

For the assistant (service token, `Authorization: Bearer <BACKOFFICE_SERVICE_TOKEN>`):
- `POST /api/requests` files a request (201; 200 with `created: false` for a repeated filing),
- `GET /api/requests/{id}` and `GET /api/customers/{customer_id}/requests`: "where is my request";
- `GET /api/request-categories`: the data categories a request can cover, each with the systems holding it.

For the assistant in a conversation (service token and the chat message's presence, presence.py: the
conversation must be verified where the message comes from, else `403 not_verified`):
- `POST /api/conversations/{id}/drafts` `{type, categories?, details, knowledge_version}`: the request as
  the summary shows it, checked like a filing, for the conversation's customer: `201 {draft_id, ...}`;
- `POST /api/conversations/{id}/drafts/{draft_id}/file`: the customer said "yes": file exactly that
  draft, once (201; 200 with `created: false` again); `404 no_draft` for an unknown or another
  conversation's draft, `409 other_customer`, `410 draft_expired` (drafts.py);
- `GET /api/conversations/{id}/requests`: "where is my request", for the conversation's customer.

For the privacy team (HTTP Basic, PRIVACY_TEAM_USER / PRIVACY_TEAM_PASSWORD; an empty password keeps
everything closed; without a valid login: 401 and nothing else; after too many wrong ones: 429 with
Retry-After, see login_throttle.py):
- `GET /privacy/requests` (HTML) and `GET /api/privacy/requests` (JSON): every request with its
  status and due date, overdue and due-within-7-days highlighted;
- `GET /privacy/requests/{id}` (HTML) and `GET /api/privacy/requests/{id}` (JSON): its tasks and audit trail;
- `POST /api/requests/{id}/extend` `{reason}`: extend the deadline (Art. 12(3)), audited;
- `POST /api/privacy/requests/{id}/tasks/{system}/retry`: give a failed task a new round of attempts.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from contextlib import asynccontextmanager
from html import escape
from typing import Any, AsyncIterator, Callable, Iterable, Literal, Optional

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import rules as rr
from ..shared.service_auth import service_token_required
from ..settings import Settings
from .filing import CATEGORY_SYSTEMS, FilingConflict, FilingError, file_request
from .drafts import DraftRefused, draft_view, file_draft, make_draft
from ..knowledge.rules import KnowledgeBase
from .tables import AuditEntry, Request as LedgerRequest, SystemTask, append_audit, open_ledger
from .login_throttle import LoginThrottle
from ..identity.presence import Presence, not_verified, presence, verified_binding

RequestTypeName = Literal[tuple(t.value for t in rr.RequestType)]  # type: ignore[valid-type]
DUE_SOON_DAYS = 7
OVERVIEW_LIMIT = 500
PRIVATE = {"Cache-Control": "no-store"}
HTML_HEADERS = {
    **PRIVATE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=32, description="the verified customer's id (never from what the customer typed)")
    type: RequestTypeName  # type: ignore[valid-type]
    categories: Optional[list[str]] = Field(None, max_length=30, description="data categories; none for all that apply")
    details: dict[str, Any] = Field(default_factory=dict, description="field/value (correction), purposes (consents), note, language")
    client_request_id: str = Field(min_length=1, max_length=200, description="the same id for a retry of the same filing")
    channel: Optional[str] = Field(None, max_length=40)
    conversation_id: Optional[str] = Field(None, max_length=200)


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: RequestTypeName  # type: ignore[valid-type]
    categories: Optional[list[str]] = Field(None, max_length=30, description="data categories; none for all that apply")
    details: dict[str, Any] = Field(default_factory=dict, max_length=10, description="as for a filing")
    knowledge_version: Optional[str] = Field(None, max_length=50, description="the knowledge version the summary came from")


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="why more time is needed; the customer is told")

    @field_validator("reason")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a reason is required")
        return value.strip()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _digest(text: str) -> bytes:
    """Equal-length values for compare_digest, so not even the length of the secret shows in the timing."""
    return hashlib.sha256(text.encode()).digest()


# --- views ---------------------------------------------------------------------------------------


def _iso(value: Optional[dt.date]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def _outcome(task: SystemTask) -> Optional[dict]:
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


def request_view(request: LedgerRequest, tasks: Iterable[SystemTask], today: dt.date, full: bool = False) -> dict:
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
        "needs_attention": rr.needs_attention(domain, [t.to_domain() for t in tasks], today),
        "kept_after_erasure": details.get("kept_after_erasure", []),
        "tasks": [task_view(t, full) for t in tasks],
    }
    if full:
        view.update(details=details, client_request_id=request.client_request_id, updated_at=_iso(request.updated_at),
                    closed_at=_iso(request.closed_at))
    return view


# --- the router ----------------------------------------------------------------------------------


def ledger_router(settings: Settings, kb: KnowledgeBase, clock: Callable[[], dt.datetime] = utcnow) -> APIRouter:
    """The ledger's routes. The database must be migrated already (create_app does it at start)."""
    engine, Session = open_ledger(settings.database_url, run_migrations=False)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        engine.dispose()

    router = APIRouter(lifespan=lifespan)
    basic = HTTPBasic(auto_error=False, realm="privacy team")
    throttle = LoginThrottle(lambda: clock().timestamp())

    require_service = service_token_required(settings)

    def require_privacy_team(request: Request, credentials: Optional[HTTPBasicCredentials] = Depends(basic)) -> str:
        """The privacy team's login (HTTP Basic), compared in constant time, throttled per address and
        user name (login_throttle.py): 429 with Retry-After once too many were wrong."""
        refused = HTTPException(401, "privacy team login required", headers={"WWW-Authenticate": 'Basic realm="privacy team", charset="UTF-8"'})
        if credentials is None or not settings.privacy_team_password:
            raise refused
        address = request.client.host if request.client else "unknown"
        wait = throttle.retry_after(address, credentials.username)
        if wait is not None:
            raise HTTPException(429, f"too many wrong logins: try again in {wait} seconds", headers={"Retry-After": str(wait)})
        user_ok = hmac.compare_digest(_digest(credentials.username), _digest(settings.privacy_team_user))
        password_ok = hmac.compare_digest(_digest(credentials.password), _digest(settings.privacy_team_password))
        if not (user_ok and password_ok):
            throttle.failed(address, credentials.username)
            raise refused
        throttle.succeeded(address, credentials.username)
        return credentials.username

    def today() -> dt.date:
        return rr.local_date(clock())

    def load(session: Session, request_id: str, lock: bool = False) -> LedgerRequest:
        query = select(LedgerRequest).where(LedgerRequest.id == request_id)
        request = session.scalar(query.with_for_update() if lock else query)
        if request is None:
            raise HTTPException(404, f"no request '{request_id[:60]}'")
        return request

    def tasks_of(session: Session, ids: list[str]) -> dict[str, list[SystemTask]]:
        found: dict[str, list[SystemTask]] = {i: [] for i in ids}
        for task in session.scalars(select(SystemTask).where(SystemTask.request_id.in_(ids)).order_by(SystemTask.id)):
            found[task.request_id].append(task)
        return found

    def full_view(session: Session, request: LedgerRequest) -> dict:
        view = request_view(request, tasks_of(session, [request.id])[request.id], today(), full=True)
        audit = session.scalars(select(AuditEntry).where(AuditEntry.request_id == request.id).order_by(AuditEntry.id))
        view["audit"] = [audit_view(e) for e in audit]
        return view

    def overview(status: str) -> dict:
        with Session() as session:
            query = select(LedgerRequest)
            open_states = [s.value for s in rr.OPEN_STATES]
            if status == "open":
                query = query.where(LedgerRequest.status.in_(open_states))
            elif status == "closed":
                query = query.where(LedgerRequest.status.not_in(open_states))
            rows = list(session.scalars(query.order_by(LedgerRequest.received_at.desc()).limit(OVERVIEW_LIMIT)))
            tasks = tasks_of(session, [r.id for r in rows])
            views = [request_view(r, tasks[r.id], today()) for r in rows]
        # Open requests first, the most urgent on top; then the closed ones, newest first.
        views.sort(key=lambda v: (not v["open"], v["due_on"] if v["open"] else "", ))
        return {
            "today": today().isoformat(),
            "counts": {
                "open": sum(v["open"] for v in views), "overdue": sum(v["overdue"] for v in views),
                f"due_within_{DUE_SOON_DAYS}_days": sum(v[f"due_within_{DUE_SOON_DAYS}_days"] for v in views),
                "needs_attention": sum(bool(v["needs_attention"]) for v in views),
            },
            "requests": views,
        }

    # --- the assistant's calls ---

    @router.post("/api/requests", dependencies=[Depends(require_service)], tags=["requests"], status_code=201)
    def post_request(body: FileIn) -> JSONResponse:
        now = clock()
        with Session() as session:
            try:
                filed = file_request(
                    session, body.customer_id, body.type, body.categories, body.details, body.client_request_id, now,
                    channel=body.channel, conversation_id=body.conversation_id, knowledge=kb.current_at(now),
                )
            except FilingConflict as exc:
                raise HTTPException(409, str(exc)) from None
            except FilingError as exc:
                raise HTTPException(422, str(exc)) from None
            view = request_view(filed.request, filed.tasks, today())
        return JSONResponse({**view, "created": filed.created}, status_code=201 if filed.created else 200, headers=PRIVATE)

    @router.get("/api/requests/{request_id}", dependencies=[Depends(require_service)], tags=["requests"])
    def get_request(request_id: str) -> JSONResponse:
        with Session() as session:
            request = load(session, request_id)
            view = request_view(request, tasks_of(session, [request.id])[request.id], today())
        return JSONResponse(view, headers=PRIVATE)

    @router.get("/api/request-categories", dependencies=[Depends(require_service)], tags=["requests"])
    def request_categories() -> JSONResponse:
        """The categories a request can cover (a connected system holds them), so the assistant names only those."""
        return JSONResponse({"categories": {c: list(systems) for c, systems in CATEGORY_SYSTEMS.items()}})

    def requests_of(session: Session, customer_id: str) -> dict:
        rows = list(session.scalars(
            select(LedgerRequest).where(LedgerRequest.customer_id == customer_id)
            .order_by(LedgerRequest.received_at.desc()).limit(100)
        ))
        tasks = tasks_of(session, [r.id for r in rows])
        return {"customer_id": customer_id, "requests": [request_view(r, tasks[r.id], today()) for r in rows]}

    @router.get("/api/customers/{customer_id}/requests", dependencies=[Depends(require_service)], tags=["requests"])
    def customer_requests(customer_id: str) -> JSONResponse:
        with Session() as session:
            listing = requests_of(session, customer_id)
        return JSONResponse(listing, headers=PRIVATE)

    # --- the assistant's calls in a conversation, where it is verified ---

    def refused(exc: DraftRefused) -> JSONResponse:
        return JSONResponse({"reason": exc.reason, "detail": exc.detail}, status_code=exc.status, headers=PRIVATE)

    @router.get("/api/conversations/{conversation_id}/requests", dependencies=[Depends(require_service)], tags=["requests"])
    def conversation_requests(conversation_id: str, seen: Presence = Depends(presence)) -> JSONResponse:
        with Session() as session:
            binding = verified_binding(session, conversation_id, seen, clock())
            if binding is None:
                return not_verified()
            listing = requests_of(session, binding.customer_id)
        return JSONResponse(listing, headers=PRIVATE)

    @router.post("/api/conversations/{conversation_id}/drafts", dependencies=[Depends(require_service)], tags=["requests"],
                 status_code=201)
    def post_draft(conversation_id: str, body: DraftIn, seen: Presence = Depends(presence)) -> JSONResponse:
        now = clock()
        if body.knowledge_version is not None and kb.get(body.knowledge_version) is None:
            raise HTTPException(422, f"unknown knowledge version '{body.knowledge_version}'")
        with Session() as session:
            binding = verified_binding(session, conversation_id, seen, now)
            if binding is None:
                return not_verified()
            try:
                draft = make_draft(session, conversation_id, binding.customer_id, body.type, body.categories, body.details,
                                   body.knowledge_version, now)
            except DraftRefused as exc:
                return refused(exc)
            except FilingError as exc:
                raise HTTPException(422, str(exc)) from None
        return JSONResponse(draft_view(draft), status_code=201, headers=PRIVATE)

    @router.post("/api/conversations/{conversation_id}/drafts/{draft_id}/file", dependencies=[Depends(require_service)],
                 tags=["requests"], status_code=201)
    def file_confirmed_draft(conversation_id: str, draft_id: str, seen: Presence = Depends(presence)) -> JSONResponse:
        now = clock()
        with Session() as session:
            binding = verified_binding(session, conversation_id, seen, now)
            if binding is None:
                return not_verified()
            try:
                filed, draft = file_draft(session, draft_id, conversation_id, binding.customer_id, now, kb,
                                          channel=f"assistant:{seen.channel}")
            except DraftRefused as exc:
                return refused(exc)
            except FilingError as exc:
                raise HTTPException(422, str(exc)) from None
            view = request_view(filed.request, filed.tasks, today())
        return JSONResponse({**view, "created": filed.created, "draft": draft_view(draft)},
                            status_code=201 if filed.created else 200, headers=PRIVATE)

    # --- the privacy team's calls ---

    @router.post("/api/requests/{request_id}/extend", tags=["privacy team"])
    def extend_request(request_id: str, body: ExtendIn, user: str = Depends(require_privacy_team)) -> JSONResponse:
        now = clock()
        with Session() as session:
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
            view = full_view(session, request)
        return JSONResponse(view, headers=PRIVATE)

    @router.post("/api/privacy/requests/{request_id}/tasks/{system}/retry", tags=["privacy team"])
    def retry_task(request_id: str, system: str, user: str = Depends(require_privacy_team)) -> JSONResponse:
        now = clock()
        with Session() as session:
            request = load(session, request_id, lock=True)
            task = session.scalar(select(SystemTask).where(SystemTask.request_id == request.id, SystemTask.system == system))
            if task is None:
                raise HTTPException(404, f"request {request.id} has no task for '{system[:40]}'")
            if task.state != rr.TaskState.FAILED.value or request.status not in {s.value for s in rr.OPEN_STATES}:
                raise HTTPException(409, f"only a failed task of an open request can be retried; this one is {task.state}")
            task.state, task.attempts, task.next_attempt_at = rr.TaskState.PENDING.value, 0, now
            task.locked_by = task.locked_until = None
            request.updated_at = now
            status = rr.Status(request.status)
            append_audit(session, rr.AuditEntry(
                request_id=request.id, actor=f"privacy:{user}", action="task_retry", from_status=status, to_status=status,
                reason=f"{system} gets a new round of attempts (last error: {task.last_error or 'none'})", at=now,
            ), detail={"system": system})
            session.commit()
            view = full_view(session, request)
        return JSONResponse(view, headers=PRIVATE)

    @router.get("/api/privacy/requests", tags=["privacy team"])
    def privacy_requests(status: Literal["all", "open", "closed"] = "all", _user: str = Depends(require_privacy_team)) -> JSONResponse:
        return JSONResponse(overview(status), headers=PRIVATE)

    @router.get("/api/privacy/requests/{request_id}", tags=["privacy team"])
    def privacy_request(request_id: str, _user: str = Depends(require_privacy_team)) -> JSONResponse:
        with Session() as session:
            view = full_view(session, load(session, request_id))
        return JSONResponse(view, headers=PRIVATE)

    @router.get("/privacy/requests", response_class=HTMLResponse, include_in_schema=False)
    def privacy_page(status: Literal["all", "open", "closed"] = Query("all"), _user: str = Depends(require_privacy_team)) -> HTMLResponse:
        return HTMLResponse(render_overview(overview(status), status), headers=HTML_HEADERS)

    @router.get("/privacy/requests/{request_id}", response_class=HTMLResponse, include_in_schema=False)
    def privacy_request_page(request_id: str, _user: str = Depends(require_privacy_team)) -> HTMLResponse:
        with Session() as session:
            view = full_view(session, load(session, request_id))
        return HTMLResponse(render_request(view), headers=HTML_HEADERS)

    return router


# --- HTML ----------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
.overdue { background: #fde2e1; }
.due-soon { background: #fff4d6; }
.flag { font-weight: 600; }
.overdue .flag, p.overdue { color: #a40e0e; }
.due-soon .flag, p.due-soon { color: #8a5a00; }
.attention { color: #a40e0e; }
nav a { margin-right: 1rem; }
code { font-size: .9em; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _row_class(view: dict) -> tuple[str, str]:
    if view["overdue"]:
        return "overdue", "overdue"
    if view[f"due_within_{DUE_SOON_DAYS}_days"]:
        return "due-soon", f"due within {DUE_SOON_DAYS} days"
    return "", ""


def render_overview(data: dict, status: str) -> str:
    counts = data["counts"]
    rows = []
    for v in data["requests"]:
        css, flag = _row_class(v)
        tasks = ", ".join(f"{t['system']}: {t['state']}" for t in v["tasks"])
        attention = "<br>".join(escape(r) for r in v["needs_attention"])
        rows.append(
            f'<tr class="{css}" data-request="{escape(v["id"])}">'
            f'<td><a href="/privacy/requests/{escape(v["id"])}">{escape(v["id"])}</a></td>'
            f'<td>{escape(v["customer_id"])}</td><td>{escape(v["type"])} <small>({escape(v["article"])})</small></td>'
            f'<td>{escape(v["status"])}</td><td>{escape(v["received_at"][:10])}</td>'
            f'<td>{escape(v["due_on"])}{" (extended)" if v["extended"] else ""}</td>'
            f'<td class="flag">{escape(flag)}</td><td>{escape(tasks)}</td><td class="attention">{attention}</td></tr>'
        )
    nav = " ".join(
        f'<a href="/privacy/requests?status={s}">{s}</a>' if s != status else f"<strong>{s}</strong>"
        for s in ("all", "open", "closed")
    )
    body = (
        "<h1>Privacy requests</h1>"
        f"<p>Today {escape(data['today'])}: {counts['open']} open, <strong>{counts['overdue']} overdue</strong>, "
        f"{counts[f'due_within_{DUE_SOON_DAYS}_days']} due within {DUE_SOON_DAYS} days, "
        f"{counts['needs_attention']} need attention.</p><nav>{nav}</nav>"
        "<table><thead><tr><th>request</th><th>customer</th><th>right</th><th>status</th><th>received</th>"
        "<th>due</th><th>deadline</th><th>systems</th><th>needs attention</th></tr></thead>"
        f"<tbody>{''.join(rows) or '<tr><td colspan=9>No requests.</td></tr>'}</tbody></table>"
    )
    return _page("Privacy requests", body)


def render_request(v: dict) -> str:
    css, flag = _row_class(v)
    facts = [
        ("customer", v["customer_id"]), ("right", f"{v['type']} ({v['article']})"), ("status", v["status"]),
        ("received", v["received_at"]), ("due", v["due_on"] + (f" (first due {v['original_due_on']})" if v["extended"] else "")),
        ("deadline", flag or "on time"), ("extension reason", v["extension_reason"] or "-"),
        ("denial reason", v["denial_reason"] or "-"), ("categories", ", ".join(v["categories"])),
        ("channel", v["channel"] or "-"), ("knowledge version", v["knowledge_version"] or "-"),
    ]
    fact_rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(val))}</td></tr>" for k, val in facts)
    attention = "".join(f"<li>{escape(r)}</li>" for r in v["needs_attention"])
    kept = "".join(f"<li>{escape(k['category'])}: {escape(k['reason']['en'])}</li>" for k in v["kept_after_erasure"])
    tasks = "".join(
        f"<tr><td>{escape(t['system'])}</td><td>{escape(', '.join(t['categories']))}</td><td>{escape(t['operation'])}</td>"
        f"<td>{escape(t['state'])}</td><td>{t['attempts']}</td><td>{escape(t['next_attempt_at'] or '-')}</td>"
        f"<td>{escape(t['last_error'] or '-')}</td><td>{escape(t['completed_at'] or '-')}</td>"
        f"<td><code>{escape(t['idempotency_key'])}</code></td></tr>"
        for t in v["tasks"]
    )
    audit = "".join(
        f"<tr><td>{escape(a['at'])}</td><td>{escape(a['actor'])}</td><td>{escape(a['action'])}</td>"
        f"<td>{escape(a['from_status'] or '-')} &rarr; {escape(a['to_status'] or '-')}</td><td>{escape(a['reason'] or '')}</td></tr>"
        for a in v["audit"]
    )
    body = (
        f'<p><a href="/privacy/requests">&larr; all requests</a></p><h1>{escape(v["id"])}</h1>'
        + (f'<p class="flag {css}">{escape(flag)}</p>' if flag else "")
        + f'<table class="facts"><tbody>{fact_rows}</tbody></table>'
        + (f'<h2>Needs attention</h2><ul class="attention">{attention}</ul>' if attention else "")
        + (f"<h2>Kept after erasure</h2><ul>{kept}</ul>" if kept else "")
        + "<h2>System tasks</h2><table><thead><tr><th>system</th><th>categories</th><th>operation</th><th>state</th>"
        "<th>attempts</th><th>next attempt</th><th>last error</th><th>completed</th><th>idempotency key</th></tr></thead>"
        f"<tbody>{tasks}</tbody></table>"
        "<h2>Audit trail</h2><table><thead><tr><th>at</th><th>who</th><th>what</th><th>status</th><th>reason</th></tr></thead>"
        f"<tbody>{audit}</tbody></table>"
    )
    return _page(f"Request {v['id']}", body)
