"""The demo (login as a seed customer, the mail sink's inbox), the back office as a real process, and the settings."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import smtplib
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session as OrmSession

from backoffice import sentences
from backoffice.app import create_app
from backoffice.identity import rules as idn
from backoffice.identity.tables import VerificationAttempt
from backoffice.settings import Settings

from .conftest import (
    BACKEND,
    CODE_RE,
    OTP_SECRET,
    ROOT,
    SERVICE,
    SERVICE_TOKEN,
    SESSION_SECRET,
    SYSTEMS_TOKEN,
    Process,
    eventually,
    free_port,
    make_settings,
    serving,
)

DEMO_ROUTES = [("GET", "/api/demo/customers", None), ("POST", "/demo/login", {"customer_id": "C0001"}),
               ("GET", "/demo/inbox", None), ("GET", "/api/demo/inbox", None)]


def test_without_demo_mode_the_demo_does_not_exist(db_url, company, sink):
    with TestClient(create_app(make_settings(db_url, company, sink, demo_mode=False))) as c:
        for method, path, body in DEMO_ROUTES:
            assert c.request(method, path, json=body).status_code == 404, path
        assert c.get("/").status_code == 200  # the website itself is there


def test_the_demo_login_lists_seed_customers_and_signs_a_token_the_channel_accepts(db_url, company, sink):
    with TestClient(create_app(make_settings(db_url, company, sink, demo_mode=True))) as c:
        listed = c.get("/api/demo/customers")
        assert listed.status_code == 200
        customers = listed.json()["customers"]
        assert [x["customer_id"] for x in customers] == [f"C{n:04d}" for n in range(1, 11)]
        for customer in customers[:3]:
            contact = company.contact(customer["customer_id"])
            assert customer["name"] == f"{contact['first_name']} {contact['last_name']}" and customer["email"] == contact["email"]

        login = c.post("/demo/login", json={"customer_id": "C0003"})
        assert login.status_code == 200
        body = login.json()
        assert body["customer_id"] == "C0003" and body["name"] == customers[2]["name"]
        verified = idn.SessionTokens(SESSION_SECRET).verify(body["token"])  # what the Rasa channel does at connect
        assert verified.customer_id == "C0003" and verified.expires_at == dt.datetime.fromisoformat(body["expires_at"])
        assert dt.timedelta(minutes=29) < verified.expires_at - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=30)
        assert 29 * 60 < body["expires_in"] <= 30 * 60
        bound = c.post("/api/identity/session", json={"conversation_id": "demo-1", "token": body["token"]}, headers=SERVICE)
        assert bound.status_code == 200 and bound.json()["customer_id"] == "C0003"

        for unknown in ("C0042", "C9999", "../C0001", "c0001"):  # only the listed demo customers
            assert c.post("/demo/login", json={"customer_id": unknown}).status_code == 404, unknown
        assert c.post("/demo/login", json={"customer_id": "C0001", "extra": 1}).status_code == 422


def test_the_demo_inbox_shows_what_the_sink_received(db_url, company, sink):
    email = company.email_of("C0002")
    with TestClient(create_app(make_settings(db_url, company, sink, demo_mode=True))) as c:
        c.post("/api/identity/email-code", json={"conversation_id": "demo-2", "email": email}, headers=SERVICE)
        sink.wait_for(email)
        # A hostile message straight to the sink: the page must show it as text.
        hostile = EmailMessage()
        hostile["From"], hostile["To"], hostile["Subject"] = "x@example.org", "victim@example.org", "<script>alert(1)</script>"
        hostile.set_content("<img src=x onerror=alert(2)>")
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
            smtp.send_message(hostile)
        sink.wait_for("victim@example.org")

        mine = c.get("/api/demo/inbox", params={"to": email.upper()}).json()["messages"]
        assert len(mine) == 1 and mine[0]["rcpt_tos"] == [email] and CODE_RE.search(mine[0]["text"])
        assert len(c.get("/api/demo/inbox").json()["messages"]) == 2
        page = c.get("/demo/inbox")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert CODE_RE.findall(mine[0]["text"])[0] in page.text
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<img src=x" not in page.text


def test_the_website_has_the_demo_controls_and_the_widget_sends_the_token():
    page = (ROOT / "web" / "index.html").read_text()
    for hook in ("demo-login", "demo-logout", "demo-inbox-link", "lang-nl", "lang-en", "privacy-link"):
        assert f'data-testid="{hook}"' in page, hook
    site = (ROOT / "web" / "static" / "site.js").read_text()
    assert "demo-customer-" in site and "/api/demo/customers" in site and "/demo/login" in site and "sessionStorage" in site
    chat = (ROOT / "web" / "static" / "chat.js").read_text()
    assert "session_token" in chat and "auth" in chat


# --- settings ------------------------------------------------------------------------------------


def test_settings_come_from_the_environment(monkeypatch):
    values = {"SESSION_TOKEN_SECRET": "s" * 40, "OTP_SECRET": "o" * 40, "SMTP_HOST": "mail.example.nl", "SMTP_PORT": "2525",
              "SMTP_FROM": "privacy@example.nl", "SMTP_STARTTLS": "1", "DEMO_MODE": "1", "MAIL_SINK_DIR": "/tmp/somewhere",
              "SESSION_TOKEN_MINUTES": "15", "IDENTITY_MINUTES": "45"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    assert (settings.session_token_secret, settings.otp_secret, settings.smtp_host, settings.smtp_port) == (
        "s" * 40, "o" * 40, "mail.example.nl", 2525)
    assert settings.smtp_from == "privacy@example.nl" and settings.smtp_starttls and settings.demo_mode
    assert settings.mail_dir == Path("/tmp/somewhere") and settings.session_token_minutes == 15 and settings.identity_minutes == 45
    monkeypatch.setenv("DEMO_MODE", "0")
    assert Settings.from_env().demo_mode is False


def test_make_env_fills_every_change_me_secret(tmp_path):
    """The Makefile's `.env` target turns .env.example's placeholders into fresh secrets."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    subprocess.run(["make", "-s", ".env"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if "=" in line and not line.startswith("#"))
    example = (ROOT / ".env.example").read_text()
    for key in ("SESSION_TOKEN_SECRET", "OTP_SECRET"):
        assert f"\n{key}=change-me" in example
        assert re.fullmatch(r"[0-9a-f]{48}", env[key]), key
        idn.SessionTokens(env[key])  # long enough to sign with
    assert env["SESSION_TOKEN_SECRET"] != env["OTP_SECRET"]
    assert not [k for k, v in env.items() if v.startswith("change-me")]
    assert env["DEMO_MODE"] == "0" and env["SMTP_PORT"] == "8025"  # on only where make run turns it on


# --- the back office as a real process -----------------------------------------------------------


@pytest.fixture
def backoffice(db_url, company, sink, tmp_path):
    port = free_port()
    env = {**os.environ, "BACKOFFICE_DATABASE_URL": db_url, "BACKOFFICE_SERVICE_TOKEN": SERVICE_TOKEN,
           "COMPANY_SYSTEMS_URL": company.url, "COMPANY_SYSTEMS_TOKEN": SYSTEMS_TOKEN, "SESSION_TOKEN_SECRET": SESSION_SECRET,
           "OTP_SECRET": OTP_SECRET, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port), "DEMO_MODE": "1",
           "MAIL_SINK_DIR": str(sink.folder),
           # The demo on a PostgreSQL database is refused unless said explicitly (test_demo_mode_guard.py).
           "DEMO_MODE_ALLOW_PUBLIC": "1" if db_url.startswith("postgresql") else "0"}
    url = f"http://127.0.0.1:{port}"
    process = Process("backoffice", [sys.executable, "-m", "backoffice", "serve", "--port", str(port)], BACKEND, env,
                      tmp_path / "backoffice.log", port, f"{url}/healthz")
    with serving(process), httpx2.Client(base_url=url, timeout=30) as client:
        yield client


def test_demo_login_and_e_mail_code_through_the_running_back_office(backoffice, company):
    token = backoffice.post("/demo/login", json={"customer_id": "C0005"}).json()["token"]
    bound = backoffice.post("/api/identity/session", json={"conversation_id": "p-web", "token": token}, headers=SERVICE)
    assert bound.status_code == 200 and bound.json()["customer_id"] == "C0005"

    email = company.email_of("C0004")
    asked = backoffice.post("/api/identity/email-code", json={"conversation_id": "p-mail", "email": email}, headers=SERVICE)
    assert asked.status_code == 202
    messages = eventually(lambda: backoffice.get("/api/demo/inbox", params={"to": email}).json()["messages"], 10,
                          f"the code mailed to {email}, in the demo inbox as the demo page reads it")
    code = CODE_RE.findall(messages[0]["text"])[0]
    ok = backoffice.post("/api/identity/email-code/verify", json={"conversation_id": "p-mail", "code": code}, headers=SERVICE)
    assert ok.status_code == 200 and ok.json()["customer_id"] == "C0004"
    assert backoffice.get("/api/identity/conversations/p-mail", headers=SERVICE).json()["method"] == "email"


def test_twenty_guesses_at_once_still_get_five_tries(backoffice, company, sink, db_url):
    """Tries at one code are serialised by the database: parallel guessing gains nothing."""
    email = company.email_of("C0013")
    backoffice.post("/api/identity/email-code", json={"conversation_id": "p-race", "email": email}, headers=SERVICE)
    code = sink.code_for(email)
    guesses = [f"{(int(code) + n) % 10 ** 6:06d}" for n in range(1, 21)]
    answers: list[int] = []
    start = threading.Barrier(len(guesses))

    def guess(value: str) -> None:
        with httpx2.Client(base_url=str(backoffice.base_url), timeout=30) as own:
            start.wait()
            answers.append(own.post("/api/identity/email-code/verify", json={"conversation_id": "p-race", "code": value},
                                    headers=SERVICE).status_code)

    threads = [threading.Thread(target=guess, args=(g,)) for g in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == [400] * 4 + [429] * 16
    right = backoffice.post("/api/identity/email-code/verify", json={"conversation_id": "p-race", "code": code}, headers=SERVICE)
    assert right.status_code == 429
    sink.wait_for(email, subject=sentences.UNUSED_CODE_SUBJECT)  # 17 answers met the lock: the customer is told once
    engine = create_engine(db_url)
    try:
        with OrmSession(engine) as s:
            attempt = s.scalars(select(VerificationAttempt).where(VerificationAttempt.conversation_id == "p-race")).one()
            assert (attempt.attempts, attempt.wrong_attempts, attempt.verified_at) == (21, 5, None)
            assert attempt.notified_at is not None
    finally:
        engine.dispose()
    assert len(sink.messages(email, subject=sentences.UNUSED_CODE_SUBJECT)) == 1


def test_ten_asks_at_once_for_one_address_send_six_codes(backoffice, company, sink, db_url):
    """The per-address limit holds under parallel asks from ten conversations and sources."""
    email = company.email_of("C0021")
    start = threading.Barrier(10)
    answers: list[int] = []

    def ask(n: int) -> None:
        headers = {**SERVICE, "X-Chat-Connection": f"{n:032x}", "X-Chat-Source": f"{n + 1:016x}"}
        with httpx2.Client(base_url=str(backoffice.base_url), timeout=30) as own:
            start.wait()
            answers.append(own.post("/api/identity/email-code", json={"conversation_id": f"p-flood-{n}", "email": email},
                                    headers=headers).status_code)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    cap = idn.MAX_CODES_PER_ADDRESS
    assert sorted(answers) == [202] * cap + [429] * (10 - cap)  # the rest are told that no code was sent
    engine = create_engine(db_url)
    try:
        with OrmSession(engine) as s:
            flood = VerificationAttempt.conversation_id.like("p-flood-%")
            codes = [str(outcome) for outcome in s.scalars(select(VerificationAttempt.outcome).where(flood))]
    finally:
        engine.dispose()
    assert sorted(codes) == ["issued"] * cap + ["not_sent"] * (10 - cap)
    sink.wait_for(email, count=cap, subject=sentences.CODE_EMAIL_SUBJECT)
    assert len(sink.messages(email, subject=sentences.CODE_EMAIL_SUBJECT)) == cap
