"""Fixtures of a customer's own data: real databases, the real company systems, a real tracker store.

- `db_url` (tests/conftest.py) runs a test on SQLite and on PostgreSQL.
- `company`: the demo company systems as a real process (the identity tests' fixture, imported; this
  folder gets a process of its own), faults reset around each test.
- `tracker`: Rasa's tracker store for this test, with Rasa's own `events` schema: a SQLite file when
  the back office's database is SQLite, the test's PostgreSQL database when it is PostgreSQL.
  `tracker.say(conversation_id, ("user", text), ("bot", text), ...)` writes events as Rasa does.
- `app`: the identity and my-data routes with a clock the test can move; `bind(...)` verifies a
  conversation as a customer the way the website does (a signed session token).
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, Float, Integer, MetaData, Sequence, String, Table, Text, create_engine, func, select

from backoffice.app import create_app
from backoffice.identity.rules import SessionTokens
from backoffice.knowledge.rules import KnowledgeBase
from backoffice.knowledge.service import load_knowledge
from backoffice.settings import Settings
from backoffice.shared.tracker_store import TOMBSTONES

from ..identity.conftest import (  # noqa: F401  (company_process, company, clock are fixtures)
    KNOWLEDGE,
    ROOT,
    SERVICE,
    SERVICE_TOKEN,
    SESSION_SECRET,
    SYSTEMS_TOKEN,
    Clock,
    Company,
    clock,
    company,
    company_process,
)

EXPORT_SECRET = "my-data-test-export-link-secret-0123456789"
PUBLIC_URL = "https://voltera.example/backoffice"
TOKENS = SessionTokens(SESSION_SECRET)

# Rasa 3.6's SQLTrackerStore.SQLEvent (rasa/core/tracker_store.py), as Rasa creates it.
RASA_EVENTS = Table(
    "events", MetaData(),
    Column("id", Integer, Sequence("events_seq", optional=True), primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


class Tracker:
    """A tracker store written the way Rasa writes it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.clock = dt.datetime(2026, 1, 31, 9, 0, tzinfo=dt.UTC).timestamp()

    def create(self) -> None:
        """Rasa's events table, and the tombstones its erasure-aware store adds (bot/tracker_store.py)."""
        RASA_EVENTS.metadata.create_all(self.engine)
        TOMBSTONES.metadata.create_all(self.engine)

    def say(self, conversation_id: str, *turns: tuple[str, str]) -> None:
        """A conversation's session start, then per turn a user or bot event (and the action around it)."""
        rows = [self._row(conversation_id, "session_started", {})]
        for speaker, text in turns:
            if speaker == "user":
                rows.append(self._row(conversation_id, "user", {
                    "text": text, "parse_data": {"intent": {"name": "ask_my_data", "confidence": 0.98}, "entities": []},
                    "input_channel": "socketio", "message_id": uuid.uuid4().hex, "metadata": {}}, intent_name="ask_my_data"))
            else:
                rows.append(self._row(conversation_id, "action", {"name": "action_my_data"}, action_name="action_my_data"))
                rows.append(self._row(conversation_id, "bot", {"text": text, "data": {}, "metadata": {}}))
        with self.engine.begin() as c:
            c.execute(RASA_EVENTS.insert(), rows)

    def _row(self, conversation_id: str, type_name: str, data: dict, **names: str) -> dict:
        self.clock += 1.5
        event = {"event": type_name, "timestamp": self.clock, **data}
        return {"sender_id": conversation_id, "type_name": type_name, "timestamp": self.clock, "data": json.dumps(event),
                "intent_name": names.get("intent_name"), "action_name": names.get("action_name")}

    def count(self, conversation_id: str) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(RASA_EVENTS).where(RASA_EVENTS.c.sender_id == conversation_id)).scalar_one()


@pytest.fixture
def tracker(db_url: str, tmp_path: Path) -> Iterator[Tracker]:
    """An empty tracker store with Rasa's table: SQLite beside a SQLite back office, PostgreSQL beside PostgreSQL."""
    found = Tracker(f"sqlite:///{tmp_path / 'rasa-tracker.db'}" if db_url.startswith("sqlite") else db_url)
    found.create()
    yield found
    found.engine.dispose()


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE)


def make_settings(db_url: str, company: Company, tracker_url: str, **changes: object) -> Settings:
    values: dict = dict(
        knowledge_dir=KNOWLEDGE, web_dir=ROOT / "web", database_url=db_url, socket_url="http://localhost:5005",
        service_token=SERVICE_TOKEN, company_systems_url=company.url, company_systems_token=SYSTEMS_TOKEN,
        session_token_secret=SESSION_SECRET, otp_secret="my-data-test-otp-secret-0123456789abcdef",
        tracker_url=tracker_url, export_link_secret=EXPORT_SECRET, public_url=PUBLIC_URL,
    )
    values.update(changes)
    return Settings(**values)


@pytest.fixture
def settings(db_url: str, company: Company, tracker: Tracker) -> Settings:
    return make_settings(db_url, company, tracker.url)


def routes(settings: Settings, kb: KnowledgeBase, clock: Clock) -> FastAPI:
    """Identity verification and a customer's own data, on the test's clock."""
    return create_app(settings, clock=clock)


@pytest.fixture
def client(settings: Settings, kb: KnowledgeBase, clock: Clock) -> Iterator[TestClient]:
    with TestClient(routes(settings, kb, clock)) as c:
        yield c


def bind(client: TestClient, clock: Clock, conversation_id: str, customer_id: str) -> None:
    """Verify the conversation as the customer, as the website's logged-in session does."""
    token, _ = TOKENS.issue(customer_id, clock())
    response = client.post("/api/identity/session", json={"conversation_id": conversation_id, "token": token}, headers=SERVICE)
    assert response.status_code == 200 and response.json()["customer_id"] == customer_id, response.text


def new_conversation() -> str:
    return f"conv-{uuid.uuid4().hex[:12]}"


def local(url: str) -> str:
    """A link's path on the test client (the links carry the public address)."""
    assert url.startswith(PUBLIC_URL + "/exports/"), url
    return url.removeprefix(PUBLIC_URL)
