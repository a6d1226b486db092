"""HTTP layer of a customer's own data: see it in the chat (Art. 15), take it away (Art. 20).

For the assistant (service token, `Authorization: Bearer <BACKOFFICE_SERVICE_TOKEN>`). The customer is
always the one the conversation is verified as (identity_api's binding, while it lasts, and only for a
message from the channel and connection that verified it: presence.py), never an id the caller
passes; an unverified conversation, or another channel or connection naming it, gets
`403 {"reason": "not_verified", "detail"}`.
- `GET /api/conversations/{conversation_id}/my-data?language=nl|en`: what the company holds about
  the customer and why (my_data.overview: per category counts, previews, purposes and legal basis,
  retention, recipients, source, what an erasure keeps; the chats with the assistant; Art. 15's
  general facts).
- `POST /api/conversations/{conversation_id}/exports?language=nl|en`: `201 {json_url, csv_url,
  expires_at}`, a download link for that customer only, valid EXPORT_LINK_MINUTES (export_links.py).

For the customer's browser (no other login: the link is the credential):
- `GET /exports/{token}.json` and `GET /exports/{token}.csv`: everything, as a file to keep
  (`Content-Disposition: attachment`, `Cache-Control: no-store`). An expired link gets 410, a link
  that is not ours or was changed gets 403, each with a sentence that says nothing about a customer.

The data is read from the company systems at the moment of asking; if any system (or the
assistant's own conversation store) cannot answer, the answer is `503 {"reason":
"system_unavailable", "system", "detail"}` instead of a partial answer that looks complete.

The my-data answer (texts in the language asked for):
    {customer_id, knowledge_version, language, collected_at,
     categories: [{id, label, records, records_by_system: {system: n}, preview: [text, ...],
                   purposes: [{id, label, legal_basis, legal_basis_explained}], retention,
                   retention_reason, recipients: [name, ...], source, kept_after_erasure | null,
                   restricted_since | null}],
     empty_categories: [id, ...], not_in_connected_systems: [id, ...],
     conversations: {count, messages, shared_left_out},
     automated_decisions: [{purpose, label, logic}], transfers_outside_eu: [{recipient, country, safeguard}],
     rights: {right: text}, complaint: {authority, url, text}, dpo: {name, email, phone, postal_address}}
The JSON download is the same with `exported_at` for `collected_at`, and per category `data`:
[{system, record}] (every record in full; the assistant's are {conversation, started_at,
messages: [{at, from: customer | assistant, text}]}, `conversation` a name like "2026-01-31 #2", never
the chat session id: transcripts.references) instead of `preview`.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import secrets
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Literal, Optional

import httpx2
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from ..shared.service_auth import service_token_required
from ..settings import Settings
from .export_links import ExportDownload, ExportLink, ExportLinks, LinkError, usable_secret
from ..knowledge.rules import KnowledgeBase
from ..requests.tables import open_ledger
from .rules import CSV_COLUMNS, Holdings, SystemUnavailable, collect, export_document, export_rows, overview
from ..identity.presence import Presence, not_verified, presence, verified_binding
from .transcripts import TrackerStore

log = logging.getLogger("backoffice.my_data.rules")

PRIVATE = {"Cache-Control": "no-store"}
# The token is in the address: keep it out of referrers and caches, and the file out of the page.
DOWNLOAD = {**PRIVATE, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
Language = Literal["nl", "en"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def my_data_router(settings: Settings, kb: KnowledgeBase, clock: Callable[[], dt.datetime] = utcnow) -> APIRouter:
    """The routes of a customer's own data. The database must be migrated already."""
    engine, Session = open_ledger(settings.database_url, run_migrations=False)
    systems = httpx2.Client(
        base_url=settings.company_systems_url.rstrip("/"),
        timeout=httpx2.Timeout(settings.my_data_timeout_seconds),
        headers={"Authorization": f"Bearer {settings.company_systems_token}"},
    )
    store = TrackerStore(settings.tracker_url)
    secret = settings.export_link_secret
    if not usable_secret(secret):
        log.warning("EXPORT_LINK_SECRET is not set (or shorter than 32 bytes): download links use a random key of "
                    "this process, and stop working when it restarts")
        secret = secrets.token_hex(32)
    links = ExportLinks(secret, dt.timedelta(minutes=settings.export_link_minutes))

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        systems.close()
        store.close()
        engine.dispose()

    router = APIRouter(lifespan=lifespan)

    require_service = service_token_required(settings)

    def verified_customer(conversation_id: str, seen: Presence) -> Optional[str]:
        """The customer this conversation is verified as right now, where this message is; or None."""
        with Session() as session:
            row = verified_binding(session, conversation_id, seen, clock())
        return row.customer_id if row is not None else None

    def unavailable(exc: SystemUnavailable) -> JSONResponse:
        return JSONResponse({"reason": "system_unavailable", "system": exc.system, "detail": (
            f"{exc}, so the answer would be incomplete; try again in a few minutes")},
            status_code=503, headers={**PRIVATE, "Retry-After": "60"})

    def holdings_of(customer_id: str) -> Holdings:
        return collect(systems, store, Session, customer_id, clock())

    @router.get("/api/conversations/{conversation_id}/my-data", dependencies=[Depends(require_service)], tags=["my data"])
    def my_data(conversation_id: str, language: Language = "nl", seen: Presence = Depends(presence)) -> JSONResponse:
        customer_id = verified_customer(conversation_id, seen)
        if customer_id is None:
            return not_verified()
        try:
            holdings = holdings_of(customer_id)
        except SystemUnavailable as exc:
            return unavailable(exc)
        return JSONResponse(overview(holdings, kb.current_at(clock()), language), headers=PRIVATE)

    @router.post("/api/conversations/{conversation_id}/exports", dependencies=[Depends(require_service)], tags=["my data"],
                 status_code=201)
    def issue_link(conversation_id: str, language: Language = "nl", seen: Presence = Depends(presence)) -> JSONResponse:
        customer_id = verified_customer(conversation_id, seen)
        if customer_id is None:
            return not_verified()
        now = clock()
        link = links.issue(customer_id, language, now)
        with Session.begin() as session:
            session.add(ExportLink(jti=link.jti, customer_id=customer_id, conversation_id=conversation_id[:200],
                                   language=language, issued_at=now, expires_at=link.expires_at))
        base = f"{settings.public_url.rstrip('/')}/exports/{link.token}"
        return JSONResponse({"json_url": f"{base}.json", "csv_url": f"{base}.csv", "expires_at": link.expires_at.isoformat()},
                            status_code=201, headers=PRIVATE)

    def download(token: str, kind: Literal["json", "csv"]) -> Response:
        now = clock()
        try:
            link = links.verify(token, now)
        except LinkError as exc:
            return JSONResponse({"reason": exc.reason, "detail": str(exc)}, status_code=exc.status, headers=DOWNLOAD)
        with Session() as session:
            issued = session.get(ExportLink, link.jti)
        if issued is None or issued.customer_id != link.customer_id:
            return JSONResponse({"reason": "invalid_link", "detail": "this download link is not valid. Ask the assistant "
                                 "for a new link."}, status_code=403, headers=DOWNLOAD)
        try:
            holdings = holdings_of(link.customer_id)
        except SystemUnavailable as exc:
            return unavailable(exc)
        version = kb.current_at(now)
        if kind == "json":
            body = json.dumps(export_document(holdings, version, link.language), ensure_ascii=False, indent=2)
            media_type = "application/json"
        else:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(export_rows(holdings, version))
            body, media_type = buffer.getvalue(), "text/csv; charset=utf-8"
        with Session.begin() as session:
            session.add(ExportDownload(jti=link.jti, format=kind, downloaded_at=now))
        filename = f"my-data-{now:%Y-%m-%d}.{kind}"
        return Response(body, media_type=media_type,
                        headers={**DOWNLOAD, "Content-Disposition": f'attachment; filename="{filename}"'})

    @router.get("/exports/{token}.json", tags=["my data"])
    def download_json(token: str) -> Response:
        return download(token, "json")

    @router.get("/exports/{token}.csv", tags=["my data"])
    def download_csv(token: str) -> Response:
        return download(token, "csv")

    return router
