"""HTTP layer of the handoff: the assistant hands a conversation over or records a ticket (service
token and the message's presence); agents and privacy officers work the queue in the console (their
own session, CSRF on every change); the queue and the open conversation update live (server-sent events)."""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi import Request as HttpRequest
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import Field, StringConstraints
from sqlalchemy.orm import Session

from chatprotocol import Channel, HandoffReason, Presence

from ..identity.routes import not_verified, presence
from ..identity.service import verified_binding
from ..shared.dependencies import CatalogueDep, ClockDep, KnowledgeDep, SessionDep, SessionsDep
from ..shared.inputs import Incoming
from ..shared.responses import PRIVATE
from ..shared.service_auth import require_service
from ..shared.tracker_store import TranscriptsUnavailable
from ..staff.routes import SESSION_COOKIE, AgentOrOfficer, ConsoleLabels
from ..staff.rules import MAX_STAFF_ID, Staff
from . import pages, service
from .rules import MAX_MESSAGE_CHARS, SUMMARY_MESSAGES, Refused, State
from .service import Handoff, RasaUnavailable
from .tables import QueueEntry

STREAM_SECONDS = 600  # a live stream ends after this; the browser's EventSource reconnects by itself
STREAMS_PER_AGENT = 4

Short = Annotated[str, StringConstraints(max_length=60)]
Said = Annotated[str, StringConstraints(max_length=300)]


def handoff(request: HttpRequest) -> Handoff:
    return request.app.state.handoff


HandoffDep = Annotated[Handoff, Depends(handoff)]
router = APIRouter(tags=["handoff"])


class SummaryIn(Incoming):
    topics: list[Short] = Field(default_factory=list, max_length=15)
    requests: list[Short] = Field(default_factory=list, max_length=10)
    last_messages: list[Said] = Field(default_factory=list, max_length=SUMMARY_MESSAGES)


class HandOverIn(Incoming):
    reason: HandoffReason
    language: Literal["nl", "en"] = "en"
    summary: SummaryIn = Field(default_factory=SummaryIn)


class TicketIn(Incoming):
    reason: HandoffReason
    language: Literal["nl", "en"] = "en"


class TextIn(Incoming):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class FileIn(Incoming):
    """A privacy request an agent files for the verified customer (the same checks as the assistant's)."""

    type: str = Field(max_length=40)
    categories: list[Short] | None = Field(default=None, max_length=30)
    details: dict | None = None
    client_request_id: str = Field(min_length=8, max_length=64, description="the console's id for this filing: a retry files once")


class TransferIn(Incoming):
    to: int | None = Field(default=None, ge=1, le=MAX_STAFF_ID, description="the colleague's staff id; none: back to the queue")


ConversationId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


@router.post("/api/conversations/{conversation_id}/handoff", dependencies=[Depends(require_service)])
def hand_over(conversation_id: ConversationId, body: HandOverIn, session: SessionDep, clock: ClockDep, parts: HandoffDep,
              seen: Annotated[Presence, Depends(presence)]) -> JSONResponse:
    now = clock()
    binding = verified_binding(session, conversation_id, seen, now)
    try:
        told = service.hand_over(session, parts.config, parts.store, conversation_id=conversation_id,
                                 channel=seen.channel or Channel.REST.value, source=seen.source, language=body.language,
                                 reason=body.reason, summary=body.summary.model_dump(), binding=binding, now=now)
    except TranscriptsUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    return JSONResponse(told, headers=PRIVATE)


@router.post("/api/conversations/{conversation_id}/tickets", dependencies=[Depends(require_service)], status_code=201)
def record_ticket(conversation_id: ConversationId, body: TicketIn, session: SessionDep, clock: ClockDep, parts: HandoffDep,
                  seen: Annotated[Presence, Depends(presence)]) -> JSONResponse:
    """Only for a customer verified here: the answer goes to their address, never to one anybody typed."""
    now = clock()
    binding = verified_binding(session, conversation_id, seen, now)
    if binding is None:
        return not_verified()
    try:
        ticket = service.record_ticket(session, parts.config, parts.store, conversation_id=conversation_id, customer_id=binding.customer_id,
                                    language=body.language, reason=body.reason, now=now)
    except TranscriptsUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    return JSONResponse({"ticket": ticket.id, "answer_by": ticket.answer_by.isoformat()}, status_code=201, headers=PRIVATE)


class PresenceIn(Incoming):
    here: bool


@router.post("/api/conversations/{conversation_id}/handoff/presence", dependencies=[Depends(require_service)], status_code=204)
def customer_presence(conversation_id: ConversationId, body: PresenceIn, session: SessionDep, clock: ClockDep) -> Response:
    """The website channel: the customer's last chat window closed, or one opened again."""
    service.customer_presence(session, conversation_id, body.here, clock())
    return Response(status_code=204)


# --- the console's API ---------------------------------------------------------------------------

def _entry(session: Session, entry_id: str, staff: Staff) -> QueueEntry:
    entry = service.readable_entry(session, entry_id, staff)
    if entry is None:
        raise HTTPException(404, "no such conversation in the queue or yours")
    return entry


@contextmanager
def refusals_answered() -> Iterator[None]:
    """A move the conversation's state does not allow: 409; text out of bounds: 422; a message Rasa did
    not take: 502, saying the customer has not received it."""
    try:
        yield
    except Refused as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except RasaUnavailable as exc:
        raise HTTPException(502, f"{exc}: the customer has not received it") from None


@router.get("/api/console/queue")
def console_queue(staff: AgentOrOfficer, session: SessionDep, clock: ClockDep) -> JSONResponse:
    now = clock()
    service.seen(session, staff, now)
    return JSONResponse({"queue": service.queue(session, now, staff)}, headers=PRIVATE)


@router.get("/api/console/conversations/{entry_id}")
def console_conversation(entry_id: str, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, parts: HandoffDep) -> JSONResponse:
    try:
        return JSONResponse(service.conversation(session, parts.store, _entry(session, entry_id, staff), clock(), staff),
                            headers=PRIVATE)
    except TranscriptsUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


def _view(session: Session, parts: Handoff, entry: QueueEntry, now: dt.datetime, staff: Staff) -> JSONResponse:
    return JSONResponse(service.conversation(session, parts.store, entry, now, staff), headers=PRIVATE)


def _colleague(session: Session, staff_id: int) -> Staff:
    colleague = service.colleague(session, staff_id)
    if colleague is None:
        raise HTTPException(422, "no such colleague")
    return colleague


@router.get("/api/console/colleagues")
def colleagues(staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, parts: HandoffDep) -> JSONResponse:
    """Whom a conversation can be transferred to: the other active members of staff, the available ones first."""
    return JSONResponse({"colleagues": service.colleagues(session, parts.config, staff, clock())}, headers=PRIVATE)


@router.post("/api/console/conversations/{entry_id}/claim")
def claim(entry_id: str, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, parts: HandoffDep) -> JSONResponse:
    entry = _entry(session, entry_id, staff)
    with refusals_answered():
        service.claim(session, parts.rasa, entry, staff, clock())
    return _view(session, parts, entry, clock(), staff)


@router.post("/api/console/conversations/{entry_id}/reply")
def reply(entry_id: str, body: TextIn, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, parts: HandoffDep) -> JSONResponse:
    entry = _entry(session, entry_id, staff)
    with refusals_answered():
        service.reply(session, parts.rasa, entry, staff, body.text, clock())
    return _view(session, parts, entry, clock(), staff)


@router.post("/api/console/conversations/{entry_id}/notes")
def add_note(entry_id: str, body: TextIn, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, parts: HandoffDep) -> JSONResponse:
    entry = _entry(session, entry_id, staff)
    with refusals_answered():
        service.note(session, entry, staff, body.text, clock())
    return _view(session, parts, entry, clock(), staff)


@router.post("/api/console/conversations/{entry_id}/transfer")
def transfer(entry_id: str, body: TransferIn, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep,
             parts: HandoffDep) -> JSONResponse:
    entry = _entry(session, entry_id, staff)
    colleague = _colleague(session, body.to) if body.to is not None else None
    with refusals_answered():
        service.transfer(session, parts.rasa, entry, staff, colleague, clock())
    return _view(session, parts, entry, clock(), staff)


@router.post("/api/console/conversations/{entry_id}/hand-back")
def hand_back(entry_id: str, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, parts: HandoffDep) -> JSONResponse:
    entry = _entry(session, entry_id, staff)
    with refusals_answered():
        service.end(session, parts.rasa, entry, staff, State.HANDED_BACK, clock())
    return _view(session, parts, entry, clock(), staff)


@router.post("/api/console/conversations/{entry_id}/close")
def close(entry_id: str, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, parts: HandoffDep) -> JSONResponse:
    entry = _entry(session, entry_id, staff)
    with refusals_answered():
        service.end(session, parts.rasa, entry, staff, State.CLOSED, clock())
    return _view(session, parts, entry, clock(), staff)


@router.get("/api/console/conversations/{entry_id}/suggestions")
def suggestions(entry_id: str, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, knowledge: KnowledgeDep) -> JSONResponse:
    """What the agent may insert into a reply, in the customer's language: canned replies, and the
    current knowledge-base version's answer per topic and per right (named with its version)."""
    entry = _entry(session, entry_id, staff)
    return JSONResponse(service.suggestions(knowledge.current_at(clock()), entry.language), headers=PRIVATE)


@router.post("/api/console/conversations/{entry_id}/requests", status_code=201)
def file_for_customer(entry_id: str, body: FileIn, staff: AgentOrOfficer, session: SessionDep, clock: ClockDep, parts: HandoffDep,
                      catalogue: CatalogueDep) -> JSONResponse:
    entry = _entry(session, entry_id, staff)
    with refusals_answered():  # a request filing refuses (FilingError) is a ValueError: 422 with the reason
        try:
            filed = service.file_for_customer(session, parts.rasa, entry, staff, type=body.type, categories=body.categories,
                                              details=body.details, client_request_id=body.client_request_id, now=clock(),
                                              catalogue=catalogue)
        except RasaUnavailable as exc:
            raise HTTPException(502, f"the request is filed, but the customer was not told: {exc}") from None
    request = filed.request
    return JSONResponse({"request": request.id, "type": request.type, "status": request.status, "due_on": request.due_on.isoformat()},
                        status_code=201 if filed.created else 200, headers=PRIVATE)


@router.get("/api/console/stream")
async def stream(request: HttpRequest, staff: AgentOrOfficer, sessions: SessionsDep, clock: ClockDep, parts: HandoffDep,
                 conversation: str | None = None) -> StreamingResponse:
    """Server-sent events: `queue` whenever the queue changes, and with `conversation=<entry id>`,
    `conversation` whenever that conversation does. Keeping it open keeps the agent available and
    their claims theirs."""
    if not parts.open_stream(staff.id, STREAMS_PER_AGENT):
        raise HTTPException(429, f"at most {STREAMS_PER_AGENT} live consoles per person: close one")
    watched = conversation[:40] if conversation else None
    session_token = request.cookies.get(SESSION_COOKIE, "")

    async def events() -> AsyncIterator[str]:
        sent: dict[str, str] = {}
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_SECONDS
        try:
            yield "retry: 2000\n\n"
            while loop.time() < ends and not await request.is_disconnected():
                try:
                    current = await run_in_threadpool(service.snapshot, sessions, parts.store, staff, session_token, watched, clock())
                except TranscriptsUnavailable:
                    current = []
                if current is None:
                    break
                for kind, data in current:
                    if sent.get(kind) != data:
                        sent[kind] = data
                        yield f"event: {kind}\ndata: {data}\n\n"
                await asyncio.sleep(1.0)
        finally:
            parts.close_stream(staff.id)

    return StreamingResponse(events(), media_type="text/event-stream", headers={**PRIVATE, "X-Accel-Buffering": "no"})


# --- the console's pages -------------------------------------------------------------------------

@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
def queue_page(staff: AgentOrOfficer, t: ConsoleLabels) -> HTMLResponse:
    return pages.queue_page(staff, t)


@router.get("/console/conversations/{entry_id}", response_class=HTMLResponse, include_in_schema=False)
def conversation_page(entry_id: str, staff: AgentOrOfficer, session: SessionDep, t: ConsoleLabels) -> HTMLResponse:
    return pages.conversation_page(_entry(session, entry_id, staff), staff, t)
