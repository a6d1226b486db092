"""Rasa's tracker store, as the back office reads and empties it: the assistant's own chat transcripts
are personal data too, so they fall under access and erasure.

Rasa keeps every conversation in its SQL tracker store (SQLTrackerStore): one row per event in the
table `events` (id, sender_id = the conversation id, type_name, timestamp in Unix seconds,
intent_name, action_name, data = the event as JSON). Rasa 3.6 has no endpoint to delete a
conversation, so an erasure deletes the rows here (docs/architecture.md). The back office reads the
database Rasa writes (`Settings.tracker_url`, from the same TRACKER_DB_* variables). A table that
does not exist yet (Rasa never ran) reads as no conversations, and nothing is created.

Which conversations are a customer's, and what an erasure does with the back office's own records
of them, is my_data's (`my_data.service`); this is only the adapter to Rasa's tables.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, delete, insert, inspect, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

SPEAKERS = {"user": "customer", "bot": "assistant"}  # an agent's reply in a handed-over chat is a bot event too (`_message`)
CONNECT_TIMEOUT_SECONDS = 5

# Rasa's SQLTrackerStore.SQLEvent, just the columns read here.
EVENTS = Table(
    "events", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("data", Text),
)


# bot/tracker_store.py's tombstones: an erased conversation and when; Rasa stores no older event of it.
TOMBSTONES = Table(
    "erased_conversations", MetaData(),
    Column("sender_id", String(255), primary_key=True),
    Column("erased_at", Float, nullable=False),
)


def erasure_lock_key(sender_id: str) -> int:
    """The PostgreSQL advisory lock that serialises an erasure with Rasa's saves of the conversation
    (the same key as bot/tracker_store.py's: tests/test_tracker_store.py checks that the two agree)."""
    return int.from_bytes(hashlib.sha256(sender_id.encode()).digest()[:8], "big", signed=True)


class TranscriptsUnavailable(Exception):
    """The tracker store cannot be read or changed right now; the message is safe to show."""


@dataclass(frozen=True)
class Transcript:
    """One conversation's messages, as the customer reads them: what the tracker store gives back."""

    conversation_id: str
    messages: list[dict]  # {"at": ISO 8601 UTC, "from": "customer" | "assistant", "text": ...}

    @property
    def started_at(self) -> str | None:
        return self.messages[0]["at"] if self.messages else None

    def with_notes(self, notes: list[dict]) -> Transcript:
        """The transcript with the staff's private notes on it in their place in time: they are the
        customer's personal data too."""
        if not notes:
            return self
        return Transcript(self.conversation_id, sorted([*self.messages, *notes], key=lambda m: m["at"] or ""))

    def as_record(self, reference: str) -> dict:
        """The transcript as the customer gets it: under `reference`, never the conversation id (the
        chat session id, which is the key to a verified website conversation)."""
        return {"conversation": reference, "started_at": self.started_at, "messages": self.messages}


class TrackerStore:
    """Rasa's tracker store, read for transcripts and emptied by erasures. Connects on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def engine(self) -> Engine:
        if self._engine is None:
            sqlite = self.url.startswith("sqlite")
            connect_args = {"timeout": 30} if sqlite else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
            self._engine = create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
        return self._engine

    def _missing_file(self) -> bool:
        """A SQLite file Rasa has not made yet holds nothing (and connecting would create it)."""
        url = make_url(self.url)
        database = url.database
        if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return False
        return not Path(database).exists()

    def transcripts(self, conversation_ids: Iterable[str]) -> list[Transcript]:
        """The customer's and the assistant's messages of these conversations, oldest conversation first."""
        ids = sorted(set(conversation_ids))
        if not ids or self._missing_file():
            return []
        found: dict[str, list[dict]] = {}
        try:
            with self.engine().connect() as connection:
                if not inspect(connection).has_table(EVENTS.name):
                    return []
                rows = connection.execute(
                    select(EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
                    .where(EVENTS.c.sender_id.in_(ids), EVENTS.c.type_name.in_(tuple(SPEAKERS)))
                    .order_by(EVENTS.c.timestamp, EVENTS.c.id)
                )
                for sender_id, type_name, timestamp, data in rows:
                    message = _message(type_name, timestamp, data)
                    if message is not None:
                        found.setdefault(sender_id, []).append(message)
        except SQLAlchemyError as exc:
            raise TranscriptsUnavailable(f"the assistant's conversation store cannot be read ({type(exc).__name__})") from None
        transcripts = [Transcript(cid, messages) for cid, messages in found.items()]
        return sorted(transcripts, key=lambda t: (t.started_at or "", t.conversation_id))

    def last_event_id(self, conversation_id: str) -> int:
        """The id of the conversation's newest stored event (0 for none): what a hand-over has seen."""
        found = self._read(select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.data).where(EVENTS.c.sender_id == conversation_id)
                           .order_by(EVENTS.c.id.desc()).limit(1))
        return found[0][0] if found else 0

    def events_after(self, conversation_id: str, after_id: int, limit: int = 500) -> list[tuple[int, str, str | None]]:
        """(id, type, data) of the conversation's events stored after `after_id`, oldest first."""
        return self._read(select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.data)
                          .where(EVENTS.c.sender_id == conversation_id, EVENTS.c.id > after_id).order_by(EVENTS.c.id).limit(limit))

    def _read(self, query: Any) -> list[tuple[int, str, str | None]]:
        if self._missing_file():
            return []
        try:
            with self.engine().connect() as connection:
                if not inspect(connection).has_table(EVENTS.name):
                    return []
                return [(row[0], row[1], row[2]) for row in connection.execute(query)]
        except SQLAlchemyError as exc:
            raise TranscriptsUnavailable(f"the assistant's conversation store cannot be read ({type(exc).__name__})") from None

    def erase(self, conversation_ids: Iterable[str], now: dt.datetime) -> tuple[int, int]:
        """Delete every event of these conversations and leave a tombstone, so that a turn still
        running cannot write them back (bot/tracker_store.py): (conversations that had rows, rows
        deleted). A store that does not exist, or is not the erasure-aware one, fails: an erasure
        must never be reported done where nothing could be erased."""
        ids = sorted(set(conversation_ids))
        if self._missing_file():
            raise TranscriptsUnavailable(f"the assistant's conversation store {make_url(self.url).database} does not exist: "
                                         "check TRACKER_DB_* (Rasa and the back office must use the same store)")
        conversations = events = 0
        try:
            with self.engine().begin() as connection:
                tables = inspect(connection)
                if not tables.has_table(EVENTS.name):
                    raise TranscriptsUnavailable("the assistant's conversation store has no events table: "
                                                 "check TRACKER_DB_* (Rasa and the back office must use the same store)")
                if not tables.has_table(TOMBSTONES.name):
                    raise TranscriptsUnavailable("Rasa's tracker store is not bot.tracker_store.ErasureAwareTrackerStore "
                                                 "(bot/endpoints.yml): an erased conversation could be written back")
                for conversation_id in ids:
                    if connection.dialect.name == "postgresql":
                        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": erasure_lock_key(conversation_id)})
                    deleted = connection.execute(delete(EVENTS).where(EVENTS.c.sender_id == conversation_id)).rowcount
                    marked = connection.execute(update(TOMBSTONES).where(TOMBSTONES.c.sender_id == conversation_id)
                                                .values(erased_at=now.timestamp())).rowcount
                    if not marked:
                        connection.execute(insert(TOMBSTONES).values(sender_id=conversation_id, erased_at=now.timestamp()))
                    conversations += deleted > 0
                    events += deleted
        except SQLAlchemyError as exc:
            raise TranscriptsUnavailable(f"the assistant's conversation store cannot be changed ({type(exc).__name__})") from None
        return conversations, events


def _message(type_name: str, timestamp: float | None, data: str | None) -> dict | None:
    """One message as the customer would read it; None for an event without text (buttons only)."""
    try:
        event = json.loads(data) if data else {}
    except ValueError:
        event = {}
    text = event.get("text") if isinstance(event, dict) else None
    if not isinstance(text, str) or not text.strip():
        return None
    moment = timestamp if timestamp is not None else event.get("timestamp")
    at = dt.datetime.fromtimestamp(moment, dt.UTC).isoformat() if isinstance(moment, (int, float)) else None
    agent = (event.get("metadata") or {}).get("agent") if isinstance(event.get("metadata"), dict) else None
    if type_name == "bot" and isinstance(agent, str) and agent:
        return {"at": at, "from": "agent", "agent": agent[:100], "text": text}  # a member of staff, in a chat handed to them
    return {"at": at, "from": SPEAKERS[type_name], "text": text}
