"""Identity verification through the HTTP API, on SQLite and PostgreSQL, with the real company systems
(to find an address) and the real mail sink (to receive the code, as a customer would)."""
from __future__ import annotations

import datetime as dt
import json

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session as OrmSession

from backoffice.app import create_app
from backoffice.identity import rules
from backoffice.identity.tables import ConversationIdentity, VerificationAttempt

from .conftest import CODE_EMAIL_SUBJECT, OTP_SECRET, SERVICE, SESSION_SECRET, make_settings

TOKENS = rules.SessionTokens(SESSION_SECRET)


@pytest.fixture
def rows(db_url):
    engine = create_engine(db_url)

    class Rows:
        def attempts(self, conversation_id=None) -> list[VerificationAttempt]:
            with OrmSession(engine) as s:
                query = select(VerificationAttempt).order_by(VerificationAttempt.id)
                if conversation_id:
                    query = query.where(VerificationAttempt.conversation_id == conversation_id)
                return list(s.scalars(query))

        def bindings(self) -> list[ConversationIdentity]:
            with OrmSession(engine) as s:
                return list(s.scalars(select(ConversationIdentity).order_by(ConversationIdentity.id)))

        def dump(self) -> str:
            """Every value of every identity table, as text."""
            with engine.connect() as c:
                found = []
                for table in ("verification_attempts", "conversation_identities"):
                    found += [json.dumps([str(v) for v in row]) for row in c.execute(text(f"SELECT * FROM {table}"))]
                return "\n".join(found)

    yield Rows()
    engine.dispose()


def ask_code(client, conversation_id, email, **extra):
    return client.post("/api/identity/email-code", json={"conversation_id": conversation_id, "email": email, **extra}, headers=SERVICE)


def verify(client, conversation_id, code):
    return client.post("/api/identity/email-code/verify", json={"conversation_id": conversation_id, "code": code}, headers=SERVICE)


def status_of(client, conversation_id) -> dict:
    response = client.get(f"/api/identity/conversations/{conversation_id}", headers=SERVICE)
    assert response.status_code == 200
    return response.json()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


# --- service token -------------------------------------------------------------------------------


def test_every_identity_call_needs_the_service_token(client, company, sink):
    token, _ = TOKENS.issue("C0001", dt.datetime.now(dt.UTC))
    calls = [
        ("POST", "/api/identity/session", {"conversation_id": "c-auth", "token": token}),
        ("POST", "/api/identity/email-code", {"conversation_id": "c-auth", "email": company.email_of("C0001")}),
        ("POST", "/api/identity/email-code/verify", {"conversation_id": "c-auth", "code": "123456"}),
        ("GET", "/api/identity/conversations/c-auth", None),
        ("DELETE", "/api/identity/conversations/c-auth", None),
    ]
    for method, path, body in calls:
        for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": SERVICE["Authorization"] + "x"}):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers)
    assert sink.messages() == []  # nothing was sent
    assert status_of(client, "c-auth")["verified"] is False  # nothing was bound


# --- website session -----------------------------------------------------------------------------


def test_a_website_session_binds_the_conversation(client, rows):
    token, _ = TOKENS.issue("C0004", dt.datetime.now(dt.UTC))
    response = client.post("/api/identity/session", json={"conversation_id": "c-web", "token": token}, headers=SERVICE)
    assert response.status_code == 200, response.text
    bound = response.json()
    assert (bound["verified"], bound["customer_id"], bound["method"]) == (True, "C0004", "session")
    assert response.headers["cache-control"] == "no-store"
    assert status_of(client, "c-web") == bound
    expires = dt.datetime.fromisoformat(bound["expires_at"])
    assert dt.timedelta(minutes=59) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=60)
    [attempt] = rows.attempts("c-web")
    assert (attempt.channel, attempt.customer_id, attempt.outcome) == ("session", "C0004", "verified")
    assert attempt.verified_at is not None and attempt.code_hash is None
    assert status_of(client, "c-other")["verified"] is False


def forged_tokens() -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    good, _ = TOKENS.issue("C0004", now)
    header, payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    tampered_payload = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "C0001"}).encode()).decode()
    return {
        "bad_signature": ".".join([header, tampered_payload, signature]),
        "expired": TOKENS.issue("C0001", now - dt.timedelta(minutes=31))[0],
        "wrong_audience": rules.SessionTokens(SESSION_SECRET, audience="webshop").issue("C0001", now)[0],
        "other_secret": rules.SessionTokens("a-different-secret-of-the-same-length-0123").issue("C0001", now)[0],
        "unsigned": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJDMDAwMSJ9.",  # alg "none"
        "malformed": "not.a.token",
    }


@pytest.mark.parametrize("kind", ["bad_signature", "expired", "wrong_audience", "other_secret", "unsigned", "malformed"])
def test_forged_expired_and_misaddressed_tokens_are_refused(client, rows, kind):
    response = client.post("/api/identity/session", json={"conversation_id": f"c-{kind}", "token": forged_tokens()[kind]}, headers=SERVICE)
    assert response.status_code == 401
    body = response.json()
    assert body["verified"] is False and body["detail"]
    assert body["reason"] == {"other_secret": "bad_signature", "unsigned": "bad_signature"}.get(kind, kind)
    said = {"expired": "expired", "bad_signature": "signature", "other_secret": "signature", "wrong_audience": "not meant for the chat"}
    assert said.get(kind, "") in body["detail"]
    assert status_of(client, f"c-{kind}")["verified"] is False
    assert "C0001" not in response.text
    [attempt] = rows.attempts(f"c-{kind}")  # the refusal is recorded, without a customer
    assert attempt.customer_id is None and attempt.verified_at is None and attempt.outcome.startswith("refused:")
    assert rows.bindings() == []


def test_a_verified_conversation_does_not_silently_become_someone_else(client):
    now = dt.datetime.now(dt.UTC)
    first = client.post("/api/identity/session", json={"conversation_id": "c-two", "token": TOKENS.issue("C0001", now)[0]}, headers=SERVICE)
    assert first.status_code == 200
    again = client.post("/api/identity/session", json={"conversation_id": "c-two", "token": TOKENS.issue("C0001", now)[0]}, headers=SERVICE)
    assert again.status_code == 200 and again.json()["customer_id"] == "C0001"  # the same customer refreshes it
    other = client.post("/api/identity/session", json={"conversation_id": "c-two", "token": TOKENS.issue("C0002", now)[0]}, headers=SERVICE)
    assert other.status_code == 409 and other.json()["reason"] == "other_customer"
    assert status_of(client, "c-two")["customer_id"] == "C0001"
    forgotten = client.delete("/api/identity/conversations/c-two", headers=SERVICE)
    assert forgotten.status_code == 200 and forgotten.json()["forgotten"] is True
    assert status_of(client, "c-two")["verified"] is False
    assert client.delete("/api/identity/conversations/c-two", headers=SERVICE).json()["forgotten"] is False
    after = client.post("/api/identity/session", json={"conversation_id": "c-two", "token": TOKENS.issue("C0002", now)[0]}, headers=SERVICE)
    assert after.status_code == 200 and after.json()["customer_id"] == "C0002"


def test_a_binding_ends_when_it_expires(client, clock):
    token, _ = TOKENS.issue("C0005", clock())
    assert client.post("/api/identity/session", json={"conversation_id": "c-exp", "token": token}, headers=SERVICE).status_code == 200
    clock.advance(minutes=59)
    assert status_of(client, "c-exp")["verified"] is True
    clock.advance(minutes=2)
    assert status_of(client, "c-exp") == {"conversation_id": "c-exp", "verified": False, "customer_id": None, "method": None,
                                          "verified_at": None, "expires_at": None}


def test_without_a_session_secret_no_token_is_accepted(db_url, company, sink):
    for secret in ("", "change-me", "change-me-session-secret-that-is-long-enough"):
        app = create_app(make_settings(db_url, company, sink, session_token_secret=secret))
        with TestClient(app) as c:
            token = rules.SessionTokens("change-me-session-secret-that-is-long-enough").issue("C0001", dt.datetime.now(dt.UTC))[0]
            response = c.post("/api/identity/session", json={"conversation_id": "c-noconf", "token": token}, headers=SERVICE)
            assert response.status_code == 503 and "SESSION_TOKEN_SECRET" in response.json()["detail"]


# --- one-time code by e-mail ---------------------------------------------------------------------


def test_a_code_goes_to_the_address_on_file_and_the_right_code_binds(client, company, sink, rows):
    email = company.email_of("C0001")
    response = ask_code(client, "c-mail", email.upper(), language="en")  # typed in capitals: found all the same
    assert response.status_code == 202, response.text
    assert "valid for 10 minutes" in response.json()["detail"]
    [message] = sink.wait_for(email)
    assert message["rcpt_tos"] == [email]  # sent to the address as the company has it on file
    text_ = message["text"]
    assert text_.index("Your verification code") < text_.index("Je verificatiecode")  # English first, as asked
    for words in ("10 minutes", "10 minuten", "We never ask for a copy of your identity document",
                  "Wij vragen nooit om een kopie van je identiteitsbewijs", "Did you not ask for this? Then ignore this e-mail",
                  "Heb je hier niet om gevraagd? Negeer deze e-mail"):
        assert words in text_, words
    code = sink.code_for(email)
    assert status_of(client, "c-mail")["verified"] is False  # asking binds nothing

    ok = verify(client, "c-mail", f"{code[:3]} {code[3:]}")
    assert ok.status_code == 200, ok.text
    assert (ok.json()["verified"], ok.json()["customer_id"], ok.json()["method"]) == (True, "C0001", "email")
    assert status_of(client, "c-mail")["customer_id"] == "C0001"
    [attempt] = rows.attempts("c-mail")
    assert attempt.customer_id == "C0001" and attempt.verified_at is not None and attempt.sent_at is not None
    assert attempt.attempts == 1 and attempt.outcome == "verified"

    used = verify(client, "c-mail", code)  # a code works once
    assert used.status_code == 409 and used.json()["reason"] == "already_used"


def test_the_code_is_stored_hashed_never_in_plain(client, company, sink, rows):
    email = company.email_of("C0002")
    ask_code(client, "c-hash", email)
    code = sink.code_for(email)
    [attempt] = rows.attempts("c-hash")
    assert attempt.code_hash == rules.hash_code(code, attempt.salt, OTP_SECRET)
    assert code not in rows.dump()  # not in any column of any identity table
    assert email not in rows.dump()  # nor the address
    assert verify(client, "c-hash", code).status_code == 200
    assert code not in rows.dump()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, company, sink, rows):
    known = company.email_of("C0003")
    unknown = "nobody.here@example.nl"
    answer_unknown = ask_code(client, "c-enum-1", unknown)
    answer_known = ask_code(client, "c-enum-2", known)
    assert answer_unknown.status_code == answer_known.status_code == 202
    strip = lambda r: {k: v for k, v in r.json().items() if k != "conversation_id"}  # noqa: E731
    assert strip(answer_unknown) == strip(answer_known)
    assert answer_unknown.headers.get("content-length") == answer_known.headers.get("content-length")
    sink.wait_for(known)  # the sink works, and it has had its chance...
    assert sink.messages(unknown) == [] and len(sink.messages()) == 1  # ...but nothing went to the unknown address
    # Trying a code tells nothing either: the same "wrong code" as for a known address, not "no code".
    for conversation in ("c-enum-1", "c-enum-2"):
        response = verify(client, conversation, "000000" if sink.code_for(known) != "000000" else "000001")
        assert response.status_code == 400 and response.json() == {
            "verified": False, "reason": "wrong_code", "detail": "that code is not right: 4 tries left", "attempts_left": 4}
    decoy = rows.attempts("c-enum-1")[0]
    assert decoy.customer_id is None and decoy.usable is False and decoy.sent_at is None


def test_five_wrong_codes_lock_and_even_the_right_code_is_refused_until_the_lock_ends(client, company, sink, clock, rows):
    email = company.email_of("C0006")
    ask_code(client, "c-lock", email)
    code = sink.code_for(email)
    answers = [verify(client, "c-lock", wrong(code)) for _ in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]
    assert [a.json()["attempts_left"] for a in answers] == [4, 3, 2, 1, 0]
    locked = answers[-1].json()
    assert locked["reason"] == "locked" and "ask for a new code after" in locked["detail"]
    assert 899 <= int(answers[-1].headers["retry-after"]) <= 900 and locked["retry_after_seconds"] <= 900
    until = dt.datetime.fromisoformat(locked["locked_until"])

    sixth = verify(client, "c-lock", code)  # the right code, during the lock
    assert sixth.status_code == 429 and sixth.json()["reason"] == "locked" and sixth.json()["locked_until"] == locked["locked_until"]
    assert status_of(client, "c-lock")["verified"] is False
    clock.advance(minutes=14)
    assert verify(client, "c-lock", code).status_code == 429
    # No new code either while the conversation is locked...
    refused = ask_code(client, "c-lock", email)
    assert refused.status_code == 429 and refused.json()["locked_until"] == locked["locked_until"]
    # ...but another conversation from the same source gets one: the lock is the conversation's and its
    # code's, not the source's, which a crowd behind one proxy may share.
    assert ask_code(client, "c-lock-2", email).status_code == 202
    assert len(sink.wait_for(email, count=2, subject=CODE_EMAIL_SUBJECT)) == 2
    [attempt] = rows.attempts("c-lock")
    assert (attempt.attempts, attempt.wrong_attempts, attempt.locked_until) == (7, 5, until)  # every try is recorded

    clock.advance(minutes=2)  # the lock has ended: the old code is dead, a new one works
    assert verify(client, "c-lock", code).status_code == 410
    assert ask_code(client, "c-lock", email).status_code == 202
    fresh = sink.code_for(email, count=3)
    ok = verify(client, "c-lock", fresh)
    assert ok.status_code == 200 and ok.json()["customer_id"] == "C0006"


def test_an_expired_code_is_refused(client, company, sink, clock):
    email = company.email_of("C0007")
    ask_code(client, "c-late", email)
    code = sink.code_for(email)
    clock.advance(minutes=10, seconds=1)
    late = verify(client, "c-late", code)
    assert late.status_code == 410 and late.json()["reason"] == "expired" and "ask for a new one" in late.json()["detail"]
    assert status_of(client, "c-late")["verified"] is False


def test_no_code_asked_for_means_nothing_to_verify(client):
    response = verify(client, "c-none", "123456")
    assert response.status_code == 404 and response.json()["reason"] == "no_code"


def test_another_conversation_cannot_use_someone_elses_code(client, company, sink):
    email = company.email_of("C0008")
    ask_code(client, "c-victim", email)
    code = sink.code_for(email)
    assert verify(client, "c-thief", code).status_code == 404  # the thief's conversation asked for no code
    ask_code(client, "c-thief", "thief@example.org")
    assert verify(client, "c-thief", code).status_code == 400  # its own (decoy) code is another one
    ask_code(client, "c-thief", email)  # even a code for the victim's address is a new code, sent to the victim
    assert verify(client, "c-thief", code).status_code == 400
    assert status_of(client, "c-thief")["verified"] is False
    ok = verify(client, "c-victim", code)
    assert ok.status_code == 200 and ok.json()["customer_id"] == "C0008"


def test_a_newer_code_replaces_the_older_one(client, company, sink, monkeypatch):
    """The codes are made known and different, so the older one is always tried (random codes could be
    equal, and a check skipped then would be skipped exactly when a reissued code went unnoticed)."""
    made = iter(["111111", "222222"])
    monkeypatch.setattr(rules, "new_code", lambda: next(made))
    email = company.email_of("C0009")
    ask_code(client, "c-new", email)
    first = sink.code_for(email)
    ask_code(client, "c-new", email)
    second = sink.code_for(email, count=2)
    assert (first, second) == ("111111", "222222")  # each ask mailed a new code
    assert verify(client, "c-new", first).status_code == 400
    assert verify(client, "c-new", second).status_code == 200


def test_codes_per_conversation_are_limited(client, company, sink):
    """Five asks an hour per conversation, whatever the addresses (the limits per address: test_code_limits.py)."""
    email = company.email_of("C0010")
    for n in range(4):
        assert ask_code(client, "c-greedy", f"someone{n}@example.nl").status_code == 202
    too_many = ask_code(client, "c-greedy", "someone5@example.nl")
    assert too_many.status_code == 202  # the fifth is still taken...
    sixth = ask_code(client, "c-greedy", email)
    assert sixth.status_code == 429 and sixth.json()["reason"] == "too_many_codes" and int(sixth.headers["retry-after"]) > 3500
    assert sink.messages(email) == []


def test_a_company_system_that_is_down_or_slow_gives_a_clear_answer_and_sends_nothing(client, db_url, company, sink, rows):
    email = company.email_of("C0011")
    company.fault("crm", "down", count=None)
    response = ask_code(client, "c-down", email)
    assert response.status_code == 503 and "cannot be reached" in response.json()["detail"]
    assert rows.attempts("c-down") == [] and sink.messages() == []
    company.fault("crm", "slow", delay=3.0, count=None)
    app = create_app(make_settings(db_url, company, sink, identity_lookup_timeout_seconds=0.5))
    with TestClient(app) as c:
        slow = ask_code(c, "c-slow", email)
        # The CRM would answer after 3 s and a code go out: a 503 with nothing sent is the lookup's timeout.
        assert slow.status_code == 503 and "cannot be reached" in slow.json()["detail"]
    assert rows.attempts("c-slow") == [] and sink.messages() == []
    company.fault("crm", "ok")
    assert ask_code(client, "c-down", email).status_code == 202
    sink.wait_for(email)


def test_bad_input_is_refused(client):
    assert ask_code(client, "c-bad", "not-an-address").status_code == 422
    assert ask_code(client, "c-bad", "x@example.nl", extra_field=1).status_code == 422
    assert client.post("/api/identity/email-code", json={"conversation_id": "", "email": "a@example.nl"},
                       headers=SERVICE).status_code == 422
    assert verify(client, "c-bad", "1" * 21).status_code == 422


def test_logging_out_forgets_the_binding_and_kills_open_codes(client, company, sink):
    email = company.email_of("C0012")
    ask_code(client, "c-out", email)
    code = sink.code_for(email)
    assert verify(client, "c-out", code).status_code == 200
    ask_code(client, "c-out", email)
    pending = sink.code_for(email, count=2)
    assert client.delete("/api/identity/conversations/c-out", headers=SERVICE).json() == {
        "conversation_id": "c-out", "forgotten": True, "verified": False}
    assert status_of(client, "c-out")["verified"] is False
    assert verify(client, "c-out", pending).status_code == 410


def test_the_back_office_app_serves_the_identity_api(db_url, company, sink):
    with TestClient(create_app(make_settings(db_url, company, sink))) as c:
        assert c.get("/api/identity/conversations/x").status_code == 401
        assert status_of(c, "x")["verified"] is False
        for path in ("/api/identity/session", "/api/identity/email-code", "/api/identity/email-code/verify"):
            assert c.post(path, json={}).status_code == 401, path  # there, and closed without the token
        assert c.delete("/api/identity/conversations/x").status_code == 401
        assert c.get("/").status_code == 200 and c.get("/healthz").status_code == 200  # the rest is untouched
