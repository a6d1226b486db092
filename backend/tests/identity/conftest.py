"""Fixtures of the identity tests: real databases, the real company systems and the real mail sink.

- `db_url` runs a test twice: on a migrated SQLite file and on a throwaway PostgreSQL database
  (localhost:5432, user postgres), cloned from a template migrated once per session; every database
  made here is dropped at the end. No skip: identity must work on PostgreSQL, a missing server fails.
- `company`: the demo company systems as a real process on a free port (own SQLite, seeded, faults on).
- `sink`: the mail sink as a real process (`python -m backoffice mailsink`) on a free port, storing in
  a temporary folder; `sink.clear()` empties it, `sink.wait_for(to)` reads what arrived (with
  `subject=`, only those messages: `CODE_EMAIL_SUBJECT` the codes, `UNUSED_CODE_SUBJECT` the notices).
- `clock`: a clock the tests can move forward (the app's routers take it).
"""
from __future__ import annotations

import datetime as dt
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backoffice.app import create_app
from backoffice.demo.service import read_inbox
from backoffice.sentences import texts
from backoffice.settings import Settings

from ..conftest import (  # noqa: F401 (re-exported)
    KNOWLEDGE,
    ROOT,
    SYSTEMS_TOKEN,
    Company,
    Process,
    company_process,
    eventually,
    free_port,
    fresh_secret,
    serving,
)

BACKEND = ROOT / "backend"
SERVICE_TOKEN = fresh_secret("identity-service")
# The presence of the chat message a call serves (`Presence` in identity/service.py): here one website connection throughout.
PRESENCE = {"X-Chat-Channel": "website", "X-Chat-Connection": "5e" * 16, "X-Chat-Source": "a1" * 8}
SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}", **PRESENCE}
SESSION_SECRET = fresh_secret("identity-session")
OTP_SECRET = fresh_secret("identity-otp")
CODE_RE = re.compile(r"^\s+(\d{6})\s*$", re.M)

# The subjects of the e-mails (in every language) with the default company's name.
CODE_EMAIL_SUBJECT = texts("Voltera").in_every_language("back_office.code_email.subject", " / ")
UNUSED_CODE_SUBJECT = texts("Voltera").in_every_language("back_office.unused_code_email.subject", " / ")


# --- databases -----------------------------------------------------------------------------------


# --- the company systems, as a real process ------------------------------------------------------


@pytest.fixture
def company(company_process: Company) -> Iterator[Company]:
    company_process.reset_faults()
    yield company_process
    company_process.reset_faults()


# --- the mail sink, as a real process ------------------------------------------------------------


class Sink:
    def __init__(self, port: int, folder: Path) -> None:
        self.port = port
        self.folder = folder

    def clear(self) -> None:
        for path in self.folder.glob("*.json"):
            path.unlink()

    def messages(self, to: str | None = None, subject: str | None = None) -> list[dict]:
        """Every message (to `to`), newest first; with `subject`, only those (CODE_EMAIL_SUBJECT: the codes)."""
        return [m for m in read_inbox(self.folder, to, limit=500) if subject is None or m.get("subject") == subject]

    def wait_for(self, to: str, count: int = 1, timeout: float = 10.0, subject: str | None = None) -> list[dict]:
        """The messages to `to` (newest first), once at least `count` have arrived."""
        return eventually(lambda: self.messages(to, subject), timeout, f"{count} message(s) to {to}",
                          until=lambda found: len(found) >= count, interval=0.05)

    def code_for(self, to: str, count: int = 1) -> str:
        """The code in the newest code e-mail to `to` (after `count` code e-mails arrived)."""
        text_ = self.wait_for(to, count, subject=CODE_EMAIL_SUBJECT)[0]["text"]
        codes = set(CODE_RE.findall(text_))
        assert len(codes) == 1, text_
        return codes.pop()


@pytest.fixture(scope="session")
def sink_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    folder = tmp_path_factory.mktemp("identity-mail")
    port = free_port()
    process = Process("mailsink", [sys.executable, "-m", "backoffice", "mailsink", "--port", str(port), "--dir", str(folder)],
                      BACKEND, dict(os.environ), folder.parent / "mailsink.log", port)
    with serving(process, timeout=30):
        yield Sink(port, folder)


@pytest.fixture
def sink(sink_process: Sink) -> Sink:
    sink_process.clear()
    return sink_process


# --- the app -------------------------------------------------------------------------------------


class Clock:
    """The real time, moved forward by the test."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_settings(db_url: str, company: Company, sink: Sink, **changes: object) -> Settings:
    values: dict = dict(
        knowledge_dir=KNOWLEDGE, web_dir=ROOT / "web", database_url=db_url, socket_url="http://localhost:5005",
        service_token=SERVICE_TOKEN, company_systems_url=company.url, company_systems_token=SYSTEMS_TOKEN,
        session_token_secret=SESSION_SECRET, otp_secret=OTP_SECRET, smtp_host="127.0.0.1", smtp_port=sink.port,
        smtp_from="Voltera privacy <privacy@voltera.example>", demo_mode=False, mail_dir=sink.folder,
    )
    values.update(changes)
    return Settings(**values)


@pytest.fixture
def client(db_url: str, company: Company, sink, clock: Clock) -> Iterator[TestClient]:
    """The identity routes with a clock the test can move (the rest of the back office is not needed)."""
    app = create_app(make_settings(db_url, company, sink), clock=clock)
    with TestClient(app) as c:
        yield c
