"""HTTP layer of a customer's own data: see it in the chat (Art. 15), take it away (Art. 20).

For the assistant (service token), the customer is always the one the conversation is verified as,
where the message comes from (`identity.routes.presence`), never an id the caller passes: otherwise
`403 not_verified`. For the customer's browser, a download link is the credential
(`service.ExportLinks`): an expired one gets 410, one that is not ours 403, each with a sentence
that says nothing about a customer. The data is read from the company systems at the moment of asking; if
any of them (or the assistant's own conversation store) cannot answer, the answer is
`503 system_unavailable` instead of a partial answer that looks complete.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import sessionmaker

from chatprotocol import Presence

from ..identity.routes import not_verified, presence
from ..identity.service import verified_binding
from ..shared.dependencies import ClockDep, KnowledgeDep, SessionsDep, SettingsDep
from ..shared.responses import PRIVATE
from ..shared.service_auth import require_service
from .rules import SystemUnavailable, export_csv, export_document, overview
from .service import DataSources, LinkError

# The token is in the address: keep it out of referrers and caches, and the file out of the page.
DOWNLOAD = {**PRIVATE, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
Language = Literal["nl", "en"]


def sources(request: Request) -> DataSources:
    return request.app.state.my_data


SourcesDep = Annotated[DataSources, Depends(sources)]
router = APIRouter(tags=["my data"])


def conversation_customer(conversation_id: str, sessions: SessionsDep, clock: ClockDep, seen: Presence = Depends(presence)) -> str | None:
    """The customer this conversation is verified as right now, where this message is; or None."""
    with sessions() as session:
        row = verified_binding(session, conversation_id, seen, clock())
    return row.customer_id if row is not None else None


VerifiedCustomer = Annotated[str | None, Depends(conversation_customer)]


def unavailable(exc: SystemUnavailable) -> JSONResponse:
    return JSONResponse({"reason": "system_unavailable", "system": exc.system, "detail": (
        f"{exc}, so the answer would be incomplete; try again in a few minutes")},
        status_code=503, headers={**PRIVATE, "Retry-After": "60"})


@router.get("/api/conversations/{conversation_id}/my-data", dependencies=[Depends(require_service)])
def my_data(customer_id: VerifiedCustomer, sessions: SessionsDep, kb: KnowledgeDep, clock: ClockDep, data: SourcesDep,
            language: Language = "nl") -> JSONResponse:
    if customer_id is None:
        return not_verified()
    now = clock()
    version = kb.current_at(now)
    try:
        holdings = data.of(sessions, customer_id, now, version)
    except SystemUnavailable as exc:
        return unavailable(exc)
    return JSONResponse(overview(holdings, version, language), headers=PRIVATE)


@router.post("/api/conversations/{conversation_id}/exports", dependencies=[Depends(require_service)], status_code=201)
def issue_link(conversation_id: str, customer_id: VerifiedCustomer, sessions: SessionsDep, settings: SettingsDep,
               clock: ClockDep, data: SourcesDep, language: Language = "nl") -> JSONResponse:
    if customer_id is None:
        return not_verified()
    now = clock()
    link = data.issue(sessions, customer_id, conversation_id, language, now)
    base = f"{settings.public_url.rstrip('/')}/exports/{link.token}"
    return JSONResponse({"json_url": f"{base}.json", "csv_url": f"{base}.csv", "expires_at": link.expires_at.isoformat()},
                        status_code=201, headers=PRIVATE)


def download(token: str, kind: Literal["json", "csv"], sessions: sessionmaker, kb: KnowledgeDep, now: dt.datetime,
             data: DataSources) -> Response:
    try:
        link = data.open(sessions, token, now)
    except LinkError as exc:
        return JSONResponse({"reason": exc.reason, "detail": str(exc)}, status_code=exc.status, headers=DOWNLOAD)
    version = kb.current_at(now)
    try:
        holdings = data.of(sessions, link.customer_id, now, version)
    except SystemUnavailable as exc:
        return unavailable(exc)
    if kind == "json":
        body = json.dumps(export_document(holdings, version, link.language), ensure_ascii=False, indent=2)
        media_type = "application/json"
    else:
        body, media_type = export_csv(holdings, version), "text/csv; charset=utf-8"
    data.downloaded(sessions, link, kind, now)
    filename = f"my-data-{now:%Y-%m-%d}.{kind}"
    return Response(body, media_type=media_type, headers={**DOWNLOAD, "Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/exports/{token}.json")
def download_json(token: str, sessions: SessionsDep, kb: KnowledgeDep, clock: ClockDep, data: SourcesDep) -> Response:
    return download(token, "json", sessions, kb, clock(), data)


@router.get("/exports/{token}.csv")
def download_csv(token: str, sessions: SessionsDep, kb: KnowledgeDep, clock: ClockDep, data: SourcesDep) -> Response:
    return download(token, "csv", sessions, kb, clock(), data)
