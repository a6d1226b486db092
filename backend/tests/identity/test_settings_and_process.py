"""Identity verification through the back office as a real process, and the settings it reads.
The demo itself is tested in tests/demo."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session as OrmSession

from backoffice.identity import rules
from backoffice.identity.tables import VerificationAttempt
from backoffice.settings import Settings

from .conftest import (
    BACKEND,
    CODE_EMAIL_SUBJECT,
    CODE_RE,
    OTP_SECRET,
    ROOT,
    SERVICE,
    SERVICE_TOKEN,
    SESSION_SECRET,
    SYSTEMS_TOKEN,
    UNUSED_CODE_SUBJECT,
    Process,
    eventually,
    free_port,
    serving,
)

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
        rules.SessionTokens(env[key])  # long enough to sign with
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
    sink.wait_for(email, subject=UNUSED_CODE_SUBJECT)  # 17 answers met the lock: the customer is told once
    engine = create_engine(db_url)
    try:
        with OrmSession(engine) as s:
            attempt = s.scalars(select(VerificationAttempt).where(VerificationAttempt.conversation_id == "p-race")).one()
            assert (attempt.attempts, attempt.wrong_attempts, attempt.verified_at) == (21, 5, None)
            assert attempt.notified_at is not None
    finally:
        engine.dispose()
    assert len(sink.messages(email, subject=UNUSED_CODE_SUBJECT)) == 1


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
    cap = rules.MAX_CODES_PER_ADDRESS
    assert sorted(answers) == [202] * cap + [429] * (10 - cap)  # the rest are told that no code was sent
    engine = create_engine(db_url)
    try:
        with OrmSession(engine) as s:
            flood = VerificationAttempt.conversation_id.like("p-flood-%")
            codes = [str(outcome) for outcome in s.scalars(select(VerificationAttempt.outcome).where(flood))]
    finally:
        engine.dispose()
    assert sorted(codes) == ["issued"] * cap + ["not_sent"] * (10 - cap)
    sink.wait_for(email, count=cap, subject=CODE_EMAIL_SUBJECT)
    assert len(sink.messages(email, subject=CODE_EMAIL_SUBJECT)) == cap
