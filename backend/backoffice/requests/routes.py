"""HTTP layer of the privacy request ledger.

For the assistant (service token, `router`): filing and reading requests by customer id, and, in a
conversation, the draft the customer is shown and "yes" that files it: those need the conversation
verified where the message comes from (`identity.routes.presence`), else `403 not_verified`. The rules are
in `service.filing` and `service.drafts`.

For the privacy team (`privacy_router`): every request with its deadline, one request with its tasks
and audit trail, extending a deadline and retrying a failed task; for privacy officers signed in to
the staff console (`staff.routes.PrivacyOfficer`; a change also needs the session's CSRF token).
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Request as HttpRequest
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from chatprotocol import Presence

from .. import vocabulary
from ..identity.routes import not_verified, presence
from ..identity.service import verified_binding
from ..shared.dependencies import CatalogueDep, ClockDep, KnowledgeDep, SessionDep
from ..shared.inputs import Incoming
from ..shared.responses import PRIVATE
from ..shared.service_auth import require_service
from ..staff.pages import console_response
from ..staff.routes import ConsoleLabels, PrivacyOfficer
from ..vocabulary import RequestType
from .pages import render_overview, render_request
from .rules import ExtensionRefused, RetryRefused, local_date
from .service.drafts import DraftRefused, draft_view, file_draft, make_draft
from .service.filing import FilingConflict, FilingError, file_request
from .service.privacy_team import Listing, TaskNotFound, actor, extend_deadline, full_view, overview, retry_failed_task
from .service.receipts import RequestReceipts
from .service.views import RequestNotFound, load, request_view, requests_of, tasks_of
from .tables import Request

router = APIRouter(tags=["requests"], dependencies=[Depends(require_service)])
privacy_router = APIRouter(tags=["privacy team"])


class FileIn(Incoming):
    customer_id: str = Field(min_length=1, max_length=32, description="the verified customer's id (never from what the customer typed)")
    type: RequestType
    categories: list[str] | None = Field(None, max_length=30, description="data categories; none for all that apply")
    details: dict[str, Any] = Field(default_factory=dict, max_length=10,
                                    description="field/value (correction), purposes (consents), note, language")
    client_request_id: str = Field(min_length=1, max_length=200, description="the same id for a retry of the same filing")
    channel: str | None = Field(None, max_length=40)
    conversation_id: str | None = Field(None, max_length=200)


class DraftIn(Incoming):
    type: RequestType
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


def found(session: Session, request_id: str, lock: bool = False) -> Request:
    """The request, or 404."""
    try:
        return load(session, request_id, lock=lock)
    except RequestNotFound as exc:
        raise HTTPException(404, str(exc)) from None


def _refused(exc: DraftRefused) -> JSONResponse:
    return JSONResponse({"reason": exc.reason, "detail": exc.detail}, status_code=exc.status, headers=PRIVATE)


def receipts(request: HttpRequest) -> RequestReceipts:
    return request.app.state.receipts


ReceiptsDep = Annotated[RequestReceipts, Depends(receipts)]


@router.post("/api/requests", status_code=201)
def post_request(body: FileIn, session: SessionDep, kb: KnowledgeDep, catalogue: CatalogueDep, clock: ClockDep,
                 receipt: ReceiptsDep) -> JSONResponse:
    now = clock()
    try:
        filed = file_request(
            session, body.customer_id, body.type.value, body.categories, body.details, body.client_request_id, now,
            channel=body.channel, conversation_id=body.conversation_id, knowledge=kb.current_at(now), catalogue=catalogue,
        )
    except FilingConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except FilingError as exc:
        raise HTTPException(422, str(exc)) from None
    if filed.created:
        receipt.wake()  # the e-mail receipt goes out now, after the request was committed
    view = request_view(filed.request, filed.tasks, local_date(now))
    return JSONResponse({**view, "created": filed.created}, status_code=201 if filed.created else 200, headers=PRIVATE)


@router.get("/api/requests/{request_id}")
def get_request(request_id: str, session: SessionDep, clock: ClockDep) -> JSONResponse:
    request = found(session, request_id)
    view = request_view(request, tasks_of(session, [request.id])[request.id], local_date(clock()))
    return JSONResponse(view, headers=PRIVATE)


@router.get("/api/request-categories")
def request_categories(catalogue: CatalogueDep) -> JSONResponse:
    """The categories a request can cover (a connected system holds them), so the assistant names only those."""
    return JSONResponse({"categories": {c: list(systems) for c, systems in catalogue.holders.items()}})


@router.get("/api/vocabulary")
def vocabulary_ids() -> JSONResponse:
    """The ids of rights, statuses, consents and correctable fields, so the assistant words exactly these."""
    return JSONResponse(vocabulary.served())


@router.get("/api/customers/{customer_id}/requests")
def customer_requests(customer_id: str, session: SessionDep, clock: ClockDep) -> JSONResponse:
    return JSONResponse(requests_of(session, customer_id, local_date(clock())), headers=PRIVATE)


@router.get("/api/conversations/{conversation_id}/requests")
def conversation_requests(conversation_id: str, session: SessionDep, clock: ClockDep,
                          seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    binding = verified_binding(session, conversation_id, seen, now)
    if binding is None:
        return not_verified()
    return JSONResponse(requests_of(session, binding.customer_id, local_date(now)), headers=PRIVATE)


@router.post("/api/conversations/{conversation_id}/drafts", status_code=201)
def post_draft(conversation_id: str, body: DraftIn, session: SessionDep, kb: KnowledgeDep, catalogue: CatalogueDep, clock: ClockDep,
               seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    if body.knowledge_version is not None and kb.get(body.knowledge_version) is None:
        raise HTTPException(422, f"unknown knowledge version '{body.knowledge_version}'")
    binding = verified_binding(session, conversation_id, seen, now)
    if binding is None:
        return not_verified()
    try:
        draft = make_draft(session, conversation_id, binding.customer_id, body.type.value, body.categories, body.details,
                           body.knowledge_version, now, catalogue)
    except DraftRefused as exc:
        return _refused(exc)
    except FilingError as exc:
        raise HTTPException(422, str(exc)) from None
    return JSONResponse(draft_view(draft), status_code=201, headers=PRIVATE)


@router.post("/api/conversations/{conversation_id}/drafts/{draft_id}/file", status_code=201)
def file_confirmed_draft(conversation_id: str, draft_id: str, session: SessionDep, kb: KnowledgeDep, catalogue: CatalogueDep,
                         clock: ClockDep, receipt: ReceiptsDep,
                         seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    binding = verified_binding(session, conversation_id, seen, now)
    if binding is None:
        return not_verified()
    try:
        filed, draft = file_draft(session, draft_id, conversation_id, binding.customer_id, now, kb,
                                  channel=f"assistant:{seen.channel}", catalogue=catalogue)
    except DraftRefused as exc:
        return _refused(exc)
    except FilingError as exc:
        raise HTTPException(422, str(exc)) from None
    if filed.created:
        receipt.wake()
    view = request_view(filed.request, filed.tasks, local_date(now))
    return JSONResponse({**view, "created": filed.created, "draft": draft_view(draft)},
                        status_code=201 if filed.created else 200, headers=PRIVATE)


# --- the privacy team -----------------------------------------------------------------------------


@privacy_router.post("/api/requests/{request_id}/extend")
def extend_request(request_id: str, body: ExtendIn, officer: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    now = clock()
    try:
        request = extend_deadline(session, request_id, body.reason, actor(officer), now)
    except RequestNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ExtensionRefused as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(full_view(session, request, local_date(now)), headers=PRIVATE)


@privacy_router.post("/api/privacy/requests/{request_id}/tasks/{system}/retry")
def retry_task(request_id: str, system: str, officer: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    now = clock()
    try:
        request = retry_failed_task(session, request_id, system, actor(officer), now)
    except (RequestNotFound, TaskNotFound) as exc:
        raise HTTPException(404, str(exc)) from None
    except RetryRefused as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(full_view(session, request, local_date(now)), headers=PRIVATE)


@privacy_router.get("/api/privacy/requests")
def privacy_requests(request: HttpRequest, _officer: PrivacyOfficer, session: SessionDep, clock: ClockDep,
                     status: Listing = "all") -> JSONResponse:
    return JSONResponse(overview(session, status, local_date(clock()), request.app.state.catalogue_problems.found), headers=PRIVATE)


@privacy_router.get("/api/privacy/requests/{request_id}")
def privacy_request(request_id: str, _officer: PrivacyOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    return JSONResponse(full_view(session, found(session, request_id), local_date(clock())), headers=PRIVATE)


@privacy_router.get("/console/privacy/requests", response_class=HTMLResponse, include_in_schema=False)
def privacy_page(request: HttpRequest, officer: PrivacyOfficer, session: SessionDep, clock: ClockDep, t: ConsoleLabels,
                 status: Listing = Query("all")) -> HTMLResponse:
    overview_now = overview(session, status, local_date(clock()), request.app.state.catalogue_problems.found)
    return console_response(render_overview(overview_now, status, officer, t))


@privacy_router.get("/console/privacy/requests/{request_id}", response_class=HTMLResponse, include_in_schema=False)
def privacy_request_page(request_id: str, officer: PrivacyOfficer, session: SessionDep, clock: ClockDep,
                         t: ConsoleLabels) -> HTMLResponse:
    return console_response(render_request(full_view(session, found(session, request_id), local_date(clock())), officer, t))
