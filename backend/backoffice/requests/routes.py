"""HTTP layer of the privacy request ledger, for the assistant (service token).

Filing and reading requests by customer id, and, in a conversation, the draft the customer is shown
and "yes" that files it: those need the conversation verified where the message comes from
(`identity.presence`), else `403 not_verified`. The rules are in `filing` and `drafts`.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import vocabulary
from ..identity.routes import not_verified, presence
from ..identity.service import Presence, verified_binding
from ..shared.dependencies import CatalogueDep, ClockDep, KnowledgeDep, SessionDep
from ..shared.responses import PRIVATE
from ..shared.service_auth import require_service
from . import rules as rr
from .drafts import DraftRefused, draft_view, file_draft, make_draft
from .filing import FilingConflict, FilingError, file_request
from .receipts import RequestReceipts
from .schemas import DraftIn, FileIn, request_view
from .tables import Request, SystemTask

CUSTOMER_REQUESTS_SHOWN = 100

router = APIRouter(tags=["requests"], dependencies=[Depends(require_service)])


def load(session: Session, request_id: str, lock: bool = False) -> Request:
    query = select(Request).where(Request.id == request_id)
    request = session.scalar(query.with_for_update() if lock else query)
    if request is None:
        raise HTTPException(404, f"no request '{request_id[:60]}'")
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
    view = request_view(filed.request, filed.tasks, rr.local_date(now))
    return JSONResponse({**view, "created": filed.created}, status_code=201 if filed.created else 200, headers=PRIVATE)


@router.get("/api/requests/{request_id}")
def get_request(request_id: str, session: SessionDep, clock: ClockDep) -> JSONResponse:
    request = load(session, request_id)
    view = request_view(request, tasks_of(session, [request.id])[request.id], rr.local_date(clock()))
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
    return JSONResponse(requests_of(session, customer_id, rr.local_date(clock())), headers=PRIVATE)


@router.get("/api/conversations/{conversation_id}/requests")
def conversation_requests(conversation_id: str, session: SessionDep, clock: ClockDep,
                          seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    binding = verified_binding(session, conversation_id, seen, now)
    if binding is None:
        return not_verified()
    return JSONResponse(requests_of(session, binding.customer_id, rr.local_date(now)), headers=PRIVATE)


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
    view = request_view(filed.request, filed.tasks, rr.local_date(now))
    return JSONResponse({**view, "created": filed.created, "draft": draft_view(draft)},
                        status_code=201 if filed.created else 200, headers=PRIVATE)
