"""Fixtures shared by the assistant's tests: the knowledge base as served, and the running processes."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import create_engine, text
from stack import Stack, isolated_env, load_env

from actions.backoffice import Vocabulary

# the markers unit, stack and browser (scripts/kinds.py): `-m unit` runs the pure tests alone
pytest_plugins = ["kinds"]

ROOT = Path(__file__).resolve().parents[1]

TEST_VAR = ROOT / "var" / f"test-{os.getpid()}"
PG_ADMIN = "postgresql://postgres@localhost:5432/postgres"
TEST_ENV = isolated_env(TEST_VAR)
CUSTOMER_OWNERS: dict[str, str] = {}
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def claim_customers(module: str, *customer_ids: str) -> tuple[str, ...]:
    """The seed customers (C0001..C0050) a module uses on the shared stacks (`stack`, `assistant`,
    `postgresql_assistant`), each claimed by one module only: what one module changes (an erasure, a
    code request that counts against the address's limits, a filing) never reaches what another
    checks. A second module claiming the same customer fails the collection. A module with a stack
    of its own needs no claim."""
    for customer_id in customer_ids:
        owner = CUSTOMER_OWNERS.setdefault(customer_id, module)
        if owner != module:
            raise RuntimeError(f"{customer_id} is claimed by {owner} and by {module}: give each module customers of its own")
    return customer_ids


def _json_dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_dates(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


def load_version_json(folder: Path) -> dict[str, Any]:
    """A version in the shape the back office serves it (both languages), read straight from YAML."""
    data: dict[str, Any] = {}
    for name in ("version", "company", "categories", "not_collected", "purposes", "topics"):
        content = yaml.safe_load((folder / f"{name}.yml").read_text())
        data[name] = content[name] if name in ("categories", "not_collected", "purposes") else content
    return _json_dates(data)


# The ids both sides use, in the shape the back office serves them (GET /api/vocabulary), for the
# tests of the actions' pure functions, which run without a back office; tests/test_sentences.py
# checks that the back office serves every id in it.
VOCABULARY_AS_SERVED: dict[str, Any] = {
    "rights": ["access", "portability", "erasure", "restriction", "objection", "objection_direct_marketing",
               "withdraw_consent", "opt_out", "rectification"],
    "statuses": ["received", "identity_unverified", "verified", "in_progress", "fulfilled", "denied", "canceled", "expired"],
    "consents": [{"id": "newsletter", "purpose": "newsletter", "direct_marketing": True, "linked_to_customer": True},
                 {"id": "personalised_offers", "purpose": "personalised_offers", "direct_marketing": True,
                  "linked_to_customer": True},
                 {"id": "wifi_counting", "purpose": "store_visitor_counting", "direct_marketing": False,
                  "linked_to_customer": False}],
    "correctable_fields": ["name", "address", "email", "phone"],
    "address_parts": ["street", "house_number", "postcode", "city"],
}


@pytest.fixture(scope="session")
def vocabulary() -> Vocabulary:
    return Vocabulary.from_json(VOCABULARY_AS_SERVED)


@pytest.fixture(scope="session")
def kb() -> dict[str, dict[str, Any]]:
    """Every version in knowledge/, by id, oldest published first."""
    versions = {p.name: load_version_json(p) for p in sorted((ROOT / "knowledge").iterdir()) if p.is_dir()}
    return dict(sorted(versions.items(), key=lambda kv: kv[1]["version"]["effective_date"]))


@pytest.fixture(scope="session")
def published(kb) -> list:
    return [v for v in kb.values() if v["version"]["status"] == "published"]


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """One set of real processes for the whole test run, on test ports, with fresh databases."""
    shutil.rmtree(TEST_VAR, ignore_errors=True)
    TEST_VAR.mkdir(parents=True)
    running = Stack(load_env(TEST_ENV), log_dir=TEST_VAR / "log")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def backoffice_url(stack: Stack) -> str:
    """The back office with what it talks to: the demo company systems and the mail sink."""
    missing = [n for n in ("companysystems", "mailsink", "backoffice") if n not in stack.procs]
    if missing:
        stack.start(missing)
        stack.wait_ready(timeout=60)
    return stack.env["BACKOFFICE_URL"]


@pytest.fixture(scope="session")
def sqlite_assistant(stack: Stack, backoffice_url: str) -> Stack:
    """Everything `make run` starts: also the outbox worker, the action server and the Rasa server."""
    missing = [n for n in ("worker", "actions", "rasa") if n not in stack.procs]
    if missing:
        stack.start(missing)
        stack.wait_ready(timeout=400)
    return stack


@pytest.fixture(scope="session")
def assistant(sqlite_assistant: Stack) -> Stack:
    """The embedded default, as `make run` starts it (SQLite databases)."""
    return sqlite_assistant


@contextmanager
def postgresql_stack(folder: str) -> Iterator[Stack]:
    """All the processes on PostgreSQL (localhost:5432): the ledger, the company systems and Rasa's
    tracker store each in a throwaway database, dropped afterwards; logs in var/<folder>-<pid>."""
    var = ROOT / "var" / f"{folder}-{os.getpid()}"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    suffix = uuid.uuid4().hex[:8]
    names = {part: f"ta_{part}_{suffix}" for part in ("backoffice", "company", "tracker")}
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        for name in names.values():
            db.execute(text(f'CREATE DATABASE "{name}"'))
    env = isolated_env(var)
    env.update({
        "BACKOFFICE_DATABASE_URL": f"postgresql+psycopg://postgres@localhost:5432/{names['backoffice']}",
        "COMPANY_DATABASE_URL": f"postgresql+psycopg://postgres@localhost:5432/{names['company']}",
        "TRACKER_DB_DIALECT": "postgresql", "TRACKER_DB_HOST": "localhost", "TRACKER_DB": names["tracker"],
        # The tests read codes from the demo inbox; on PostgreSQL the back office wants that said explicitly.
        "DEMO_MODE_ALLOW_PUBLIC": "1",
    })
    running = Stack(load_env(env), log_dir=var / "log")
    try:
        running.start()
        running.wait_ready(timeout=400)
        yield running
    finally:
        running.stop()
        with admin.connect() as db:
            for name in names.values():
                db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgresql_assistant() -> Iterator[Stack]:
    """The same processes on PostgreSQL, each database a throwaway one (`postgresql_stack`)."""
    with postgresql_stack("test-pg") as running:
        yield running


def privacy_officer(stack: Stack) -> requests.Session:
    """An HTTP session signed in to the staff console as the demo's privacy officer (the account the
    back office makes in demo mode from DEMO_PRIVACY_OFFICER_PASSWORD), with its CSRF token set."""
    url, officer = stack.env["BACKOFFICE_URL"], requests.Session()
    form = officer.get(f"{url}/console/login", timeout=10)
    token = FORM_TOKEN.search(form.text)
    assert token, form.text
    filled = {"email": stack.env["DEMO_PRIVACY_OFFICER_EMAIL"], "password": stack.env["DEMO_PRIVACY_OFFICER_PASSWORD"],
              "csrf_token": token.group(1)}
    signed = officer.post(f"{url}/console/login", data=filled, allow_redirects=False, timeout=10)
    assert signed.status_code == 303, signed.text
    officer.headers["X-CSRF-Token"] = officer.get(f"{url}/api/console/me", timeout=10).json()["csrf_token"]
    return officer
