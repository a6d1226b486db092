"""Request drafts (service/drafts.py): "yes" files exactly the draft the summary showed, once, in its own
conversation, for its own customer, where the conversation is verified. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backoffice.app import create_app
from backoffice.identity.rules import SessionTokens
from backoffice.requests.service.drafts import DRAFT_TTL, MAX_OPEN_DRAFTS
from backoffice.requests.tables import Request, RequestDraft

from .test_ledger_api import settings_for

SESSION_SECRET = "drafts-test-session-secret-0123456789abcdef"
TOKENS = SessionTokens(SESSION_SECRET)
AUTH = {"Authorization": "Bearer ledger-service-token"}
TAB = {**AUTH, "X-Chat-Channel": "website", "X-Chat-Connection": "d1" * 16}
OTHER_TAB = {**AUTH, "X-Chat-Channel": "website", "X-Chat-Connection": "d2" * 16}
REST = {**AUTH, "X-Chat-Channel": "rest"}
ERASURE = {"type": "erasure", "categories": ["invoices", "store_visits"], "details": {"language": "en"}}


class Clock:
    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(ledger_url, kb, clock):
    settings = settings_for(ledger_url, session_token_secret=SESSION_SECRET)
    app = create_app(settings, clock=clock)
    with TestClient(app) as c:
        yield c


def verified_conversation(client, customer_id="C0050", headers=TAB) -> str:
    conversation = f"conv-{uuid.uuid4().hex[:12]}"
    token, _ = TOKENS.issue(customer_id, dt.datetime.now(dt.UTC))
    bound = client.post("/api/identity/session", json={"conversation_id": conversation, "token": token}, headers=headers)
    assert bound.status_code == 200, bound.text
    return conversation


def draft(client, conversation, body=None, headers=TAB):
    return client.post(f"/api/conversations/{conversation}/drafts", json=body or {**ERASURE, "knowledge_version": None},
                       headers=headers)


def file(client, conversation, draft_id, headers=TAB):
    return client.post(f"/api/conversations/{conversation}/drafts/{draft_id}/file", headers=headers)


def filed_count(Session) -> int:
    with Session() as s:
        return s.scalar(select(func.count()).select_from(Request))


def test_yes_files_exactly_the_stored_draft_once(client, Session, knowledge):
    conversation = verified_conversation(client)
    made = draft(client, conversation, {**ERASURE, "knowledge_version": knowledge.version.id})
    assert made.status_code == 201, made.text
    shown = made.json()
    assert shown["draft_id"].startswith("DRAFT-") and shown["request_id"] is None
    assert (shown["type"], shown["categories"], shown["knowledge_version"]) == (
        "erasure", ["invoices", "store_visits"], knowledge.version.id)

    first = file(client, conversation, shown["draft_id"])
    assert first.status_code == 201, first.text
    filed = first.json()
    assert filed["created"] is True and filed["customer_id"] == "C0050" and filed["conversation_id"] == conversation
    assert (filed["type"], filed["categories"]) == ("erasure", ["invoices", "store_visits"])
    assert filed["channel"] == "assistant:website" and filed["knowledge_version"] == knowledge.version.id
    assert [k["category"] for k in filed["kept_after_erasure"]] == ["invoices"]
    assert filed["draft"]["request_id"] == filed["id"]

    again = file(client, conversation, shown["draft_id"])  # "yes" again, e.g. after an unsure answer
    assert again.status_code == 200 and again.json()["id"] == filed["id"] and again.json()["created"] is False
    assert filed_count(Session) == 1
    with Session() as s:
        assert s.scalar(select(Request.client_request_id)) == f"draft-{shown['draft_id']}"

    listing = client.get(f"/api/conversations/{conversation}/requests", headers=TAB).json()
    assert [r["id"] for r in listing["requests"]] == [filed["id"]]


def test_a_draft_files_only_in_its_own_conversation(client, Session):
    mine, theirs = verified_conversation(client, "C0051"), verified_conversation(client, "C0052", OTHER_TAB)
    draft_id = draft(client, theirs, headers=OTHER_TAB).json()["draft_id"]
    for attempt in (file(client, mine, draft_id), file(client, mine, "DRAFT-" + "0" * 24), file(client, mine, "x" * 300)):
        assert attempt.status_code == 404 and attempt.json()["reason"] == "no_draft", attempt.text
    assert filed_count(Session) == 0


@pytest.mark.parametrize("where", ["rest", "other-tab", "no-presence"])
def test_another_channel_or_connection_can_neither_draft_nor_file_nor_read(client, Session, where):
    headers = {"rest": REST, "other-tab": OTHER_TAB, "no-presence": AUTH}[where]
    conversation = verified_conversation(client, "C0053")
    draft_id = draft(client, conversation).json()["draft_id"]
    assert draft(client, conversation, headers=headers).status_code == 403
    refused = file(client, conversation, draft_id, headers=headers)
    assert refused.status_code == 403 and refused.json()["reason"] == "not_verified"
    listing = client.get(f"/api/conversations/{conversation}/requests", headers=headers)
    assert listing.status_code == 403 and "C0053" not in listing.text
    assert filed_count(Session) == 0


def test_an_expired_draft_files_nothing(client, Session, clock):
    conversation = verified_conversation(client, "C0054")
    draft_id = draft(client, conversation).json()["draft_id"]
    clock.offset = DRAFT_TTL + dt.timedelta(seconds=1)
    token, _ = TOKENS.issue("C0054", clock())
    client.post("/api/identity/session", json={"conversation_id": conversation, "token": token}, headers=TAB)  # still verified
    expired = file(client, conversation, draft_id)
    assert expired.status_code == 410 and expired.json()["reason"] == "draft_expired"
    assert filed_count(Session) == 0


def test_a_draft_of_the_customer_before_is_not_filed_for_the_next(client, Session):
    conversation = verified_conversation(client, "C0055")
    draft_id = draft(client, conversation).json()["draft_id"]
    assert client.delete(f"/api/identity/conversations/{conversation}", headers=TAB).json()["forgotten"] is True
    token, _ = TOKENS.issue("C0056", dt.datetime.now(dt.UTC))
    assert client.post("/api/identity/session", json={"conversation_id": conversation, "token": token}, headers=TAB).status_code == 200
    refused = file(client, conversation, draft_id)
    assert refused.status_code == 409 and refused.json()["reason"] == "other_customer"
    assert filed_count(Session) == 0


@pytest.mark.parametrize("body, words", [
    ({"type": "withdraw_consent", "details": {}}, "which consent"),
    ({"type": "erasure", "categories": ["horoscope"]}, "horoscope"),
    ({"type": "erasure", "details": {"customer_id": "C0001"}}, "unknown details"),
    ({"type": "access", "knowledge_version": "9999-01"}, "unknown knowledge version"),
])
def test_a_draft_that_could_not_be_filed_is_refused_when_made(client, Session, body, words):
    conversation = verified_conversation(client, "C0057")
    refused = draft(client, conversation, body)
    assert refused.status_code == 422 and words in refused.text
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(RequestDraft)) == 0


def test_drafts_per_conversation_are_bounded(client):
    conversation = verified_conversation(client, "C0058")
    for _ in range(MAX_OPEN_DRAFTS):
        assert draft(client, conversation).status_code == 201
    refused = draft(client, conversation)
    assert refused.status_code == 429 and refused.json()["reason"] == "too_many_drafts"


def test_two_yeses_at_once_file_one_request(client, Session):
    conversation = verified_conversation(client, "C0059")
    draft_id = draft(client, conversation).json()["draft_id"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: file(client, conversation, draft_id), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert filed_count(Session) == 1
