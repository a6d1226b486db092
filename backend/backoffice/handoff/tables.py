"""The handoff's records: the queue, agents' private notes, who did what, tickets, and which agents
have the console open. The queue lives here, not in Rasa (which has no list of conversations), so it
survives a restart of either."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..shared.database import Base, UTCDateTime


class QueueEntry(Base):
    """One hand-over of a conversation to the team, from the bot's "I'm handing you over" to its end."""

    __tablename__ = "queue_entries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(String(30))
    customer_id: Mapped[str | None] = mapped_column(String(64))  # when the conversation is verified here
    verified_by: Mapped[str | None] = mapped_column(String(10))  # email | session
    summary: Mapped[dict] = mapped_column(JSON)  # topics, requests, last_messages
    state: Mapped[str] = mapped_column(String(20), index=True)
    claimed_by: Mapped[int | None] = mapped_column(Integer)  # a staff member's id
    claimed_by_name: Mapped[str | None] = mapped_column(String(100))
    agent_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_because: Mapped[str | None] = mapped_column(String(200))
    customer_away_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # the website chat was closed
    # the last tracker event read for this entry (Rasa's events.id): what the customer typed since is new
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    # the client address's keyed hash (the website channel's X-Chat-Source; none on other channels):
    # how many chats wait from one source is limited, and agents see which come from one
    source: Mapped[str | None] = mapped_column(String(16), index=True)
    # Rasa saves a turn only when it ends: until the hand-over's own turn (up to its pause) is read,
    # a session start in it is that turn's beginning, not the customer leaving
    handover_stored: Mapped[bool] = mapped_column(Boolean, default=False)


class AgentNote(Base):
    """A private note of an agent on a conversation: never shown to the customer, but part of their
    transcript in an export, and erased with it."""

    __tablename__ = "agent_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(40), index=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    staff_id: Mapped[int] = mapped_column(Integer)
    staff_name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class HandoffAudit(Base):
    """Who claimed, replied, transferred, handed back or closed a conversation, and when. Only inserted."""

    __tablename__ = "handoff_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict | None] = mapped_column(JSON)


class Ticket(Base):
    """A question left for the team when no agent could take the chat, answered by e-mail at the
    verified customer's address in the company's records."""

    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(String(30))
    transcript: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    answer_by: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="open")


class AgentPresence(Base):
    """When an agent's console last asked for the queue: agents seen lately are the ones available."""

    __tablename__ = "agent_presence"

    staff_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
