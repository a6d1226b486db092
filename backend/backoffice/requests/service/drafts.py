"""Request drafts: what the customer is asked to confirm lives here, and "yes" files exactly that.

    draft = make_draft(session, conversation_id, customer_id, type, categories, details, knowledge_version, now)
    filed, draft = file_draft(session, draft_id, conversation_id, customer_id, now, kb, channel)

The assistant makes a draft when it shows the summary, and keeps only the draft's id in the
conversation. A slot can be typed or crafted (`/affirm{"pending_request": ...}`, or a tracker sent
straight to the action server); a draft cannot: it was checked by the same rules as a filing, for the
customer the conversation is verified as, and it files only

- in the conversation it was made in, for the same customer, while that customer is verified where
  the message comes from (the caller checks the presence: identity's presence check);
- before it expires (DRAFT_TTL), and only once: filing is idempotent on the draft id (its
  `client_request_id` is `draft-<id>`), so "yes" again after an unsure answer returns the request
  filed the first time, through the usual path (filing.py: one transaction with its outbox).
"""
from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...catalogue import Catalogue
from ...knowledge.rules import KnowledgeBase
from ..tables import RequestDraft
from .filing import Filed, checked_request, file_request

DRAFT_TTL = dt.timedelta(minutes=30)
MAX_OPEN_DRAFTS = 20  # unfiled, unexpired drafts one conversation may hold


class DraftRefused(Exception):
    """The draft cannot be made or filed; `status`, `reason` and `detail` are the HTTP answer."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def draft_view(draft: RequestDraft) -> dict:
    return {
        "draft_id": draft.id, "type": draft.type, "categories": draft.categories, "details": draft.details,
        "knowledge_version": draft.knowledge_version, "created_at": draft.created_at.isoformat(),
        "expires_at": draft.expires_at.isoformat(), "request_id": draft.request_id,
    }


def make_draft(session: Session, conversation_id: str, customer_id: str, type: str,  # noqa: A002
               categories: Iterable[str] | None, details: dict | None, knowledge_version: str | None,
               now: dt.datetime, catalogue: Catalogue | None = None) -> RequestDraft:
    """Check and store the request as the summary shows it; committed. `FilingError` if it could not be filed."""
    kind, wanted, clean = checked_request(type, categories, details, catalogue)
    open_drafts = session.execute(select(func.count()).select_from(RequestDraft).where(
        RequestDraft.conversation_id == conversation_id, RequestDraft.request_id.is_(None), RequestDraft.expires_at > now)).scalar_one()
    if open_drafts >= MAX_OPEN_DRAFTS:
        raise DraftRefused(429, "too_many_drafts", f"this conversation has {open_drafts} requests waiting for a yes or no already")
    draft = RequestDraft(id=f"DRAFT-{secrets.token_hex(12)}", conversation_id=conversation_id, customer_id=customer_id,
                         type=kind, categories=wanted if categories else None, details=clean, knowledge_version=knowledge_version,
                         created_at=now, expires_at=now + DRAFT_TTL)
    session.add(draft)
    session.commit()
    return draft


def file_draft(session: Session, draft_id: str, conversation_id: str, customer_id: str, now: dt.datetime,
               kb: KnowledgeBase, channel: str, catalogue: Catalogue | None = None) -> tuple[Filed, RequestDraft]:
    """File exactly the stored draft, once; `DraftRefused` for another conversation's, another customer's or an expired one."""
    draft = session.scalar(select(RequestDraft).where(RequestDraft.id == draft_id).with_for_update())
    if draft is None or not hmac.compare_digest(draft.conversation_id.encode(), conversation_id.encode()):
        raise DraftRefused(404, "no_draft", "there is no such request waiting for confirmation in this conversation")
    if draft.customer_id != customer_id:
        raise DraftRefused(409, "other_customer", "this request was drafted for the customer the conversation was verified as before")
    if draft.request_id is None and draft.expires_at <= now:
        raise DraftRefused(410, "draft_expired", f"this request waited more than {int(DRAFT_TTL.total_seconds() // 60)} "
                                                 "minutes for confirmation: ask for it again")
    # What an erasure keeps is worded from the version the customer's summary came from.
    knowledge = (kb.get(draft.knowledge_version) if draft.knowledge_version else None) or kb.current_at(now)
    filed = file_request(session, draft.customer_id, draft.type, draft.categories, draft.details, f"draft-{draft.id}",
                         now, channel=channel, conversation_id=draft.conversation_id, knowledge=knowledge, catalogue=catalogue)
    if draft.request_id is None:
        draft.request_id, draft.filed_at = filed.request.id, now
        session.commit()
    return filed, draft
