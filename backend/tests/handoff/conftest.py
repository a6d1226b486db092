"""A back office with a tracker store and a stand-in for Rasa's HTTP API, for the handoff's tests.

The stand-in is a real HTTP server that takes `POST /conversations/{id}/tracker/events` as Rasa 3.6
does (the API token in `?token=`, a list of events), records each call, and stores the events in the
tracker store's `events` table, so the back office reads back what it said. The whole path through a
real Rasa server is tested end to end in the assistant's suite (tests/test_agent_handoff.py)."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backoffice.app import create_app

from ..staff.conftest import SERVICE, console_settings, signed_in  # noqa: F401  (a fixture)

RASA_TOKEN = "rasa-api-token-for-tests"
CONNECTION = "c" * 32  # the website connection the customer writes through
# Tuesday 1 December 2026, 10:00 in Amsterdam: within the default office hours
OPEN_HOURS = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

EVENTS = sa.Table(
    "events", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)
TOMBSTONES = sa.Table("erased_conversations", sa.MetaData(), sa.Column("sender_id", sa.String(255), primary_key=True),
                      sa.Column("erased_at", sa.Float, nullable=False))  # bot/tracker_store.py's


class Tracker:
    """Rasa's SQL tracker store, as the customer's side of a conversation writes it."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        self.engine = sa.create_engine(self.url)
        EVENTS.metadata.create_all(self.engine)
        TOMBSTONES.metadata.create_all(self.engine)

    def add(self, conversation_id: str, type_name: str, **data: object) -> None:
        event = {"event": type_name, "timestamp": time.time(), **data}
        parsed = data.get("parse_data")
        intent = parsed.get("intent", {}).get("name") if isinstance(parsed, dict) else None
        with self.engine.begin() as connection:
            connection.execute(sa.insert(EVENTS).values(sender_id=conversation_id, type_name=type_name, timestamp=event["timestamp"],
                                                        intent_name=intent, data=json.dumps(event)))

    def hand_over_turn(self, conversation_id: str, text: str, first: bool = False) -> None:
        """What Rasa stores of the turn that handed the chat over, once the turn has ended (after the
        action asked the back office): a first message's turn begins with the session's start."""
        if first:
            self.add(conversation_id, "action", name="action_session_start")
            self.add(conversation_id, "session_started")
            self.add(conversation_id, "action", name="action_listen")
        self.customer_says(conversation_id, text, intent="ask_human")
        self.add(conversation_id, "action", name="action_hand_over")
        self.add(conversation_id, "bot", text="I'm handing you over to a member of Voltera's team.")
        self.add(conversation_id, "pause")

    def customer_says(self, conversation_id: str, text: str, intent: str = "ask_what_data_collected") -> None:
        self.add(conversation_id, "user", text=text, parse_data={"intent": {"name": intent, "confidence": 0.9}},
                 input_channel="website")


@dataclass
class RasaCall:
    conversation_id: str
    params: dict[str, str]
    events: list[dict]


@dataclass
class FakeRasa:
    url: str
    calls: list[RasaCall] = field(default_factory=list)
    refuse: bool = False

    def said(self, conversation_id: str) -> list[str]:
        return [e["text"] for c in self.calls if c.conversation_id == conversation_id for e in c.events if e["event"] == "bot"]


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return Tracker(tmp_path / "rasa-tracker.db")


@pytest.fixture
def rasa(tracker: Tracker) -> Iterator[FakeRasa]:
    fake = FakeRasa("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's name)
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"[]")
            parts = url.path.split("/")
            if params.get("token") != RASA_TOKEN or fake.refuse:
                self.send_response(401 if params.get("token") != RASA_TOKEN else 503)
                self.end_headers()
                return
            conversation_id = unquote(parts[2])
            events = body if isinstance(body, list) else [body]
            fake.calls.append(RasaCall(conversation_id, params, events))
            for event in events:
                tracker.add(conversation_id, event["event"], **{k: v for k, v in event.items() if k != "event"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()


@dataclass
class Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(OPEN_HOURS)


def handoff_app(db_url: str, tracker: Tracker, rasa: FakeRasa, clock: Clock, **changes: object) -> FastAPI:
    settings = console_settings(db_url, tracker_url=tracker.url, rasa_url=rasa.url, rasa_api_token=RASA_TOKEN,
                                console_insecure_cookies=True, **changes)
    return create_app(settings, clock=clock)


@pytest.fixture
def app(db_url: str, tracker: Tracker, rasa: FakeRasa, clock: Clock) -> FastAPI:
    """A back office whose handoff talks to the tracker and the stand-in Rasa; upkeep runs when a test says."""
    return handoff_app(db_url, tracker, rasa, clock)


def browser(app: FastAPI) -> TestClient:
    """One person's browser: its own cookies."""
    return TestClient(app)


def turn_stored(app: FastAPI, conversation_id: str) -> None:
    """Rasa stores the hand-over's turn when it ends, with the pause the assistant's action asked for."""
    with app.state.handoff.store.engine().begin() as connection:
        connection.execute(sa.insert(EVENTS).values(sender_id=conversation_id, type_name="pause", timestamp=time.time(),
                                                    data=json.dumps({"event": "pause"})))


def assistant(app: FastAPI) -> TestClient:
    """The action server: the service token, and the presence of a website message."""
    return TestClient(app, headers={**SERVICE, "X-Chat-Channel": "website", "X-Chat-Connection": CONNECTION})
