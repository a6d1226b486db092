"""What happens when the bot hands a chat to a person, start to finish, in one place.

1. `hand_over`: the assistant asks (with the message's presence). When the office is open and an
   agent has the console open, the conversation joins the queue (a `QueueEntry` with the reason,
   language, channel, how the customer is verified, their open requests and a summary) and the
   customer is told their place and the expected wait; the bot pauses the conversation. Otherwise,
   or when the customer's address or account already has as many chats waiting as allowed, the
   customer is offered a ticket (`record_ticket`, with the transcript, answered by e-mail).
2. Everything the customer types while waiting stays in Rasa's tracker (paused, the bot predicts
   nothing): the agent reads it from there (`conversation`), so nothing typed is lost, whichever
   process was up. Staff read it with codes, links and tokens masked (`rules.masked`).
3. An agent claims (one only: a conditional update), replies (a bot event on the customer's own
   channel: `RasaConversations`), writes notes, transfers, hands back (the bot resumes and says so)
   or closes. Each step is in the audit log with the agent's name.
4. `Upkeep.run_once`, every second in the back office: a claim whose agent's console went away
   returns to the queue; a customer who restarted the chat, whose session ended, who pressed "stop
   waiting", or whose website chat stayed closed (`customer_presence`) leaves the queue, and the bot
   resumes. Every back office runs it; each entry is changed (and its customer told) by one of them,
   the one holding the entry's row.

The parts one process holds (`Handoff`: the settings read, the tracker store, the Rasa client, the
upkeep, the count of live consoles) are made here once, at start.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import holidays
import httpx2
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from chatprotocol import CANCEL_HANDOFF_INTENT, PUSHING_CHANNELS, HandoffReason

from .. import sentences
from ..catalogue import Catalogue
from ..identity.tables import ConversationIdentity
from ..requests.rules import OPEN as OPEN_REQUESTS
from ..requests.service.filing import Filed, file_request
from ..requests.service.receipts import long_date
from ..requests.tables import Request
from ..settings import Settings
from ..shared.logs import reference
from ..shared.tracker_store import TrackerStore, TranscriptsUnavailable
from ..staff.rules import Staff
from ..staff.service import still_signed_in
from ..staff.tables import StaffMember, StaffSession
from . import rules
from .tables import AgentNote, AgentPresence, HandoffAudit, QueueEntry, Ticket

if TYPE_CHECKING:
    from ..knowledge.rules import KnowledgeVersion
    from ..shared.dependencies import Clock

log = logging.getLogger(__name__)

MAX_OPEN_REQUESTS = 10
SEEN_EVERY = dt.timedelta(seconds=10)


# --- Rasa's HTTP API ------------------------------------------------------------------------------
# Rasa keeps the conversation; an agent's reply is a `bot` event appended with the customer's own
# output channel and `execute_side_effects`, so a channel that can push (the website's socket.io) shows
# it at once, and a channel that cannot (REST) finds it in the tracker. Handing back appends `resume`
# (docs/architecture.md). Every call carries the API's token (`rasa run --auth-token`) and a timeout well
# under Rasa's 60-second conversation lock.

class RasaUnavailable(Exception):
    """Rasa could not be reached or refused the call; the message is safe to show an agent."""


class RasaConversations:
    def __init__(self, base_url: str, api_token: str, texts: sentences.Texts, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_token = api_token
        self.texts = texts  # what the back office says in a conversation: the catalogue's back_office.handoff
        transport = httpx2.HTTPTransport(retries=2)  # connection failures only: an append is not repeated once sent
        self.http = httpx2.Client(timeout=httpx2.Timeout(timeout), transport=transport)

    def close(self) -> None:
        self.http.close()

    def say(self, conversation_id: str, channel: str, text: str, metadata: dict[str, Any] | None = None,
            resume: bool = False) -> None:
        """Send `text` to the customer as the conversation's next bot message on their channel (after
        resuming the bot first when `resume`)."""
        # After `resume` the bot listens again: without the `action_listen`, Rasa predicts the customer's
        # next message from a turn that never ended (and answers it with a fallback).
        events: list[dict[str, Any]] = [{"event": "resume"}, {"event": "action", "name": "action_listen"}] if resume else []
        events.append({"event": "bot", "text": text, "metadata": metadata or {}})
        self._append(conversation_id, channel, events)

    def tell(self, entry: QueueEntry, key: str, metadata: dict[str, Any] | None = None, resume: bool = False, **values: Any) -> None:
        """Say the catalogue's `back_office.handoff.<key>` to the customer of `entry`, in the conversation's language."""
        language = entry.language if entry.language in sentences.LANGUAGES else "en"
        self.say(entry.conversation_id, entry.channel, self.texts(language, f"back_office.handoff.{key}", **values), metadata, resume)

    def _append(self, conversation_id: str, channel: str, events: list[dict[str, Any]]) -> None:
        if not self.api_token:
            raise RasaUnavailable("RASA_API_TOKEN is not set: the back office cannot reach the conversation")
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        params = {"token": self.api_token, "include_events": "NONE", "output_channel": channel or "latest",
                  "execute_side_effects": "true"}
        try:
            answer = self.http.post(url, params=params, json=events)
        except httpx2.HTTPError as exc:
            raise RasaUnavailable(f"the assistant (Rasa) cannot be reached ({type(exc).__name__}); try again") from None
        if answer.status_code >= 400:
            log.error("Rasa refused events for conversation %s: %s", reference(conversation_id), answer.status_code)
            raise RasaUnavailable(f"the assistant (Rasa) refused the message ({answer.status_code}); try again")


# --- the settings -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeskConfig:
    hours: rules.OfficeHours
    minutes_per_conversation: float
    ticket_working_days: int
    claim_timeout: dt.timedelta
    agent_presence: dt.timedelta  # an agent seen this recently is available
    waiting_per_source: int = 2
    waiting_per_customer: int = 1

    @classmethod
    def from_settings(cls, settings: Settings, today: dt.date) -> DeskConfig:
        """ValueError names a setting that cannot be read."""
        closed: set[dt.date] = set()
        if settings.handoff_holidays_country:
            years = range(today.year - 1, today.year + 3)
            closed.update(holidays.country_holidays(settings.handoff_holidays_country.upper(), years=years))
        try:
            closed.update(dt.date.fromisoformat(day) for day in settings.handoff_closed_dates.split())
        except ValueError:
            raise ValueError("HANDOFF_CLOSED_DATES: each date must be YYYY-MM-DD, space-separated") from None
        return cls(rules.OfficeHours.parse(settings.handoff_office_hours, closed), settings.handoff_minutes_per_conversation,
                   settings.handoff_ticket_working_days, dt.timedelta(seconds=settings.handoff_claim_timeout_seconds),
                   dt.timedelta(seconds=settings.handoff_agent_presence_seconds), settings.handoff_waiting_per_source,
                   settings.handoff_waiting_per_customer)

    @staticmethod
    def problems(settings: Settings) -> list[str]:
        """Why the handoff's settings cannot be read, each naming its variable. `python -m backoffice`
        asks before the back office or its worker starts, so a wrong value stops the start, not the
        first hand-over."""
        problems = []
        try:
            rules.OfficeHours.parse(settings.handoff_office_hours)
        except ValueError as exc:
            problems.append(f"HANDOFF_OFFICE_HOURS: {exc}")
        if settings.handoff_holidays_country and settings.handoff_holidays_country.upper() not in holidays.list_supported_countries():
            problems.append(f"HANDOFF_HOLIDAYS_COUNTRY: no public holidays known for '{settings.handoff_holidays_country[:10]}' "
                            "(an ISO country code such as NL or BE; empty for none)")
        if any(not _is_date(day) for day in settings.handoff_closed_dates.split()):
            problems.append("HANDOFF_CLOSED_DATES: each date must be YYYY-MM-DD, space-separated")
        return problems


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def actor(staff: Staff) -> str:
    """How the audit log names a member of staff: by role and login, as the ledger's audit does."""
    return f"{staff.role}:{staff.email}"[:150]


def language_of(value: str) -> str:
    return value if value in ("nl", "en") else "en"


def audit(session: Session, entry: QueueEntry, actor: str, action: str, now: dt.datetime, **detail: Any) -> None:
    session.add(HandoffAudit(entry_id=entry.id, at=now, actor=actor, action=action, detail=detail or None))


def open_entry(session: Session, conversation_id: str) -> QueueEntry | None:
    return session.scalar(select(QueueEntry).where(QueueEntry.conversation_id == conversation_id,
                                                   QueueEntry.state.in_(rules.OPEN_STATES)).order_by(QueueEntry.created_at.desc()))


def available_agents(session: Session, config: DeskConfig, now: dt.datetime) -> set[int]:
    """Agents whose console asked lately and who are still signed in (signing out ends it at once)."""
    signed_in = exists().where(StaffSession.staff_id == AgentPresence.staff_id)
    return set(session.scalars(select(AgentPresence.staff_id).where(AgentPresence.seen_at >= now - config.agent_presence, signed_in)))


def agents_available(session: Session, config: DeskConfig, now: dt.datetime) -> int:
    return len(available_agents(session, config, now))


def waiting_before(session: Session, entry: QueueEntry) -> int:
    return session.scalar(select(func.count()).select_from(QueueEntry).where(
        QueueEntry.state == rules.State.WAITING.value, QueueEntry.created_at < entry.created_at)) or 0


def waiting_count(session: Session, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(QueueEntry).where(QueueEntry.state == rules.State.WAITING.value, *where)) or 0


def hand_over(session: Session, config: DeskConfig, store: TrackerStore, *, conversation_id: str, channel: str, source: str,
              language: str, reason: HandoffReason, summary: dict, binding: ConversationIdentity | None, now: dt.datetime) -> dict:
    """Queue the conversation or offer a ticket; what the customer is to be told. A second hand-over of
    a conversation already in the queue keeps its place. A source (the client's keyed address) or a
    verified customer with as many chats waiting as allowed is offered a ticket instead of a place.
    (Two hand-overs from one source at the same instant may both pass the count: the limit is for
    floods, and one more place is no flood.)"""
    existing = open_entry(session, conversation_id)
    if existing is not None:
        ahead = waiting_before(session, existing)
        return {"queued": True, "entry": existing.id, "position": ahead + 1,
                "expected_wait_minutes": rules.expected_wait(ahead + 1, max(agents_available(session, config, now), 1),
                                                          config.minutes_per_conversation)}
    ahead = waiting_count(session)
    from_source = waiting_count(session, QueueEntry.source == source) if source else 0
    of_customer = waiting_count(session, QueueEntry.customer_id == binding.customer_id) if binding else 0
    crowded = rules.over_limit(from_source, of_customer, config.waiting_per_source, config.waiting_per_customer)
    if crowded:
        log.warning("hand-over of conversation %s offered a ticket: its %s has as many chats waiting as allowed",
                    reference(conversation_id),
                    "source" if from_source >= config.waiting_per_source else "customer")
    offer = rules.welcome(config.hours, now, agents_available(session, config, now), ahead, config.minutes_per_conversation,
                       config.ticket_working_days, over_limit=crowded)
    if not offer.queued:
        return {"queued": False, "opens_at": offer.opens_at.isoformat() if offer.opens_at else None,
                "ticket_answered_by": offer.ticket_answered_by.isoformat() if offer.ticket_answered_by else None}
    entry = QueueEntry(
        id=f"H-{secrets.token_hex(6)}", conversation_id=conversation_id, channel=channel, language=language_of(language),
        reason=reason.value, customer_id=binding.customer_id if binding else None, verified_by=binding.method if binding else None,
        summary=summary, state=rules.State.WAITING.value, created_at=now, last_event_id=store.last_event_id(conversation_id),
        source=source or None, handover_stored=False,
    )
    session.add(entry)
    audit(session, entry, "assistant", "queued", now, reason=reason.value)
    session.commit()
    return {"queued": True, "entry": entry.id, "position": offer.position, "expected_wait_minutes": offer.expected_wait_minutes}


def record_ticket(session: Session, config: DeskConfig, store: TrackerStore, *, conversation_id: str, customer_id: str,
                  language: str, reason: HandoffReason, now: dt.datetime) -> Ticket:
    """A question for the team, with the conversation so far (codes, links and tokens masked: staff
    read it), to be answered by e-mail at the verified customer's address in the company's records
    (never one typed in the chat)."""
    transcripts = store.transcripts([conversation_id])
    ticket = Ticket(id=f"T-{secrets.token_hex(6)}", conversation_id=conversation_id, customer_id=customer_id,
                    language=language_of(language), reason=reason.value,
                    transcript=rules.masked_messages(transcripts[0].messages) if transcripts else [], created_at=now,
                    answer_by=config.hours.working_days_after(now, config.ticket_working_days), state="open")
    session.add(ticket)
    session.commit()
    return ticket


# --- what an agent sees ---------------------------------------------------------------------------

def open_requests(session: Session, customer_id: str | None) -> list[dict]:
    if not customer_id:
        return []
    rows = session.scalars(select(Request).where(Request.customer_id == customer_id, Request.status.in_(OPEN_REQUESTS))
                           .order_by(Request.due_on).limit(MAX_OPEN_REQUESTS))
    return [{"id": r.id, "type": r.type, "status": r.status, "due_on": r.due_on.isoformat()} for r in rows]


def preview(entry: QueueEntry, agent: Staff) -> dict:
    """What the queue shows of the chat: for a waiting one or the agent's own, the topics, requests and
    last messages (masked); for a colleague's, nothing."""
    if not rules.may_preview(rules.State(entry.state), entry.claimed_by, agent.id):
        return {"topics": [], "requests": [], "last_messages": []}
    summary = entry.summary or {}
    said = summary.get("last_messages")
    if not isinstance(said, list):
        return summary
    return {**summary, "last_messages": [rules.masked(m) if isinstance(m, str) else m for m in said]}


def same_source(session: Session, entry: QueueEntry) -> int:
    """How many other open chats came from the entry's source (0 when it has none)."""
    if not entry.source:
        return 0
    return session.scalar(select(func.count()).select_from(QueueEntry).where(
        QueueEntry.source == entry.source, QueueEntry.state.in_(rules.OPEN_STATES), QueueEntry.id != entry.id)) or 0


def entry_view(session: Session, entry: QueueEntry, now: dt.datetime, agent: Staff, others_from_source: int) -> dict:
    """An entry as an agent sees it; `same_source_as`: how many other open chats came from the same
    client address (a flood from one place shows)."""
    waited_until = entry.claimed_at if entry.state != rules.State.WAITING.value and entry.claimed_at else now
    return {
        "id": entry.id, "state": entry.state, "reason": entry.reason, "language": entry.language, "channel": entry.channel,
        "channel_pushes": entry.channel in PUSHING_CHANNELS,
        "verified": {"customer_id": entry.customer_id, "by": entry.verified_by} if entry.customer_id else None,
        "open_requests": open_requests(session, entry.customer_id), "summary": preview(entry, agent),
        "same_source_as": others_from_source,
        "waiting_seconds": max(0, int((waited_until - entry.created_at).total_seconds())),
        "created_at": entry.created_at.isoformat(), "claimed_by": entry.claimed_by, "claimed_by_name": entry.claimed_by_name,
        "ended_because": entry.ended_because,
        "customer_away_since": entry.customer_away_at.isoformat() if entry.customer_away_at else None,
    }


def queue(session: Session, now: dt.datetime, agent: Staff) -> list[dict]:
    """The open entries, the longest waiting first."""
    rows = list(session.scalars(select(QueueEntry).where(QueueEntry.state.in_(rules.OPEN_STATES)).order_by(QueueEntry.created_at)))
    per_source = Counter(e.source for e in rows if e.source)
    return [entry_view(session, e, now, agent, per_source[e.source] - 1 if e.source else 0) for e in rows]


def may_read(entry: QueueEntry, agent: Staff) -> bool:
    """An agent reads a conversation in the queue or one they hold; a privacy officer reads any."""
    return agent.is_privacy_officer or entry.state == rules.State.WAITING.value or entry.claimed_by == agent.id


def conversation(session: Session, store: TrackerStore, entry: QueueEntry, now: dt.datetime, agent: Staff) -> dict:
    """The entry with the whole transcript (the customer, the assistant, agents; codes, links and
    tokens masked), the notes and the audit log."""
    transcripts = store.transcripts([entry.conversation_id])
    notes = session.scalars(select(AgentNote).where(AgentNote.conversation_id == entry.conversation_id).order_by(AgentNote.id))
    trail = session.scalars(select(HandoffAudit).where(HandoffAudit.entry_id == entry.id).order_by(HandoffAudit.id))
    return {
        **entry_view(session, entry, now, agent, same_source(session, entry)),
        "transcript": rules.masked_messages(transcripts[0].messages) if transcripts else [],
        "notes": [{"at": n.at.isoformat(), "by": n.staff_name, "text": n.text} for n in notes],
        "audit": [{"at": a.at.isoformat(), "actor": a.actor, "action": a.action, "detail": a.detail} for a in trail],
    }


def seen(session: Session, agent: Staff, now: dt.datetime) -> None:
    """The agent's console is open: they are available, and their claims stay theirs. A console asks
    every second; the presence is written at most every SEEN_EVERY (well inside the presence window
    and the claim timeout), so an open console is not two writes a second."""
    row = session.get(AgentPresence, agent.id)
    if row is None:
        session.add(AgentPresence(staff_id=agent.id, first_name=agent.first_name, seen_at=now))
    elif now - row.seen_at < SEEN_EVERY:
        return
    else:
        row.seen_at = now
    session.execute(update(QueueEntry).where(QueueEntry.claimed_by == agent.id, QueueEntry.state == rules.State.CLAIMED.value)
                    .values(agent_seen_at=now))
    session.commit()


# --- what an agent does ---------------------------------------------------------------------------

def claim(session: Session, rasa: RasaConversations, entry: QueueEntry, agent: Staff, now: dt.datetime) -> None:
    """Take the conversation; two agents at once: the first wins, the second gets `Refused`."""
    rules.claim(rules.State(entry.state), entry.claimed_by, agent.id)
    if entry.claimed_by == agent.id:
        return
    taken = session.scalar(update(QueueEntry).where(QueueEntry.id == entry.id, QueueEntry.state == rules.State.WAITING.value).values(
        state=rules.State.CLAIMED.value, claimed_by=agent.id, claimed_by_name=agent.first_name, claimed_at=now, agent_seen_at=now)
        .returning(QueueEntry.id))
    if taken is None:
        session.rollback()
        raise rules.Refused("someone else has taken this conversation")
    audit(session, entry, actor(agent), "claimed", now)
    session.commit()
    session.refresh(entry)
    rasa.tell(entry, "agent_joined", metadata={"agent": agent.first_name}, name=agent.first_name)


def reply(session: Session, rasa: RasaConversations, entry: QueueEntry, agent: Staff, text: str, now: dt.datetime) -> None:
    rules.act_on(rules.State(entry.state), entry.claimed_by, agent.id)
    rasa.tell(entry, "agent_says", metadata={"agent": agent.first_name}, name=agent.first_name, text=rules.bounded_text(text))
    audit(session, entry, actor(agent), "replied", now, characters=len(text))
    entry.agent_seen_at = now
    session.commit()


def note(session: Session, entry: QueueEntry, agent: Staff, text: str, now: dt.datetime) -> None:
    """A private note, by the agent who holds the conversation: one nobody has taken is not theirs to annotate."""
    rules.act_on(rules.State(entry.state), entry.claimed_by, agent.id)
    session.add(AgentNote(entry_id=entry.id, conversation_id=entry.conversation_id, staff_id=agent.id,
                          staff_name=agent.full_name[:100], text=rules.bounded_text(text), at=now))
    audit(session, entry, actor(agent), "noted", now)
    session.commit()


def held(session: Session, entry: QueueEntry) -> None:
    """The entry read again, its row locked until the move is committed: of two moves at once (two
    clicks, two back offices, the upkeep), the second sees the first's outcome."""
    session.refresh(entry, with_for_update=True)


def transfer(session: Session, rasa: RasaConversations, entry: QueueEntry, agent: Staff, to: Staff | None, now: dt.datetime) -> None:
    """To a colleague (who holds it at once), or back to the queue (`to` None)."""
    held(session, entry)
    rules.act_on(rules.State(entry.state), entry.claimed_by, agent.id)
    if to is None:
        entry.state, entry.claimed_by, entry.claimed_by_name, entry.claimed_at = rules.State.WAITING.value, None, None, None
    else:
        entry.claimed_by, entry.claimed_by_name, entry.claimed_at, entry.agent_seen_at = to.id, to.first_name, now, now
    audit(session, entry, actor(agent), "transferred", now, to=actor(to) if to else "queue")
    session.commit()
    rasa.tell(entry, "agent_transferred", name=agent.first_name)
    if to is not None:
        rasa.tell(entry, "agent_joined", metadata={"agent": to.first_name}, name=to.first_name)


def end(session: Session, rasa: RasaConversations, entry: QueueEntry, agent: Staff, state: rules.State, now: dt.datetime) -> None:
    """Hand back to the bot or close: the bot resumes and tells the customer, then the entry ends."""
    held(session, entry)
    rules.act_on(rules.State(entry.state), entry.claimed_by, agent.id)
    rasa.tell(entry, "bot_is_back" if state == rules.State.HANDED_BACK else "agent_closed", resume=True, name=agent.first_name)
    entry.state, entry.ended_at = state.value, now
    entry.ended_because = "handed back to the assistant" if state == rules.State.HANDED_BACK else "closed by the agent"
    audit(session, entry, actor(agent), "handed_back" if state == rules.State.HANDED_BACK else "closed", now)
    session.commit()


def customer_presence(session: Session, conversation_id: str, here: bool, now: dt.datetime) -> None:
    """The website says the customer's chat window closed (or opened again): the agent sees it, and a
    waiting customer who stays away leaves the queue (`Upkeep`)."""
    entry = open_entry(session, conversation_id)
    if entry is None or (entry.customer_away_at is None) == here:
        return
    entry.customer_away_at = None if here else now
    audit(session, entry, "customer", "back" if here else "away", now)
    session.commit()


def file_for_customer(session: Session, rasa: RasaConversations, entry: QueueEntry, agent: Staff, *, type: str,  # noqa: A002
                      categories: list[str] | None, details: dict | None, client_request_id: str, now: dt.datetime,
                      catalogue: Catalogue) -> Filed:
    """File a privacy request for the customer of a conversation the agent holds, if it is verified
    (still, now): the ledger records the agent as the one who filed it, and the customer is told."""
    rules.act_on(rules.State(entry.state), entry.claimed_by, agent.id)
    binding = session.scalar(select(ConversationIdentity).where(ConversationIdentity.conversation_id == entry.conversation_id))
    if binding is None or binding.expires_at <= now:
        raise rules.Refused("the customer is not verified in this chat: ask them to verify (website login or e-mail code) first")
    if entry.language in ("nl", "en"):  # the customer hears the outcome in the chat's language
        details = {"language": entry.language, **(details or {})}
    filed = file_request(session, binding.customer_id, type, categories, details, client_request_id, now, channel=entry.channel,
                         conversation_id=entry.conversation_id, catalogue=catalogue, filed_by=actor(agent))
    if filed.created:
        audit(session, entry, actor(agent), "filed_request", now, request=filed.request.id, type=filed.request.type)
        session.commit()
        rasa.tell(entry, "agent_filed", metadata={"agent": agent.first_name}, name=agent.first_name, request=filed.request.id,
                  due=long_date(filed.request.due_on, entry.language))
    return filed


# --- upkeep ---------------------------------------------------------------------------------------

def _intent(data: str | None) -> str | None:
    try:
        event = json.loads(data) if data else {}
    except ValueError:
        return None
    intent = (event.get("parse_data") or {}).get("intent") or {} if isinstance(event, dict) else {}
    return intent.get("name") if isinstance(intent, dict) else None


class Upkeep:
    """Keeps the queue true to what happened elsewhere: consoles that went away, customers who left.

    Every back office runs it, so each entry is followed under its row's lock (PostgreSQL `FOR UPDATE
    SKIP LOCKED`: an entry another back office follows now is left to it; SQLite has one writer), and
    its state read again under the lock: a change, the customer's notice and its audit line happen once,
    in the process that holds the entry, and the lock is held until they are committed."""

    def __init__(self, sessions: sessionmaker, store: TrackerStore, rasa: RasaConversations, config: DeskConfig) -> None:
        self.sessions, self.store, self.rasa, self.config = sessions, store, rasa, config
        self.stop = threading.Event()

    def run_forever(self, clock: Callable[[], dt.datetime], every: float = 1.0) -> None:
        while not self.stop.wait(every):
            try:
                self.run_once(clock())
            except Exception:  # the database or Rasa may be restarting: the next pass tries again
                log.exception("handoff upkeep failed; trying again")

    def run_once(self, now: dt.datetime) -> None:
        with self.sessions() as session:
            open_ids = list(session.scalars(select(QueueEntry.id).where(QueueEntry.state.in_(rules.OPEN_STATES))))
            session.commit()
            for entry_id in open_ids:
                self._follow(session, entry_id, now)

    @staticmethod
    def _hold(session: Session, entry_id: str) -> QueueEntry | None:
        """The entry, locked, as it is now; None when it ended or another back office holds it."""
        return session.scalar(select(QueueEntry).where(QueueEntry.id == entry_id, QueueEntry.state.in_(rules.OPEN_STATES))
                              .with_for_update(skip_locked=True).execution_options(populate_existing=True))

    def _follow(self, session: Session, entry_id: str, now: dt.datetime) -> None:
        entry = self._hold(session, entry_id)
        if entry is None:
            session.rollback()
            return
        if rules.claim_lapsed(rules.State(entry.state), entry.agent_seen_at, now, self.config.claim_timeout):
            audit(session, entry, "back office", "returned_to_queue", now, agent=entry.claimed_by_name)
            entry.state, entry.claimed_by, entry.claimed_by_name, entry.claimed_at = rules.State.WAITING.value, None, None, None
            session.commit()
            entry = self._hold(session, entry_id)
            if entry is None:
                session.rollback()
                return
        if rules.left_for_good(rules.State(entry.state), entry.customer_away_at, now, rules.AWAY_GRACE):
            try:
                self.rasa.tell(entry, "stopped_waiting", resume=True)
            except RasaUnavailable as exc:
                log.error("the customer of %s left, but the bot could not be resumed yet: %s", entry.id, exc)
                session.rollback()
                return
            self._ends(session, entry, rules.State.LEFT, "the customer closed the chat", now)
            return
        try:
            events = self.store.events_after(entry.conversation_id, entry.last_event_id)
        except TranscriptsUnavailable as exc:
            log.warning("handoff upkeep cannot read %s: %s", entry.id, exc)
            session.rollback()
            return
        for event_id, type_name, data in events:
            entry.last_event_id = event_id
            if not entry.handover_stored:
                # the hand-over's own turn: a first message's (or an expired session's) turn begins
                # with a session start; the turn ends with the pause the hand-over asked for
                entry.handover_stored = type_name == "pause"
                continue
            if type_name in ("restart", "session_started"):
                self._ends(session, entry, rules.State.LEFT, "the customer restarted the chat" if type_name == "restart"
                           else "the customer's chat session ended", now)
                return
            if type_name == "user" and _intent(data) == CANCEL_HANDOFF_INTENT and entry.state == rules.State.WAITING.value:
                try:
                    self.rasa.tell(entry, "stopped_waiting", resume=True)
                except RasaUnavailable as exc:  # the entry stays as it was: the next pass tries again
                    log.error("the customer of %s stopped waiting, but the bot could not be resumed yet: %s", entry.id, exc)
                    session.rollback()
                    return
                self._ends(session, entry, rules.State.CANCELLED, "the customer stopped waiting", now)
                return
        session.commit()

    @staticmethod
    def _ends(session: Session, entry: QueueEntry, state: rules.State, because: str, now: dt.datetime) -> None:
        entry.state, entry.ended_at, entry.ended_because = state.value, now, because
        audit(session, entry, "customer", state.value, now)
        session.commit()


# --- the process's parts --------------------------------------------------------------------------

@dataclass
class Handoff:
    """The handoff's parts of one process (on `app.state.handoff`)."""

    config: DeskConfig
    store: TrackerStore
    rasa: RasaConversations
    upkeep: Upkeep
    streams: dict[int, int] = field(default_factory=dict)  # open live streams per staff member
    streams_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, settings: Settings, sessions: sessionmaker, clock: Clock) -> Handoff:
        config = DeskConfig.from_settings(settings, clock().date())
        store = TrackerStore(settings.tracker_url)
        rasa = RasaConversations(settings.rasa_url, settings.rasa_api_token, sentences.texts(settings.company_name))
        return cls(config, store, rasa, Upkeep(sessions, store, rasa, config))

    def run_upkeep(self, clock: Clock) -> threading.Thread:
        thread = threading.Thread(target=self.upkeep.run_forever, args=(clock,), daemon=True, name="handoff-upkeep")
        thread.start()
        return thread

    def close(self) -> None:
        self.upkeep.stop.set()
        self.rasa.close()
        self.store.close()

    def open_stream(self, staff_id: int, most: int) -> bool:
        """Count one more live stream of this member of staff, unless they have `most` open already."""
        with self.streams_lock:
            if self.streams.get(staff_id, 0) >= most:
                return False
            self.streams[staff_id] = self.streams.get(staff_id, 0) + 1
            return True

    def close_stream(self, staff_id: int) -> None:
        with self.streams_lock:
            self.streams[staff_id] = max(0, self.streams.get(staff_id, 1) - 1)


# --- the console's reads ---------------------------------------------------------------------------

def readable_entry(session: Session, entry_id: str, staff: Staff) -> QueueEntry | None:
    """The queue entry, if this member of staff may read it (`may_read`)."""
    entry = session.get(QueueEntry, entry_id[:40])
    return entry if entry is not None and may_read(entry, staff) else None


def colleague(session: Session, staff_id: int) -> Staff | None:
    """An active member of staff to transfer a conversation to."""
    member = session.get(StaffMember, staff_id)
    return member.as_staff() if member is not None and member.active else None


def colleagues(session: Session, config: DeskConfig, staff: Staff, now: dt.datetime) -> list[dict]:
    """Whom a conversation can be transferred to: the other active members of staff, the available ones first."""
    available = available_agents(session, config, now)
    others = session.scalars(select(StaffMember).where(StaffMember.active.is_(True), StaffMember.id != staff.id)
                             .order_by(StaffMember.first_name))
    found = [{"id": m.id, "first_name": m.first_name, "full_name": m.full_name, "role": m.role, "available": m.id in available}
             for m in others]
    return sorted(found, key=lambda c: not c["available"])


def suggestions(version: KnowledgeVersion, language: str) -> dict:
    """What the agent may insert into a reply, in the customer's language: canned replies, and the
    current knowledge-base version's answer per topic and per right (named with its version)."""
    answers = [{"title": topic.replace("_", " "), "text": getattr(text, language)} for topic, text in version.topics.topics.items()]
    answers += [{"title": f"right: {right.replace('_', ' ')}", "text": getattr(text, language)}
                for right, text in version.topics.rights.items()]
    canned = list(sentences.words(language, "back_office.handoff.canned_replies").values())
    return {"language": language, "knowledge_version": version.version.id, "canned": canned, "knowledge": answers}


def snapshot(sessions: sessionmaker, store: TrackerStore, staff: Staff, session_token: str, watched: str | None,
             now: dt.datetime) -> list[tuple[str, str]] | None:
    """What a live console shows now: the queue, and the `watched` conversation (or that it is gone);
    None once the session that opened the stream has ended. Asking counts as the agent being `seen`."""
    with sessions() as session:
        if not still_signed_in(session, session_token, now):
            return None
        seen(session, staff, now)
        found = [("queue", json.dumps({"queue": queue(session, now, staff)}))]
        if watched:
            entry = session.get(QueueEntry, watched)
            if entry is not None and may_read(entry, staff):
                found.append(("conversation", json.dumps(conversation(session, store, entry, now, staff))))
            else:
                found.append(("gone", json.dumps({"id": watched})))
        return found
