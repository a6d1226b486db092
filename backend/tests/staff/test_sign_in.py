"""Signing in to the staff console, on SQLite and PostgreSQL: the form, the neutral refusal, no lock
of the account, the device cookie, sessions that end, CSRF on every change, and the roles."""
from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from backoffice.app import create_app
from backoffice.sentences import texts
from backoffice.staff import routes as staff_routes
from backoffice.staff.pages import Labels
from backoffice.staff.rules import PASSWORDS, token_digest
from backoffice.staff.tables import StaffDevice, StaffMember, StaffSession

from .conftest import PASSWORD, SERVICE, console_settings, log_in, make_account, sign_in

ENGLISH = Labels(texts("Voltera"), "en")

HTTPS = "https://testserver"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(db_url: str, clock: Clock) -> FastAPI:
    return create_app(console_settings(db_url), clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=HTTPS) as c:
        yield c


def from_address(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, base_url=HTTPS, client=(address, 50000))


def test_a_right_login_opens_a_session_in_a_strict_cookie(client, app):
    email = make_account(client, "agent", "Anna")
    answer = log_in(client, email.upper(), PASSWORD, next_path="/console/privacy/requests")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/privacy/requests"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("console_session="))
    token = cookie.split(";")[0].split("=", 1)[1]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "secure", "path=/"} <= attributes
    me = client.get("/api/console/me").json()
    assert (me["email"], me["first_name"], me["role"]) == (email, "Anna", "agent") and len(me["csrf_token"]) == 43
    with app.state.process.sessions() as s:
        stored = s.scalars(select(StaffSession.token_hash)).all()
    assert stored == [token_digest(token)] and token not in stored  # only the token's SHA-256 is kept


def test_the_cookie_is_secure_unless_the_demo_stack_says_it_runs_on_plain_http(db_url):
    with TestClient(create_app(console_settings(db_url, console_insecure_cookies=True))) as plain:
        answer = log_in(plain, make_account(plain), PASSWORD)
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("console_session="))
        assert "secure" not in cookie.lower() and "samesite=strict" in cookie.lower()
        assert plain.get("/api/console/me").status_code == 200


def test_only_console_pages_are_where_a_login_leads(client):
    email = make_account(client)
    for elsewhere in ("https://evil.example/", "//evil.example", "/console/../demo/inbox", "/api/privacy/requests", "javascript:x"):
        answer = log_in(client, email, PASSWORD, next_path=elsewhere)
        assert answer.headers["location"] == "/console", elsewhere


def test_a_wrong_password_and_an_unknown_address_get_the_same_refusal_and_both_are_hashed(client, app, monkeypatch):
    email = make_account(client)
    checked: list[str] = []
    real_verify, real_unknown = PASSWORDS.verify, PASSWORDS.verify_unknown

    def verify(stored: str, password: str) -> bool:
        checked.append("account")
        return real_verify(stored, password)

    def verify_unknown(password: str) -> None:
        checked.append("decoy")
        real_unknown(password)

    monkeypatch.setattr(PASSWORDS, "verify", verify)
    monkeypatch.setattr(PASSWORDS, "verify_unknown", verify_unknown)
    wrong = log_in(client, email, "not the password")
    unknown = log_in(client, f"nobody-{uuid.uuid4().hex[:6]}@voltera.example", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    refused = ENGLISH("sign_in.refused")
    assert refused in wrong.text and refused in unknown.text
    assert checked == ["account", "decoy"]
    assert "console_session" not in client.cookies and client.get("/api/console/me").status_code == 401
    # Nothing longer than a login may be is hashed at all.
    checked.clear()
    assert log_in(client, email, "x" * 1025).status_code == 401 and log_in(client, "a" * 250 + "@v.nl", PASSWORD).status_code == 401
    assert checked == []


def test_a_refused_sign_in_is_said_in_the_browsers_language(client):
    """The refusal, like the form, follows Accept-Language: a Dutch browser reads it in Dutch."""
    email = make_account(client)
    client.headers["Accept-Language"] = "nl-NL,nl;q=0.9,en;q=0.5"
    wrong = log_in(client, email, "not the password")
    assert wrong.status_code == 401 and Labels(texts("Voltera"), "nl")("sign_in.refused") in wrong.text
    assert ENGLISH("sign_in.refused") not in wrong.text


def test_a_login_needs_the_forms_own_token(client):
    """Login CSRF: another site's form has neither the pre-session cookie nor its token."""
    email = make_account(client)
    forged = client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": "x" * 43}, follow_redirects=False)
    assert forged.status_code == 403 and ENGLISH("sign_in.expired") in forged.text
    other_site = TestClient(client.app, base_url=HTTPS)
    no_cookie = other_site.post("/console/login", data={"email": email, "password": PASSWORD}, follow_redirects=False)
    assert no_cookie.status_code == 403 and "console_session" not in other_site.cookies
    as_json = client.post("/console/login", json={"email": email, "password": PASSWORD})
    assert as_json.status_code == 415


def test_no_number_of_wrong_passwords_locks_the_account(app, db_url, clock):
    """Strangers' wrong passwords from many addresses hold the login name for a minute at most; then
    the right password gets in, on this back office or another (no lock left in the database)."""
    first = TestClient(app, base_url=HTTPS)
    email = make_account(first)
    for n in range(20):
        assert log_in(from_address(app, f"198.51.100.{n}"), email, f"guess {n}").status_code in (401, 429)
    clock.advance(seconds=61)  # past the login name's longest wait
    assert log_in(from_address(app, "192.0.2.10"), email, PASSWORD).status_code == 303
    for n in range(20):
        log_in(from_address(app, f"203.0.113.{n}"), email, f"guess {n}")
    clock.advance(seconds=61)
    with TestClient(create_app(console_settings(db_url), clock=clock), base_url=HTTPS) as another:
        assert log_in(another, email, PASSWORD).status_code == 303


def test_a_good_login_marks_the_browser_as_one_of_the_accounts_devices(client, app):
    email = make_account(client)
    answer = log_in(client, email, PASSWORD)
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{staff_routes.DEVICE_COOKIE}="))
    token = cookie.split(";")[0].split("=", 1)[1]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "secure", "path=/console/login", f"max-age={90 * 24 * 3600}"} <= attributes
    with app.state.process.sessions() as s:
        assert s.scalars(select(StaffDevice.token_hash)).all() == [token_digest(token)]  # only its SHA-256 is kept
    again = log_in(client, email, PASSWORD)  # the same browser keeps its device cookie
    assert not any(c.startswith(f"{staff_routes.DEVICE_COOKIE}=") for c in again.headers.get_list("set-cookie"))
    for _ in range(12):  # each a new browser: only the newest 10 stay devices
        assert log_in(TestClient(app, base_url=HTTPS), email, PASSWORD).status_code == 303
    with app.state.process.sessions() as s:
        kept = s.scalars(select(StaffDevice.token_hash)).all()
    assert len(kept) == 10 and token_digest(token) not in kept


@pytest.mark.parametrize("path", ["/console/privacy/requests", "/api/privacy/requests", "/api/console/me"])
def test_without_a_live_session_pages_send_to_the_login_and_apis_say_401(app, client, clock, path):
    def refused(c: TestClient) -> bool:
        answer = c.get(path, follow_redirects=False)
        if path.startswith("/api/"):
            return answer.status_code == 401
        return answer.status_code == 303 and answer.headers["location"] == f"/console/login?next={path}"

    sign_in(client, "privacy_officer", "Sanne")
    assert client.get(path, follow_redirects=False).status_code == 200
    stranger = TestClient(app, base_url=HTTPS)
    assert refused(stranger)
    stranger.cookies.set("console_session", secrets.token_urlsafe(32))  # forged
    assert refused(stranger)
    stranger.cookies.set("console_session", "' OR 1=1 --")
    assert refused(stranger)
    clock.advance(minutes=31)  # idle
    assert refused(client)


def test_a_session_ends_after_12_hours_however_busy(client, clock):
    sign_in(client, "privacy_officer", "Sanne")
    for _ in range(35):  # every 20 minutes, never idle for long
        clock.advance(minutes=20)
        assert client.get("/api/console/me").status_code == 200
    clock.advance(minutes=20)
    assert client.get("/api/console/me").status_code == 401


def test_a_new_login_is_a_new_session_and_ends_the_browsers_old_one(client):
    email = make_account(client)
    assert log_in(client, email, PASSWORD).status_code == 303
    before = client.cookies["console_session"]
    assert log_in(client, email, PASSWORD).status_code == 303
    after = client.cookies["console_session"]
    assert before != after
    old = TestClient(client.app, base_url=HTTPS)
    old.cookies.set("console_session", before)
    assert old.get("/api/console/me").status_code == 401


def test_every_change_needs_the_sessions_csrf_token(client, app):
    officer = sign_in(client, "privacy_officer", "Sanne")
    filed = client.post("/api/requests", json={"customer_id": "C0045", "type": "erasure", "client_request_id": uuid.uuid4().hex},
                        headers=SERVICE).json()
    url = f"/api/requests/{filed['id']}/extend"
    token = client.headers.pop("X-CSRF-Token")
    assert token == officer.csrf_token
    assert client.post(url, json={"reason": "many systems"}).status_code == 403
    assert client.post(url, json={"reason": "many systems"}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    other = sign_in(TestClient(app, base_url=HTTPS), "privacy_officer", "Piet")
    assert client.post(url, json={"reason": "many systems"}, headers={"X-CSRF-Token": other.csrf_token}).status_code == 403
    assert client.post("/console/logout", follow_redirects=False).status_code == 403
    for wrong in ("wrong", "é" * 43, ""):
        assert client.post("/console/logout", data={"csrf_token": wrong}, follow_redirects=False).status_code == 403
    assert client.get("/api/console/me").status_code == 200  # still signed in
    assert client.post(url, json={"reason": "many systems"}, headers={"X-CSRF-Token": token}).status_code == 200


def test_logging_out_ends_the_session(client):
    staff = sign_in(client)
    token = client.cookies["console_session"]
    answer = client.post("/console/logout", data={"csrf_token": staff.csrf_token}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    assert client.get("/api/console/me").status_code == 401
    client.cookies.set("console_session", token)  # kept by a browser that ignored the logout
    assert client.get("/api/console/me").status_code == 401


def test_an_agent_is_refused_the_privacy_pages_and_an_officer_is_let_in(app):
    agent, officer = TestClient(app, base_url=HTTPS), TestClient(app, base_url=HTTPS)
    sign_in(agent, "agent", "Anna")
    sign_in(officer, "privacy_officer", "Sanne")
    filed = officer.post("/api/requests", json={"customer_id": "C0046", "type": "access", "client_request_id": uuid.uuid4().hex},
                         headers=SERVICE).json()
    for path in ("/console/privacy/requests", f"/console/privacy/requests/{filed['id']}", "/api/privacy/requests",
                 f"/api/privacy/requests/{filed['id']}"):
        assert agent.get(path).status_code == 403, path
        assert officer.get(path).status_code == 200, path
    assert agent.post(f"/api/requests/{filed['id']}/extend", json={"reason": "busy"}).status_code == 403
    assert agent.post(f"/api/privacy/requests/{filed['id']}/tasks/crm/retry").status_code == 403


def test_the_audit_trail_names_the_officer(client):
    officer = sign_in(client, "privacy_officer", "Sanne")
    filed = client.post("/api/requests", json={"customer_id": "C0047", "type": "erasure", "client_request_id": uuid.uuid4().hex},
                        headers=SERVICE).json()
    extended = client.post(f"/api/requests/{filed['id']}/extend", json={"reason": "six systems"}).json()
    last = [e for e in extended["audit"] if not e["action"].startswith("receipt_")][-1]  # the receipt's entries come and go
    assert last["actor"] == f"privacy_officer:{officer.email}"
    assert f"privacy_officer:{officer.email}" in client.get(f"/console/privacy/requests/{filed['id']}").text


def test_a_deactivated_account_neither_signs_in_nor_keeps_its_sessions(client, app):
    staff = sign_in(client)
    with app.state.process.sessions() as s:
        s.get(StaffMember, staff.id).active = False
        s.commit()
    assert client.get("/api/console/me").status_code == 401
    assert log_in(client, staff.email, PASSWORD).status_code == 401
