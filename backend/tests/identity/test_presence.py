"""A verification holds only where it was made: the channel, and for the website the connection, of the
message that logged in or typed the code (`Presence` in service.py). On SQLite and PostgreSQL, with the real company
systems and the real mail sink."""
from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session as OrmSession

from backoffice.identity import rules
from backoffice.identity.service import MAX_CONNECTIONS, present_in, record_presence
from backoffice.identity.tables import ConversationIdentity
from backoffice.shared.logs import reference
from chatprotocol import Presence

from .conftest import SERVICE, SESSION_SECRET

TOKENS = rules.SessionTokens(SESSION_SECRET)
AUTH = {"Authorization": SERVICE["Authorization"]}
TAB_A = {**AUTH, "X-Chat-Channel": "website", "X-Chat-Connection": "a0" * 16}
TAB_B = {**AUTH, "X-Chat-Channel": "website", "X-Chat-Connection": "b0" * 16}
REST = {**AUTH, "X-Chat-Channel": "rest"}
# Every way a message could name the conversation without being where it was verified.
ELSEWHERE = {
    "rest": REST,
    "rest-with-the-website-connection": {**REST, "X-Chat-Connection": TAB_A["X-Chat-Connection"]},
    "website-other-connection": TAB_B,
    "website-without-connection": {**AUTH, "X-Chat-Channel": "website"},
    "no-presence": AUTH,
}


def login(client, conversation_id, customer_id, headers):
    token, _ = TOKENS.issue(customer_id, dt.datetime.now(dt.UTC))
    return client.post("/api/identity/session", json={"conversation_id": conversation_id, "token": token}, headers=headers)


def verified(client, conversation_id, headers) -> bool:
    response = client.get(f"/api/identity/conversations/{conversation_id}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verified"] or body["customer_id"] is None  # nothing about the customer when not verified
    return body["verified"]


@pytest.mark.parametrize("where", list(ELSEWHERE))
def test_a_login_holds_only_on_its_own_connection(client, where):
    assert login(client, "c-login", "C0001", TAB_A).status_code == 200
    assert verified(client, "c-login", TAB_A)
    response = client.get("/api/identity/conversations/c-login", headers=ELSEWHERE[where])
    assert response.json() == {"conversation_id": "c-login", "verified": False, "customer_id": None, "method": None,
                               "verified_at": None, "expires_at": None}
    assert "C0001" not in response.text


def test_a_page_reload_with_the_login_stays_verified_and_other_tabs_keep_theirs(client):
    assert login(client, "c-reload", "C0002", TAB_A).status_code == 200
    assert not verified(client, "c-reload", TAB_B)  # the new connection is not verified by itself
    assert login(client, "c-reload", "C0002", TAB_B).status_code == 200  # the channel binds the login again
    assert verified(client, "c-reload", TAB_B) and verified(client, "c-reload", TAB_A)
    assert not verified(client, "c-reload", REST)


def test_a_code_verifies_the_connection_it_was_typed_on_and_a_reconnect_verifies_again(client, company, sink):
    email = company.email_of("C0003")
    asked = client.post("/api/identity/email-code", json={"conversation_id": "c-code", "email": email}, headers=TAB_A)
    assert asked.status_code == 202
    response = client.post("/api/identity/email-code/verify", json={"conversation_id": "c-code", "code": sink.code_for(email)},
                           headers=TAB_A)
    assert response.status_code == 200 and response.json()["customer_id"] == "C0003"
    assert verified(client, "c-code", TAB_A)
    for where, headers in ELSEWHERE.items():
        assert not verified(client, "c-code", headers), where


def test_a_code_typed_through_rest_verifies_rest_only(client, company, sink):
    email = company.email_of("C0004")
    client.post("/api/identity/email-code", json={"conversation_id": "c-rest", "email": email}, headers=REST)
    response = client.post("/api/identity/email-code/verify", json={"conversation_id": "c-rest", "code": sink.code_for(email)},
                           headers=REST)
    assert response.status_code == 200
    assert verified(client, "c-rest", REST)
    assert not verified(client, "c-rest", TAB_A)


@pytest.mark.parametrize("headers", [AUTH, {**AUTH, "X-Chat-Channel": "website"}], ids=["none", "website-without-connection"])
def test_a_verification_needs_a_presence(client, company, sink, headers):
    refused = login(client, "c-nowhere", "C0001", headers)
    assert refused.status_code == 400 and refused.json()["reason"] == "no_presence"
    email = company.email_of("C0005")
    client.post("/api/identity/email-code", json={"conversation_id": "c-nowhere", "email": email}, headers=TAB_A)
    code = sink.code_for(email)
    refused = client.post("/api/identity/email-code/verify", json={"conversation_id": "c-nowhere", "code": code}, headers=headers)
    assert refused.status_code == 400 and refused.json()["reason"] == "no_presence"
    assert not verified(client, "c-nowhere", TAB_A)


@pytest.mark.parametrize("header, value", [
    ("X-Chat-Channel", "Website!"), ("X-Chat-Channel", "w" * 41), ("X-Chat-Connection", "not-hex"),
    ("X-Chat-Connection", "a" * 33), ("X-Chat-Source", "1.2.3.4"),
])
def test_a_presence_of_the_wrong_shape_gets_a_clear_400(client, header, value):
    response = client.get("/api/identity/conversations/c-shape", headers={**TAB_A, header: value})
    assert response.status_code in (400, 422) and response.status_code != 500
    assert header.lower() in response.text.lower() or "bad_presence" in response.text


def test_a_stranger_naming_the_id_cannot_log_the_customer_out(client):
    assert login(client, "c-out", "C0006", TAB_A).status_code == 200
    for headers in ELSEWHERE.values():
        assert client.delete("/api/identity/conversations/c-out", headers=headers).json()["forgotten"] is False
    assert verified(client, "c-out", TAB_A)
    assert client.delete("/api/identity/conversations/c-out", headers=TAB_A).json()["forgotten"] is True
    assert not verified(client, "c-out", TAB_A)


def test_the_binding_stores_a_hash_of_the_connection_and_the_log_no_id(client, db_url, caplog):
    conversation = "c-hash-0123456789abcdef0123456789"
    assert login(client, conversation, "C0007", TAB_A).status_code == 200
    engine = create_engine(db_url)
    with OrmSession(engine) as s:
        row = s.scalars(select(ConversationIdentity).where(ConversationIdentity.conversation_id == conversation)).one()
    engine.dispose()
    assert row.channel == "website" and len(row.connections) == 1
    assert TAB_A["X-Chat-Connection"] not in str(row.connections)  # only its SHA-256
    with caplog.at_level(logging.WARNING, logger="backoffice.identity.service"):
        assert not verified(client, conversation, REST)
    # the conversation by its reference (shared.logs), not by its id nor a part of it (on WhatsApp: a phone number)
    assert "another channel" in caplog.text and reference(conversation) in caplog.text and conversation[:8] not in caplog.text


# --- the rules on their own ------------------------------------------------------------------------


def test_presence_rules():
    tab = Presence("website", "c0" * 16)
    row = ConversationIdentity(channel="", connections=[])
    record_presence(row, tab)
    assert present_in(row, tab)
    assert not present_in(row, Presence("website", "c1" * 16)) and not present_in(row, Presence("rest", "c0" * 16))
    assert not present_in(row, Presence("website", ""))  # a website message always has a connection
    tabs = [Presence("website", f"{n:032x}") for n in range(MAX_CONNECTIONS + 1)]
    for each in tabs:
        record_presence(row, each)
    assert not present_in(row, tab) and not present_in(row, tabs[0])  # the oldest connections are dropped
    assert all(present_in(row, each) for each in tabs[1:])
    record_presence(row, Presence("rest"))  # verified again elsewhere: the website connections no longer count
    assert present_in(row, Presence("rest")) and not any(present_in(row, each) for each in tabs)
