"""A customer's own data, gathered and handed over: the answer to Art. 15, the copy to take away
(Art. 20), and the assistant's own part of a privacy request.

- `collect` asks every company system of the catalogue for its export (`GET <system>/customers/{id}/export`,
  all at once, each call with a short timeout) and reads the assistant's own transcripts of the
  customer's conversations (shared.tracker_store). A system that cannot answer raises `SystemUnavailable`
  naming it: an answer with one system missing would look complete and not be. A system that
  answers 404 holds nothing about the customer. What is made of it for the customer is rules.py's.
- Download links for a customer's own data are short-lived, for one customer, and on record.
  A link carries an opaque token: 32 random bytes (URL-safe base64), which say nothing about anyone.
  What the link is for stays here: its record (`ExportLink`: the customer, the language, the expiry,
  the conversation it was made in) is filed under the token's keyed hash (HMAC-SHA256 with
  EXPORT_LINK_SECRET), never under the token itself, so a reader of the database cannot download, and
  a new secret ends every link. The link is the credential, so it is only made for a conversation
  verified as that customer, lives minutes (EXPORT_LINK_MINUTES, 15 by default), and every link issued
  and every download (`ExportDownload`) is recorded. `verify` tells an expired link (`LinkExpired`,
  410) from one that is not ours, was changed, or was never issued (`LinkInvalid`, 403); neither says
  anything about a customer.
- Which conversations are a customer's (`customer_conversations`) comes from the back office's own
  records, never from what anyone typed: the conversations bound to the customer
  (ConversationIdentity), those in which a verification verified them (VerificationAttempt), and those
  in which they filed a request (Request.conversation_id). A conversation in which two different
  customers were verified (a shared device, one after the other) is no one customer's: it is left out
  of both customers' exports and erasures, and an erasure reports it as kept, for the privacy team.
- `carry_out` is the "assistant" system's part of a privacy request, run by the outbox worker:
  export (count the conversations), erase (delete their tracker rows and the back office's answer
  records of them, which is idempotent: a second run deletes nothing and is done too); restriction
  does not apply (the transcripts are only kept, never used for anything else). The request, its
  audit trail and the verification attempts are kept: they are the company's proof it answered.

Nothing here decides who the customer is: the callers pass the id a verified binding gave them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx2
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..catalogue import ASSISTANT
from ..handoff.tables import AgentNote, QueueEntry, Ticket
from ..identity.rules import secret_is_set
from ..identity.tables import ConversationIdentity, VerificationAttempt
from ..knowledge.rules import KnowledgeVersion, undeclared_fields
from ..knowledge.service import CatalogueProblems
from ..knowledge.tables import AnswerRecord
from ..requests.rules import RequestType
from ..requests.tables import Request
from ..sentences import LANGUAGES, in_every_language, words
from ..settings import Settings
from ..shared.company_systems import CompanySystems
from ..shared.tracker_store import TrackerStore, TranscriptsUnavailable
from .rules import CATEGORY, SYSTEM, Conversations, Holdings, SystemUnavailable, references
from .tables import ExportDownload, ExportLink

log = logging.getLogger(__name__)

ERASURE_NOT_DONE = ("denied", "canceled", "expired")  # an erasure that did not go ahead kept nothing
MIN_SECRET_BYTES = 32
TOKEN_BYTES = 32
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes in URL-safe base64, unpadded


# --- what is held about the customer ------------------------------------------------------------


def collect(systems: CompanySystems, store: TrackerStore, Session: sessionmaker, customer_id: str, now: dt.datetime) -> Holdings:
    """Every system's export and the assistant's transcripts; `SystemUnavailable` if any is missing."""
    asked = systems.catalogue.company_systems
    with ThreadPoolExecutor(max_workers=len(asked)) as pool:
        exports = list(pool.map(lambda system: _export(systems, system, customer_id), asked))
    with Session() as session:
        conversations = customer_conversations(session, customer_id)
        notes = staff_notes(session, conversations.own)
        erasure_asked = frozenset(c for found in session.scalars(select(Request.categories).where(
            Request.customer_id == customer_id, Request.type == RequestType.ERASURE.value,
            Request.status.not_in(ERASURE_NOT_DONE))) for c in found or ())
    try:
        transcripts = [t.with_notes(notes.get(t.conversation_id, [])) for t in store.transcripts(conversations.own)]
    except TranscriptsUnavailable:
        raise SystemUnavailable(ASSISTANT, "the assistant's own conversation store cannot be read") from None

    records: dict[str, list[tuple[str, dict]]] = {}
    restricted: dict[str, str | None] = {}
    for system, export in zip(asked, exports, strict=False):
        if export is None:
            continue
        for category, found in export["categories"].items():
            records.setdefault(category, []).extend((system, record) for record in found)
        for restriction in export.get("restricted") or []:
            if isinstance(restriction, dict) and isinstance(restriction.get("category"), str):
                restricted[restriction["category"]] = restriction.get("since")
    if transcripts:
        records.setdefault(CATEGORY, []).extend(
            (ASSISTANT, t.as_record(name)) for t, name in zip(transcripts, references(transcripts), strict=False))
    return Holdings(customer_id, records, restricted, transcripts, len(conversations.shared), now, systems.catalogue,
                    erasure_asked)


def _export(systems: CompanySystems, system: str, customer_id: str) -> dict | None:
    """One system's export; None when it holds nothing about the customer (404)."""
    try:
        response = systems.export(system, customer_id)
    except httpx2.TimeoutException:
        raise SystemUnavailable(system, f"the {system} system did not answer in time") from None
    except httpx2.HTTPError:
        raise SystemUnavailable(system, f"the {system} system cannot be reached") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise SystemUnavailable(system, f"the {system} system answered with an error ({response.status_code})")
    try:
        body = response.json()
    except ValueError:
        body = None
    categories = body.get("categories") if isinstance(body, dict) else None
    if not isinstance(categories, dict) or not all(
            isinstance(found, list) and all(isinstance(r, dict) for r in found) for found in categories.values()):
        raise SystemUnavailable(system, f"the {system} system gave an answer that is not an export")
    if body.get("customer_id") != customer_id:
        raise SystemUnavailable(system, f"the {system} system answered about someone else")
    return body


# --- download links ------------------------------------------------------------------------------


class LinkError(Exception):
    """The link cannot be used; the message is a sentence for the person holding it."""

    status = 403
    reason = "invalid_link"


class LinkExpired(LinkError):
    status = 410
    reason = "expired"


class LinkInvalid(LinkError):
    pass


@dataclass(frozen=True)
class Link:
    token: str
    jti: str  # the token's keyed hash: the link's record's key
    customer_id: str
    language: str
    expires_at: dt.datetime


class ExportLinks:
    """Make opaque download links and find what one is for."""

    def __init__(self, secret: str, ttl: dt.timedelta) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the export link secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 24`)")
        if ttl <= dt.timedelta(0):
            raise ValueError("export links must live a positive time")
        self._secret = secret.encode()
        self.ttl = ttl

    def reference(self, token: str) -> str:
        """The key the token's link is recorded under (`ExportLink.jti`); LinkInvalid for a token not in our shape."""
        if not TOKEN.fullmatch(token):
            raise LinkInvalid(in_every_language("back_office.download_link.changed", " / "))
        return hmac.new(self._secret, b"export-link:" + token.encode(), hashlib.sha256).hexdigest()

    def issue(self, customer_id: str, language: str, now: dt.datetime) -> Link:
        """A new link; the caller records it (`ExportLink` under `jti`) before handing out the token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires = now.replace(microsecond=0) + self.ttl
        return Link(token, self.reference(token), customer_id, language, expires)

    def verify(self, token: str, now: dt.datetime, session: Session) -> Link:
        """What the link is for, from its record, or `LinkExpired` / `LinkInvalid`. Times are checked against `now`."""
        issued = session.get(ExportLink, self.reference(token))
        if issued is None:
            raise LinkInvalid(in_every_language("back_office.download_link.invalid", " / "))
        language = issued.language if issued.language in LANGUAGES else "nl"
        if now >= issued.expires_at:
            raise LinkExpired(words(language, "back_office.download_link.expired").format(minutes=int(self.ttl.total_seconds() // 60)))
        return Link(token, issued.jti, issued.customer_id, language, issued.expires_at)


def usable_secret(secret: str) -> bool:
    """Set (not a `change-me` placeholder) and long enough to sign with."""
    return secret_is_set(secret) and len(secret.encode()) >= MIN_SECRET_BYTES


@dataclass(frozen=True)
class DataSources:
    """Where a customer's data is read from, and the download links' key: one of each per process
    (`app.state.my_data`)."""

    systems: CompanySystems
    tracker: TrackerStore
    links: ExportLinks
    problems: CatalogueProblems  # where a field held but not declared in the register is named

    @classmethod
    def start(cls, settings: Settings, systems: CompanySystems, problems: CatalogueProblems) -> DataSources:
        secret = settings.export_link_secret
        if not usable_secret(secret):
            log.warning("EXPORT_LINK_SECRET is not set (or shorter than 32 bytes): download links use a random key of "
                        "this process, and stop working when it restarts")
            secret = secrets.token_hex(32)
        return cls(systems, TrackerStore(settings.tracker_url), ExportLinks(secret, dt.timedelta(minutes=settings.export_link_minutes)),
                   problems)

    def of(self, sessions: sessionmaker, customer_id: str, now: dt.datetime, version: KnowledgeVersion) -> Holdings:
        """Everything held about the customer; every field an export returned is checked against the
        register, and one it does not declare is named to the privacy team."""
        holdings = collect(self.systems, self.tracker, sessions, customer_id, now)
        self.problems.add(undeclared_fields(self.systems.catalogue, version, (
            (system, category, record) for category, found in holdings.records.items() for system, record in found)))
        return holdings

    def issue(self, sessions: sessionmaker, customer_id: str, conversation_id: str, language: str, now: dt.datetime) -> Link:
        """A new download link, on record before its token is handed out."""
        link = self.links.issue(customer_id, language, now)
        with sessions.begin() as session:
            session.add(ExportLink(jti=link.jti, customer_id=customer_id, conversation_id=conversation_id[:200],
                                   language=language, issued_at=now, expires_at=link.expires_at))
        return link

    def open(self, sessions: sessionmaker, token: str, now: dt.datetime) -> Link:
        """What a link is for, or `LinkExpired` / `LinkInvalid`."""
        with sessions() as session:
            return self.links.verify(token, now, session)

    def downloaded(self, sessions: sessionmaker, link: Link, kind: str, now: dt.datetime) -> None:
        """Record a download through `link`, in format `kind` (json | csv)."""
        with sessions.begin() as session:
            session.add(ExportDownload(jti=link.jti, format=kind, downloaded_at=now))


# --- the assistant's own conversations ------------------------------------------------------------


def customer_conversations(session: Session, customer_id: str) -> Conversations:
    """The conversations the back office's records tie to this customer, split into own and shared."""
    sources = (
        (ConversationIdentity.conversation_id, ConversationIdentity.customer_id, None),
        (VerificationAttempt.conversation_id, VerificationAttempt.customer_id, VerificationAttempt.verified_at.is_not(None)),
        (Request.conversation_id, Request.customer_id, Request.conversation_id.is_not(None)),
    )
    theirs: set[str] = set()
    for conversation, customer, condition in sources:
        query = select(conversation).where(customer == customer_id)
        theirs.update(session.scalars(query if condition is None else query.where(condition)))
    shared: set[str] = set()
    for conversation, customer, condition in sources:
        query = select(conversation).where(conversation.in_(theirs), customer != customer_id, customer.is_not(None))
        shared.update(session.scalars(query if condition is None else query.where(condition)))
    return Conversations(own=sorted(theirs - shared), shared=sorted(shared))


def staff_notes(session: Session, conversation_ids: Iterable[str]) -> dict[str, list[dict]]:
    """The notes agents wrote on these conversations, as transcript messages from "staff note"."""
    found: dict[str, list[dict]] = {}
    ids = sorted(set(conversation_ids))
    for note in session.scalars(select(AgentNote).where(AgentNote.conversation_id.in_(ids)).order_by(AgentNote.at)) if ids else []:
        found.setdefault(note.conversation_id, []).append({"at": note.at.isoformat(), "from": "staff note", "by": note.staff_name,
                                                           "text": note.text})
    return found


def forget_handoffs(session: Session, conversation_ids: list[str]) -> None:
    """An erasure's part in the handoff's records: the notes go, and so do the queue's summaries and the
    tickets' copies of the conversation; who claimed and replied when (the handoff's audit) stays."""
    session.execute(delete(AgentNote).where(AgentNote.conversation_id.in_(conversation_ids)))
    session.execute(update(QueueEntry).where(QueueEntry.conversation_id.in_(conversation_ids)).values(summary={}))
    session.execute(update(Ticket).where(Ticket.conversation_id.in_(conversation_ids)).values(transcript=[]))


def carry_out(operation: str, customer_id: str, Session: sessionmaker, store: TrackerStore, now: dt.datetime) -> dict:
    """The assistant's part of a request, as the answer a company system would give (see worker.py).
    Raises TranscriptsUnavailable when the tracker store cannot be reached (the worker retries)."""
    with Session() as session:
        conversations = customer_conversations(session, customer_id)
    answer: dict[str, Any] = {"status": "done", "system": SYSTEM, "customer_id": customer_id}
    if operation == "export":
        transcripts = store.transcripts(conversations.own)
        return {**answer, "exported_at": now.isoformat(), "restricted": [], "categories": {
            CATEGORY: [{"conversation_id": t.conversation_id, "messages": len(t.messages)} for t in transcripts]}}
    if operation == "erase":
        erased, events = store.erase(conversations.own, now)
        with Session.begin() as session:
            records = session.execute(delete(AnswerRecord).where(AnswerRecord.conversation_id.in_(conversations.own))).rowcount
            forget_handoffs(session, conversations.own)
        kept = [{
            "category": CATEGORY, "count": len(conversations.shared), "retained_until": None,
            "reason": "conversations in which another customer was verified too; the privacy team decides what to erase",
        }] if conversations.shared else []
        return {**answer, "erased": {CATEGORY: erased}, "tracker_events_erased": events, "answer_records_erased": records, "kept": kept}
    return {**answer, "not_applicable": f"{operation} does not apply to the assistant's transcripts: they are kept to "
                                        "answer the customer and used for nothing else", "restricted": []}
