"""What happens when a customer files a privacy request, start to finish, in one place.

    file_request(session, customer_id, type, categories, details, client_request_id, now)

1. The input is checked: a known right, categories a connected system holds, the details the
   right needs (which field to correct and its new value; which consents to stop).
2. A repeated filing (same `client_request_id`, e.g. the assistant retried after a timeout) returns
   the request filed the first time: nothing is filed twice.
3. The deadline comes from `rules.due_date` (GDPR: one calendar month from receipt).
4. An erasure says which categories must be kept, and why, in the knowledge base's own words
   (`kept_after_erasure`, e.g. invoices for 7 years under Dutch tax law).
5. The request is written with one task per system that holds affected data (the tasks are the
   outbox the worker delivers; the assistant's own chat transcripts count as a system), the
   request's moves received -> verified -> in_progress, and an audit entry for each step.
6. An objection to direct marketing, an opt-out or a withdrawal of consent changes the customer's
   consent state right here, in the same transaction: it takes effect at once, with no approval
   step; the marketing system gets its task in the same breath. An objection to a processing on
   legitimate interest (Art. 21(1)) names that purpose and gets no task yet: it waits, verified,
   for the privacy team's decision (`objections`), which tells the systems or the customer why not.
7. Everything is committed in ONE transaction before this function returns. Only then may the
   caller tell the customer the request was filed: a request is never lost, and never half-filed.

Customers are verified before they can file (the assistant files only for a customer id that a
verified session or one-time code established), so a filed request starts its work at once.
"""
from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ... import catalogue as systems_catalogue
from ...catalogue import Catalogue
from ...knowledge.rules import KnowledgeBase, KnowledgeVersion, objectable_purposes, unheld
from ...knowledge.service import load_knowledge
from ...vocabulary import ADDRESS_PARTS, CONSENT_IDS, CORRECTABLE_FIELDS, DIRECT_MARKETING, RequestType, Status
from .. import rules
from ..tables import ConsentState, Request, SystemTask, append_audit
from .receipts import receipt_due

# What each right asks of a system (the calls are in backoffice/worker.py).
OPERATIONS: dict[RequestType, str] = {
    RequestType.ACCESS: "export",
    RequestType.PORTABILITY: "export",
    RequestType.ERASURE: "erase",
    RequestType.RESTRICTION: "restrict",
    # Art. 21(1): once the privacy team upholds it, the systems stop that one processing (objections.rules).
    RequestType.OBJECTION: "stop_processing",
    RequestType.RECTIFICATION: "rectify",
    RequestType.OBJECTION_DIRECT_MARKETING: "preferences",
    RequestType.WITHDRAW_CONSENT: "preferences",
    RequestType.OPT_OUT: "preferences",
}
CONSENT_TYPES = frozenset({RequestType.OBJECTION_DIRECT_MARKETING, RequestType.WITHDRAW_CONSENT, RequestType.OPT_OUT})
DETAIL_KEYS = frozenset({"field", "value", "purposes", "purpose", "note", "language"})

CUSTOMER_ID_MAX = 32
CLIENT_ID_MAX = 200


class FilingError(ValueError):
    """The request cannot be filed as given; the message says why, in words fit for the assistant."""


class FilingConflict(FilingError):
    """The client_request_id was already used for a different customer or right."""


@dataclass(frozen=True)
class Filed:
    """The outcome of a filing. `created` is False when this was a repeat of an earlier filing."""

    request: Request
    tasks: list[SystemTask]
    created: bool
    kept_after_erasure: list[dict] = field(default_factory=list)


def file_request(
    session: Session,
    customer_id: str,
    type: str,  # noqa: A002 - the name the callers and the API use
    categories: Iterable[str] | None,
    details: dict | None,
    client_request_id: str | None,
    now: dt.datetime,
    *,
    channel: str | None = None,
    conversation_id: str | None = None,
    knowledge: KnowledgeVersion | None = None,
    regime: rules.Regime = rules.GDPR,
    catalogue: Catalogue | None = None,
    filed_by: str | None = None,
) -> Filed:
    """File a request and commit it with its tasks and audit entries; see the module text for the steps.
    `filed_by` names the member of staff who filed it for the customer (the audit says so); else the customer did."""
    catalogue = catalogue or systems_catalogue.load()
    # 1. check the input
    request_type = _request_type(type)
    customer_id = _customer_id(customer_id)
    _check_now(now)
    client_request_id = _client_request_id(client_request_id)
    knowledge = knowledge or _current_knowledge(rules.local_date(now))
    wanted = _categories(request_type, categories, catalogue)
    details = _details(request_type, details or {}, knowledge)
    if request_type is RequestType.OBJECTION:
        wanted = objected_categories(details["purpose"], knowledge, catalogue)

    # 2. a repeated filing returns the request filed first
    existing = _find(session, client_request_id)
    if existing is not None:
        return _repeat(session, existing, customer_id, request_type)

    # 3. the deadline
    received_on = rules.local_date(now)
    due_on = rules.due_date(received_on, regime, request_type)

    # 4. what an erasure keeps, and why, from the knowledge base
    kept = kept_after_erasure(knowledge, wanted) if request_type is RequestType.ERASURE else []
    if kept:
        details = {**details, "kept_after_erasure": kept}
    # ... and what no connected system holds, so that the privacy team handles it by hand instead of it
    # silently dropping out of the request
    unheld = _unheld(request_type, categories, knowledge, catalogue)
    if unheld:
        details = {**details, "not_in_connected_systems": unheld}

    # 5, 6 and 7: written and committed together; a twin that won a race is returned instead
    for attempt in range(3):
        try:
            request, tasks = _write(session, customer_id, request_type, regime, wanted, details, client_request_id,
                                    received_on, due_on, now, channel, conversation_id, knowledge, catalogue, filed_by)
            session.commit()
            return Filed(request=request, tasks=tasks, created=True, kept_after_erasure=kept)
        except IntegrityError:
            session.rollback()
            existing = _find(session, client_request_id)
            if existing is not None:
                return _repeat(session, existing, customer_id, request_type)
            if attempt == 2:
                session.rollback()
                raise
        except BaseException:
            session.rollback()  # nothing half-filed stays behind, and no lock is kept
            raise
    raise AssertionError("unreachable")


def _write(
    session: Session, customer_id: str, request_type: RequestType, regime: rules.Regime, wanted: list[str],
    details: dict, client_request_id: str, received_on: dt.date, due_on: dt.date, now: dt.datetime,
    channel: str | None, conversation_id: str | None, knowledge: KnowledgeVersion | None, catalogue: Catalogue,
    filed_by: str | None = None,
) -> tuple[Request, list[SystemTask]]:
    """Steps 5 and 6: the request, its tasks (the outbox), consents, and an audit entry per step; not committed."""
    request_id = new_request_id(now)
    domain = rules.RightsRequest(id=request_id, customer_id=customer_id, type=request_type, received_on=received_on,
                              regime=regime, due_on=due_on)
    request = Request(
        id=request_id, customer_id=customer_id, type=request_type.value, regime=regime.name,
        status=domain.status.value, received_at=now, due_on=domain.due_on, original_due_on=domain.original_due_on,
        extended=False, categories=list(wanted), details=details, channel=_short(channel, 40),
        conversation_id=_short(conversation_id, 200), client_request_id=client_request_id,
        knowledge_version=knowledge.version.id if knowledge else None, updated_at=now,
    )
    session.add(request)
    session.flush()  # the request row first, so the rows that point at it can follow
    append_audit(session, rules.filed(domain, filed_by or f"customer:{customer_id}", now),
                 detail={"categories": list(wanted), "channel": channel, "conversation_id": conversation_id,
                         "knowledge_version": request.knowledge_version, "on_behalf_of": customer_id if filed_by else None})
    append_audit(session, receipt_due(request_id, domain.status, now))  # the outbox of the e-mail receipt (receipts.py)

    domain, entry = rules.transition(domain, Status.VERIFIED, "system:filing",
                                  f"identity verified before filing ({channel or 'assistant'})", now=now)
    append_audit(session, entry)
    tasks: list[SystemTask] = []
    if request_type is RequestType.OBJECTION:
        # weighed by a person first: no system hears of it until the privacy team upholds it
        append_audit(session, rules.AuditEntry(
            request_id=request_id, actor="system:filing", action="awaiting_decision", from_status=domain.status,
            to_status=domain.status, reason=f"objection to {details['purpose']} awaits the privacy team's decision", at=now,
        ), detail={"purpose": details["purpose"], "note": details.get("note")})
    else:
        tasks = [_task(request_id, system, cats, request_type, details, now) for system, cats in catalogue.route(wanted).items()]
        session.add_all(tasks)
        domain, entry = rules.transition(domain, Status.IN_PROGRESS, "system:filing",
                                      f"sent to {', '.join(t.system for t in tasks)}", now=now)
        append_audit(session, entry, detail={"tasks": {t.system: t.categories for t in tasks}})
    request.status = domain.status.value

    # 6. a stop to marketing or a withdrawal of consent takes effect now, not when a system answers
    if request_type in CONSENT_TYPES:
        _stop_consents(session, customer_id, details["purposes"], request_id, request_type, now)
    session.flush()
    return request, tasks


def checked_request(type: str, categories: Iterable[str] | None, details: dict | None,  # noqa: A002
                    catalogue: Catalogue | None = None, knowledge: KnowledgeVersion | None = None,
                    ) -> tuple[str, list[str], dict]:
    """Step 1 on its own: the right, categories and details as filing would take them; `FilingError` if not.
    A draft is checked when it is made, so the customer confirms only what can be filed."""
    request_type = _request_type(type)
    catalogue = catalogue or systems_catalogue.load()
    wanted = _categories(request_type, categories, catalogue)
    if request_type is RequestType.OBJECTION:
        knowledge = knowledge or _current_knowledge(dt.datetime.now(dt.UTC).date())
        clean = _details(request_type, details or {}, knowledge)
        return request_type.value, objected_categories(clean["purpose"], knowledge, catalogue), clean
    return request_type.value, wanted, _details(request_type, details or {})


def objected_categories(purpose: str, knowledge: KnowledgeVersion | None, catalogue: Catalogue) -> list[str]:
    """The categories a processing objected to uses that a connected system holds, in the catalogue's order."""
    uses = objectable_purposes(knowledge.purposes if knowledge else ()).get(purpose, ())
    return [c for c in catalogue.categories if c in uses]


def kept_after_erasure(knowledge: KnowledgeVersion | None, categories: Iterable[str]) -> list[dict]:
    """The categories an erasure keeps, with the knowledge base's reason in Dutch and English."""
    if knowledge is None:
        return []
    kept = []
    for category_id in categories:
        category = knowledge.category(category_id)
        if category is not None and category.kept_after_erasure is not None:
            kept.append({
                "category": category_id,
                "name": category.name.model_dump(),
                "reason": category.kept_after_erasure.model_dump(),
            })
    return kept


def new_request_id(now: dt.datetime) -> str:
    """A readable, unguessable id: REQ-<year>-<10 characters of Crockford base32> (50 random bits)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = secrets.randbits(50)
    token = "".join(alphabet[(value >> shift) & 31] for shift in range(45, -1, -5))
    return f"REQ-{now.year}-{token}"


# --- the steps, in the order file_request uses them ---------------------------------------------


def _request_type(value: Any) -> RequestType:
    try:
        return RequestType(value)
    except ValueError:
        rights = ", ".join(t.value for t in RequestType)
        raise FilingError(f"'{value}' is not a right we handle; choose one of: {rights}") from None


def _customer_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FilingError("a request needs the verified customer's id")
    value = value.strip()
    if len(value) > CUSTOMER_ID_MAX or not all(ch.isalnum() or ch in "-_" for ch in value):
        raise FilingError(f"customer id must be 1 to {CUSTOMER_ID_MAX} letters, digits, '-' or '_'")
    return value


def _check_now(now: Any) -> None:
    if not isinstance(now, dt.datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise FilingError("`now` must be a timezone-aware datetime")


def _client_request_id(value: str | None) -> str:
    if value is None:
        return f"auto-{uuid.uuid4()}"  # no de-duplication asked for
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > CLIENT_ID_MAX:
        raise FilingError(f"client_request_id must be 1 to {CLIENT_ID_MAX} characters")
    return value.strip()


def _categories(request_type: RequestType, categories: Iterable[str] | None, catalogue: Catalogue) -> list[str]:
    """The categories the request covers, in catalogue order; none given means all that apply."""
    if request_type in CONSENT_TYPES:
        fixed = ["marketing_preferences"]
    elif request_type is RequestType.RECTIFICATION:
        fixed = ["contact_details"]
    else:
        fixed = None
    if isinstance(categories, str):
        categories = [categories]
    given = list(dict.fromkeys(categories or ()))
    held = catalogue.categories
    unknown = [c for c in given if not isinstance(c, str) or c not in held]
    if unknown:
        raise FilingError(
            f"no connected system holds {', '.join(map(str, unknown))}; the categories are: {', '.join(held)}"
        )
    if fixed is not None:
        outside = [c for c in given if c not in fixed]
        if outside:
            raise FilingError(f"a {request_type.value} request is about {', '.join(fixed)}, not {', '.join(outside)}")
        return fixed
    if not given:
        return list(held)
    return [c for c in held if c in given]


def _unheld(request_type: RequestType, categories: Iterable[str] | None, knowledge: KnowledgeVersion | None,
            catalogue: Catalogue) -> list[str]:
    """The register's categories a request about "everything" covers that no connected system holds."""
    if categories or request_type in CONSENT_TYPES or request_type in (RequestType.RECTIFICATION, RequestType.OBJECTION) \
            or knowledge is None:
        return []
    return unheld(catalogue, knowledge)


def _details(request_type: RequestType, details: Any, knowledge: KnowledgeVersion | None = None) -> dict:
    if not isinstance(details, dict):
        raise FilingError("details must be an object")
    unknown = sorted(set(details) - DETAIL_KEYS)
    if unknown:
        raise FilingError(f"unknown details: {', '.join(unknown)}")
    clean: dict[str, Any] = {}
    note = details.get("note")
    if note is not None:
        if not isinstance(note, str) or len(note) > 2000:
            raise FilingError("a note must be text of at most 2000 characters")
        clean["note"] = note.strip()
    if details.get("language") is not None:
        if details["language"] not in ("nl", "en"):
            raise FilingError("language must be 'nl' or 'en'")
        clean["language"] = details["language"]

    if request_type is RequestType.RECTIFICATION:
        field_name, value = details.get("field"), details.get("value")
        if field_name not in CORRECTABLE_FIELDS:
            raise FilingError(f"say which field to correct: one of {', '.join(CORRECTABLE_FIELDS)}")
        if isinstance(value, str):
            value = value.strip()
            ok = 0 < len(value) <= 300
        elif isinstance(value, dict):
            ok = 0 < len(value) <= 8 and all(isinstance(k, str) and isinstance(v, str) and len(v) <= 200 for k, v in value.items())
        else:
            ok = False
        if not ok:
            raise FilingError(f"give the correct {field_name} (text, or for a name or address its parts)")
        if field_name == "address" and not (isinstance(value, dict) and set(ADDRESS_PARTS) <= set(value)):
            raise FilingError(f"give the address in its parts: {', '.join(ADDRESS_PARTS)} (country optional)")
        clean.update(field=field_name, value=value)
    elif "field" in details or "value" in details:
        raise FilingError("a field and new value belong to a correction (rectification) request")

    if request_type in CONSENT_TYPES:
        purposes = details.get("purposes")
        allowed = DIRECT_MARKETING if request_type is RequestType.OBJECTION_DIRECT_MARKETING else CONSENT_IDS
        if purposes is None:
            if request_type is RequestType.WITHDRAW_CONSENT:
                raise FilingError(f"say which consent to withdraw: {', '.join(CONSENT_IDS)}")
            purposes = list(DIRECT_MARKETING)
        if isinstance(purposes, str):
            purposes = [purposes]
        if not isinstance(purposes, list) or not purposes or any(p not in allowed for p in purposes):
            raise FilingError(f"purposes must be one or more of: {', '.join(allowed)}")
        clean["purposes"] = [p for p in allowed if p in purposes]
    elif "purposes" in details:
        raise FilingError("purposes belong to an objection to marketing, an opt-out or a withdrawal of consent")

    if request_type is RequestType.OBJECTION:
        objectable = objectable_purposes(knowledge.purposes if knowledge else ())
        purpose = details.get("purpose")
        if purpose not in objectable:
            raise FilingError(f"say which processing on legitimate interest the objection is to: one of {', '.join(objectable)} "
                              "(an objection to direct marketing is objection_direct_marketing)")
        clean["purpose"] = purpose
    elif "purpose" in details:
        raise FilingError("a purpose belongs to an objection (Art. 21(1))")
    return clean


def _find(session: Session, client_request_id: str) -> Request | None:
    return session.scalar(select(Request).where(Request.client_request_id == client_request_id))


def _repeat(session: Session, existing: Request, customer_id: str, request_type: RequestType) -> Filed:
    if existing.customer_id != customer_id or existing.type != request_type.value:
        raise FilingConflict("this client_request_id was already used for a different request")
    tasks = list(session.scalars(select(SystemTask).where(SystemTask.request_id == existing.id).order_by(SystemTask.id)))
    return Filed(request=existing, tasks=tasks, created=False,
                 kept_after_erasure=list((existing.details or {}).get("kept_after_erasure", [])))


def _task(request_id: str, system: str, categories: list[str], request_type: RequestType, details: dict, now: dt.datetime) -> SystemTask:
    operation = OPERATIONS[request_type]
    if operation in ("erase", "restrict"):
        payload: dict | None = {"categories": categories}
    elif operation == "rectify":
        payload = {"field": details["field"], "value": details["value"]}
    elif operation == "preferences":
        payload = {purpose: False for purpose in details["purposes"]}
    else:
        payload = None
    # The domain names the key: the same every time this request reaches this system.
    domain = rules.SystemTask.for_request(request_id, system, categories)
    return SystemTask(
        request_id=request_id, system=system, categories=list(categories), operation=operation, payload=payload,
        state=domain.state.value, attempts=0, next_attempt_at=now, idempotency_key=domain.idempotency_key,
        created_at=now,
    )


def _stop_consents(session: Session, customer_id: str, purposes: list[str], request_id: str,
                   request_type: RequestType, now: dt.datetime) -> None:
    changed = {}
    for purpose in purposes:
        row = session.get(ConsentState, (customer_id, purpose))
        if row is None:
            row = ConsentState(customer_id=customer_id, purpose=purpose, granted=False, changed_at=now, source=f"request:{request_id}")
            session.add(row)
        else:
            row.granted, row.changed_at, row.source = False, now, f"request:{request_id}"
        changed[purpose] = False
    append_audit(session, rules.AuditEntry(
        request_id=request_id, actor=f"customer:{customer_id}", action="consent",
        from_status=Status.IN_PROGRESS, to_status=Status.IN_PROGRESS,
        reason=f"{request_type.value} ({request_type.article}) takes effect at once", at=now,
    ), detail={"consents": changed})


def _short(value: str | None, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


@lru_cache(maxsize=4)
def _knowledge_base(root: Path) -> KnowledgeBase:
    return load_knowledge(root)


def _current_knowledge(today: dt.date) -> KnowledgeVersion | None:
    from ...settings import Settings

    return _knowledge_base(Settings.from_env().knowledge_dir).current(today)
