"""An erased conversation stays erased in Rasa's tracker store, also when a turn of it was running;
and the store bot/endpoints.yml configures reaches a PostgreSQL role of its own, with its password.

The race, step by step, with Rasa's own save and the back office's own erasure (run in its own
environment, as the worker runs it): a turn loads the conversation, the back office erases it, the
turn adds its events and saves. Rasa's plain SQLTrackerStore then writes the whole session back;
bot.tracker_store.ErasureAwareTrackerStore writes only what happened after the erasure. On SQLite
and on PostgreSQL.

The save and the erasure also race for real: the save is held between reading the tombstone and
writing its events, and the back office's erasure is released against it (the serialisation in
bot/tracker_store.py makes the erasure wait for the save). The advisory-lock key is computed on both
sides (the two environments cannot import each other); one test checks that the two agree.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rasa.core.tracker_store
from conftest import PG_ADMIN, ROOT
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.tracker_store import ErasureAwareTrackerStore, erasure_lock_key

BACKOFFICE_PY = ROOT / ".venv" / "backoffice" / "bin" / "python"
ERASE = """
import datetime as dt, sys
from backoffice.shared.tracker_store import TrackerStore
store = TrackerStore(sys.argv[1])
print(store.erase([sys.argv[2]], dt.datetime.now(dt.timezone.utc)))
store.close()
"""

ERASE_ON_CUE = """
import datetime as dt, sys
from backoffice.shared.tracker_store import TrackerStore
store = TrackerStore(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(store.erase([sys.argv[2]], dt.datetime.now(dt.timezone.utc)), flush=True)
store.close()
"""
LOCK_KEYS = """
import json, sys
from backoffice.shared.tracker_store import erasure_lock_key
print(json.dumps([erasure_lock_key(sender_id) for sender_id in json.loads(sys.stdin.read())]))
"""
# SQLite shows no waiting writer: there the save is held until the erasure is done, or this long
# (well under the back office's 30 s wait for SQLite's write lock).
SQLITE_HOLD_SECONDS = 5.0


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path) -> Iterator[dict]:
    """Where the tracker store lives: its settings for Rasa and its URL for the back office."""
    if request.param == "sqlite":
        path = tmp_path / "rasa-tracker.db"
        yield {"settings": {"dialect": "sqlite", "db": str(path)}, "url": f"sqlite:///{path}"}
        return
    name = f"ta_tracker_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {"settings": {"dialect": "postgresql", "host": "localhost", "username": "postgres", "db": name},
               "url": f"postgresql+psycopg://postgres@localhost:5432/{name}"}
    finally:
        with admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def back_office_erases(url: str, conversation_id: str) -> None:
    subprocess.run([str(BACKOFFICE_PY), "-c", ERASE, url, conversation_id], cwd=ROOT / "backend", check=True,
                   capture_output=True, timeout=60)


def stored_texts(store: SQLTrackerStore, conversation_id: str) -> list:
    tracker = asyncio.run(store.retrieve_full_tracker(conversation_id))
    return [event.text for event in (tracker.events if tracker else []) if isinstance(event, (UserUttered, BotUttered))]


def turn_running_across_an_erasure(store: SQLTrackerStore, url: str) -> str:
    """A conversation saved once; then a turn that loads it, sees it erased mid-way, and saves."""
    conversation_id = f"race-{uuid.uuid4().hex[:12]}"
    before = DialogueStateTracker.from_events(conversation_id, [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        UserUttered("my e-mail is jan@example.nl"), BotUttered("a code is on its way"),
    ])
    asyncio.run(store.save(before))
    turn = asyncio.run(store.retrieve(conversation_id))
    turn.update(UserUttered("yes, erase my data"))
    back_office_erases(url, conversation_id)
    turn.update(BotUttered("your erasure is filed"))
    asyncio.run(store.save(turn))
    return conversation_id


def test_a_turn_that_ran_across_the_erasure_writes_nothing_from_before_it_back(database):
    store = ErasureAwareTrackerStore(domain=Domain.empty(), **database["settings"])
    try:
        conversation_id = turn_running_across_an_erasure(store, database["url"])
        assert stored_texts(store, conversation_id) == ["your erasure is filed"]
        again = asyncio.run(store.retrieve(conversation_id))
        again.update(UserUttered("hello again"))
        asyncio.run(store.save(again))
        assert stored_texts(store, conversation_id) == ["your erasure is filed", "hello again"]
    finally:
        store.engine.dispose()


def test_rasas_plain_sql_tracker_store_writes_the_erased_conversation_back(database):
    """Why the store above exists: the same race with Rasa's own store brings every event back."""
    ErasureAwareTrackerStore(domain=Domain.empty(), **database["settings"]).engine.dispose()  # the tables
    plain = SQLTrackerStore(domain=Domain.empty(), **database["settings"])
    try:
        conversation_id = turn_running_across_an_erasure(plain, database["url"])
        assert "my e-mail is jan@example.nl" in stored_texts(plain, conversation_id)
    finally:
        plain.engine.dispose()


def erasure_waits_on_a_lock(store: SQLTrackerStore) -> bool:
    """PostgreSQL: a session of this database waits for an advisory lock (the erasure, for the save's)."""
    with store.engine.connect() as db:
        return bool(db.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).scalar())


def test_an_erasure_released_against_a_save_between_its_read_and_its_write_erases_what_the_save_wrote(
        database, monkeypatch):
    """The save has read the tombstone (none yet) and is held before it counts and writes its events;
    the back office's erasure is released at that moment. Serialised, the erasure waits for the save
    and then deletes everything; without the serialisation the erasure slips in between, and the
    save finds no rows and writes the whole session back."""
    store = ErasureAwareTrackerStore(domain=Domain.empty(), **database["settings"])
    conversation_id = f"race-{uuid.uuid4().hex[:12]}"
    asyncio.run(store.save(DialogueStateTracker.from_events(conversation_id, [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        UserUttered("my e-mail is jan@example.nl"), BotUttered("a code is on its way"),
    ])))
    turn = asyncio.run(store.retrieve(conversation_id))
    turn.update(UserUttered("yes, erase my data"))
    turn.update(BotUttered("your erasure is filed"))
    erasure = subprocess.Popen([str(BACKOFFICE_PY), "-c", ERASE_ON_CUE, database["url"], conversation_id], cwd=ROOT / "backend",
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    together = threading.Barrier(2, timeout=120)
    failures: list[BaseException] = []
    count_and_write = SQLTrackerStore._additional_events

    def held_between_read_and_write(self: SQLTrackerStore, session: Any, tracker: DialogueStateTracker) -> Any:
        together.wait()  # the tombstone is read: the erasure is released now
        held_until = time.monotonic() + (SQLITE_HOLD_SECONDS if self.engine.dialect.name == "sqlite" else 120)
        while erasure.poll() is None and time.monotonic() < held_until:
            if self.engine.dialect.name == "postgresql" and erasure_waits_on_a_lock(self):
                break
            time.sleep(0.05)
        return count_and_write(self, session, tracker)

    def save() -> None:
        try:
            asyncio.run(store.save(turn))
        except BaseException as exc:  # raised in the test below
            failures.append(exc)
            together.abort()

    monkeypatch.setattr(SQLTrackerStore, "_additional_events", held_between_read_and_write)
    try:
        assert erasure.stdout is not None and erasure.stdin is not None
        assert erasure.stdout.readline().strip() == "ready", erasure.communicate(timeout=60)
        saver = threading.Thread(target=save, daemon=True)
        saver.start()
        try:
            together.wait()
        except threading.BrokenBarrierError:
            saver.join(timeout=60)
            raise failures[0] if failures else AssertionError("the save never reached its write") from None
        erasure.stdin.write("go\n")
        erasure.stdin.flush()
        saver.join(timeout=180)
        out, err = erasure.communicate(timeout=120)
        if failures:
            raise failures[0]
        assert not saver.is_alive(), "the save never finished"
        assert erasure.returncode == 0, err
        monkeypatch.undo()
        assert stored_texts(store, conversation_id) == [], "the save wrote the erased conversation back"
    finally:
        if erasure.poll() is None:
            erasure.kill()
        store.engine.dispose()


def test_the_bot_and_the_back_office_lock_a_conversation_under_the_same_key():
    """The erasure and the save meet at one PostgreSQL advisory lock only if both sides compute its key alike."""
    senders = ["", "req-0a1b2c3d4e5f", "telegram-31000001", "whatsapp-31612345678", "C0048",
               "teams-7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "Zoë 🏳️‍🌈 中文", "x" * 255]
    back_office = subprocess.run([str(BACKOFFICE_PY), "-c", LOCK_KEYS], input=json.dumps(senders), cwd=ROOT / "backend",
                                 check=True, capture_output=True, text=True, timeout=60)
    keys = json.loads(back_office.stdout)
    assert keys == [erasure_lock_key(sender) for sender in senders]
    assert len(set(keys)) == len(senders)


def gave_up(_seconds: float) -> None:
    raise AssertionError("the tracker store could not connect (Rasa would retry for ever; its warning is in the log)")


@pytest.fixture
def password_protected_database() -> Iterator[dict]:
    """A role with a password, and a database of its own that no other role but a superuser may connect to."""
    suffix = uuid.uuid4().hex[:8]
    role, name, password = f"ta_tracker_role_{suffix}", f"ta_tracker_{suffix}", secrets.token_hex(16)
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'"))
        db.execute(text(f'CREATE DATABASE "{name}" OWNER "{role}"'))
        db.execute(text(f'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC'))
    try:
        yield {"role": role, "db": name, "password": password}
    finally:
        with admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            db.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_the_endpoints_file_reaches_a_postgresql_role_with_a_password(password_protected_database, monkeypatch):
    """bot/endpoints.yml read as `rasa run` reads it, with the TRACKER_DB_* of a deployment's PostgreSQL:
    the store connects as the role, with its password and port and the pool SQL_POOL_SIZE and
    SQL_MAX_OVERFLOW give it, and keeps a conversation. This
    machine's PostgreSQL trusts local connections (and its OS user is a superuser), so the password
    and the port are checked where they reach the store's connection URL, the user by `current_user`."""
    database = password_protected_database
    for name, value in {"TRACKER_DB_DIALECT": "postgresql", "TRACKER_DB_HOST": "localhost", "TRACKER_DB_PORT": "5432",
                        "TRACKER_DB": database["db"], "TRACKER_DB_USERNAME": database["role"],
                        "TRACKER_DB_PASSWORD": database["password"], "ACTION_ENDPOINT_URL": "http://localhost:9/webhook",
                        "ACTION_SERVER_TOKEN": "t" * 32, "SQL_POOL_SIZE": "7", "SQL_MAX_OVERFLOW": "3"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(rasa.core.tracker_store, "sleep", gave_up)
    endpoints = read_endpoints_from_path(ROOT / "bot" / "endpoints.yml")
    store = TrackerStore.create(endpoints.tracker_store, domain=Domain.empty())
    try:
        assert isinstance(store, ErasureAwareTrackerStore)
        url = store.engine.url
        assert ((url.username, url.password, url.port, url.database)
                == (database["role"], database["password"], 5432, database["db"]))
        assert (store.engine.pool.size(), store.engine.pool._max_overflow) == (7, 3)  # SQL_POOL_SIZE, SQL_MAX_OVERFLOW
        with store.engine.connect() as db:
            assert db.execute(text("SELECT current_user")).scalar() == database["role"]
        conversation_id = f"own-role-{uuid.uuid4().hex[:12]}"
        asyncio.run(store.save(DialogueStateTracker.from_events(conversation_id, [
            ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
            UserUttered("how long do you keep my invoices?"), BotUttered("seven years"),
        ])))
        assert stored_texts(store, conversation_id) == ["how long do you keep my invoices?", "seven years"]
    finally:
        store.engine.dispose()


def test_the_embedded_sqlite_store_takes_the_empty_user_password_and_port(tmp_path, monkeypatch):
    """.env.example leaves them empty for SQLite (Rasa refuses an unset variable in the endpoints file)."""
    for name, value in {"TRACKER_DB_DIALECT": "sqlite", "TRACKER_DB_HOST": "", "TRACKER_DB_PORT": "",
                        "TRACKER_DB": str(tmp_path / "rasa-tracker.db"), "TRACKER_DB_USERNAME": "", "TRACKER_DB_PASSWORD": "",
                        "ACTION_ENDPOINT_URL": "http://localhost:9/webhook", "ACTION_SERVER_TOKEN": "t" * 32}.items():
        monkeypatch.setenv(name, value)
    store = TrackerStore.create(read_endpoints_from_path(ROOT / "bot" / "endpoints.yml").tracker_store, domain=Domain.empty())
    try:
        url = store.engine.url
        assert (url.drivername, url.username, url.password, url.port) == ("sqlite", None, None, None)
        asyncio.run(store.save(DialogueStateTracker.from_events("embedded", [UserUttered("hoi")])))
        assert stored_texts(store, "embedded") == ["hoi"]
    finally:
        store.engine.dispose()
