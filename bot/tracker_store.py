"""Rasa's SQL tracker store, made so that an erased conversation stays erased.

Rasa 3.6's `SQLTrackerStore.save` counts the rows stored since the session started and writes every
in-memory event beyond that count. When the back office erases a customer's conversation while a
turn of it is running (the turn that filed the erasure, or any later one), that turn's save finds
no rows and writes the whole session back.

The back office records each erasure as a tombstone, `erased_conversations` (sender_id, erased_at in
Unix seconds), in the same transaction as it deletes the conversation's events. This store writes
only events newer than the tombstone, so a turn that began before the erasure can add what happened
after it, never what came before. The customer's next message starts a clean conversation.

The save and the erasure are serialised per conversation, so neither can slip between the other's
check and its write: on PostgreSQL both take the transaction-level advisory lock
`erasure_lock_key(sender_id)`; on SQLite the save takes the database's write lock before it reads the
tombstone (the erasure's DELETE needs the same lock). The back office defines the same table and key
(`backend/backoffice/shared/tracker_store.py`); they meet in the database, not in code (the two run in
environments that cannot import each other), and tests/test_tracker_store.py checks that both compute
the same key and that an erasure released against a held save waits for it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

TOMBSTONES = "erased_conversations"


def erasure_lock_key(sender_id: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory lock of one conversation."""
    return int.from_bytes(hashlib.sha256(sender_id.encode()).digest()[:8], "big", signed=True)


class ErasedConversation(SQLTrackerStore.Base):
    """A conversation erased at `erased_at`: no event from before then may be stored again."""

    __tablename__ = TOMBSTONES
    sender_id = sa.Column(sa.String(255), primary_key=True)
    erased_at = sa.Column(sa.Float, nullable=False)


class ErasureAwareTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that never writes back an event older than the conversation's erasure."""

    def __init__(self, *args: Any, username: str | None = None, password: str | None = None,
                 port: int | str | None = None, **kwargs: Any) -> None:
        """bot/endpoints.yml passes every setting from the environment, and Rasa makes an unset one
        an error: the embedded SQLite store, which has no user, password or port, sets them empty,
        and an empty one is not set (Rasa's own store would try user "" and port int(""))."""
        super().__init__(*args, username=username or None, password=password or None, port=port or None, **kwargs)

    def _additional_events(self, session: sa.orm.Session, tracker: DialogueStateTracker) -> Iterator:
        sender_id: str = tracker.sender_id
        self._serialise_with_erasure(session, sender_id)
        erased_at = session.query(ErasedConversation.erased_at).filter(ErasedConversation.sender_id == sender_id).scalar()
        events = super()._additional_events(session, tracker)
        if erased_at is None:
            return events
        return (event for event in events if (event.timestamp or 0.0) > erased_at)

    def _serialise_with_erasure(self, session: sa.orm.Session, sender_id: str) -> None:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": erasure_lock_key(sender_id)})
        elif dialect == "sqlite":
            session.execute(sa.text(f"UPDATE {TOMBSTONES} SET erased_at = erased_at WHERE sender_id = :sender_id"),
                            {"sender_id": sender_id})
