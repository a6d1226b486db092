"""Handing a chat to a person: when the team is there, where a conversation stands in the queue, who
may do what with it. Pure rules: no web or database code.

A conversation the bot hands over is a `QueueEntry` that moves
  waiting -> claimed (one agent) -> waiting (transferred or the agent's console went away) ...
and ends handed back to the bot, closed by the agent, cancelled by the customer ("stop waiting"), or
left (the customer restarted the chat or it ended). Outside office hours, or when no agent is signed
in, the customer is offered a ticket instead, answered by e-mail. So is a customer whose address
(`source`) or verified account already has `waiting_per_source` / `waiting_per_customer` chats
waiting: one address cannot fill the queue ahead of everyone else.

Staff read customers' words, never their credentials: `masked` hides one-time codes, export links
and other tokens in every transcript and preview served to staff.
"""
from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SUMMARY_MESSAGES = 5  # the last customer messages a queue entry shows
MAX_MESSAGE_CHARS = 2000  # an agent's reply or note
AWAY_GRACE = dt.timedelta(minutes=2)  # a closed chat window is a customer who left after this long
MASK = "[hidden]"


class State(str, enum.Enum):
    """Where a handed-over conversation is; why it was handed over is the assistant's `chatprotocol.HandoffReason`."""

    WAITING = "waiting"
    CLAIMED = "claimed"
    HANDED_BACK = "handed_back"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    LEFT = "left"


OPEN_STATES = (State.WAITING.value, State.CLAIMED.value)


class Refused(Exception):
    """A move the entry's state does not allow; the message says why, for the agent."""


@dataclass(frozen=True)
class OfficeHours:
    """When agents answer chats, in Amsterdam time: opening and closing times per weekday, and
    the days the office is closed (public holidays)."""

    weekly: dict[int, tuple[dt.time, dt.time]]
    closed_on: frozenset[dt.date] = frozenset()

    @classmethod
    def parse(cls, text: str, closed_on: Iterable[dt.date] = ()) -> OfficeHours:
        """From e.g. "mon-fri 09:00-17:00, sat 10:00-14:00" ("00:00-24:00" is the whole day); ValueError says what is wrong."""
        weekly: dict[int, tuple[dt.time, dt.time]] = {}
        for part in (p.strip() for p in text.lower().split(",")):
            if not part:
                continue
            found = re.fullmatch(r"([a-z]{3})(?:-([a-z]{3}))? (\d\d):(\d\d)-(\d\d):(\d\d)", part)
            if not found or found[1] not in DAYS or (found[2] and found[2] not in DAYS):
                raise ValueError(f"office hours: '{part[:40]}' is not like 'mon-fri 09:00-17:00'")
            first, last = DAYS.index(found[1]), DAYS.index(found[2] or found[1])
            opens = dt.time(int(found[3]), int(found[4]))
            closes = dt.time.max if (found[5], found[6]) == ("24", "00") else dt.time(int(found[5]), int(found[6]))
            if not opens < closes or first > last:
                raise ValueError(f"office hours: '{part}' closes before it opens")
            for day in range(first, last + 1):
                weekly[day] = (opens, closes)
        return cls(weekly, frozenset(closed_on))

    def is_open(self, now: dt.datetime) -> bool:
        local = now.astimezone(AMSTERDAM)
        hours = self.weekly.get(local.weekday())
        return hours is not None and local.date() not in self.closed_on and hours[0] <= local.time() < hours[1]

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        """When the office next opens after `now` (Amsterdam time); None if it never does."""
        local = now.astimezone(AMSTERDAM)
        for ahead in range(0, 370):
            day = local.date() + dt.timedelta(days=ahead)
            hours = self.weekly.get(day.weekday())
            if hours is None or day in self.closed_on:
                continue
            opening = dt.datetime.combine(day, hours[0], AMSTERDAM)
            if opening > local:
                return opening
        return None

    def working_days_after(self, now: dt.datetime, days: int) -> dt.date:
        """The date `days` working days after today: a ticket's "answered by"."""
        day = now.astimezone(AMSTERDAM).date()
        counted = 0
        while counted < days:
            day += dt.timedelta(days=1)
            if day.weekday() in self.weekly and day not in self.closed_on:
                counted += 1
        return day


@dataclass(frozen=True)
class Welcome:
    """What the customer is told on hand-over: queued with a place and a wait, or offered a ticket."""

    queued: bool
    position: int = 0
    expected_wait_minutes: int = 0
    opens_at: dt.datetime | None = None
    ticket_answered_by: dt.date | None = None


def welcome(hours: OfficeHours, now: dt.datetime, agents_available: int, waiting_ahead: int,
            minutes_per_conversation: float, ticket_working_days: int, over_limit: bool = False) -> Welcome:
    """Queue the conversation when the office is open and an agent is signed in, unless its source or
    customer has as many chats waiting as allowed (`over_limit`); else offer a ticket."""
    if over_limit and hours.is_open(now):
        return Welcome(False, ticket_answered_by=hours.working_days_after(now, ticket_working_days))
    if hours.is_open(now) and agents_available > 0:
        position = waiting_ahead + 1
        return Welcome(True, position, expected_wait(position, agents_available, minutes_per_conversation))
    return Welcome(False, opens_at=hours.next_opening(now), ticket_answered_by=hours.working_days_after(now, ticket_working_days))


def over_limit(waiting_from_source: int, waiting_of_customer: int, per_source: int, per_customer: int) -> bool:
    """May one more chat from this source (counted when known) or customer (when verified) wait?"""
    return waiting_from_source >= per_source or waiting_of_customer >= per_customer


def expected_wait(position: int, agents_available: int, minutes_per_conversation: float) -> int:
    """Whole minutes until an agent is likely free for the conversation at `position` (1 = next)."""
    return max(1, math.ceil(position * minutes_per_conversation / max(agents_available, 1)))


def claim(state: State, claimed_by: int | None, agent_id: int) -> None:
    """May this agent take the entry? Only a waiting one, or one they already hold."""
    if state == State.CLAIMED and claimed_by == agent_id:
        return
    if state != State.WAITING:
        raise Refused("someone else has taken this conversation" if state == State.CLAIMED else f"this conversation has {state.value}")


def act_on(state: State, claimed_by: int | None, agent_id: int) -> None:
    """May this agent reply, transfer, hand back or close? Only on a conversation they hold."""
    if state != State.CLAIMED or claimed_by != agent_id:
        raise Refused("take the conversation first" if state == State.WAITING else "this conversation is not yours")


def may_preview(state: State, claimed_by: int | None, agent_id: int) -> bool:
    """The queue shows what the customer said only for a waiting chat or the agent's own, never a colleague's."""
    return state == State.WAITING or claimed_by == agent_id


def claim_lapsed(state: State, agent_seen_at: dt.datetime | None, now: dt.datetime, timeout: dt.timedelta) -> bool:
    """A claimed conversation whose agent's console has been away longer than `timeout` goes back to the queue."""
    return state == State.CLAIMED and (agent_seen_at is None or now - agent_seen_at > timeout)


def left_for_good(state: State, away_since: dt.datetime | None, now: dt.datetime, grace: dt.timedelta) -> bool:
    """A waiting customer whose chat window has been closed longer than `grace` has left (a reload
    or a brief loss of connection is not leaving)."""
    return state == State.WAITING and away_since is not None and now - away_since > grace


def bounded_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """An agent's reply or note, stripped; ValueError when empty or too long."""
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("the message is empty")
    if len(cleaned) > limit:
        raise ValueError(f"the message is longer than {limit} characters")
    return cleaned


# One-time codes: six digits, as the verification reads them (spaces, dashes or dots between them
# allowed), not part of a longer number. Export links: the path after /exports/. Tokens: JWTs, and
# any long run of letters and digits with at least one digit (session ids, signed tokens, keys).
# Every pattern runs in linear time: bounded repeats, and runs matched from their start only.
_CODE = re.compile(r"(?<![\w])(?<![0-9][\s.\-])[0-9](?:[\s.\-]?[0-9]){5}(?![\s.\-]?[0-9])(?!\w)")
_EXPORT_LINK = re.compile(r"(/exports/)[^\s/?#\"'<>]+")
_JWT = re.compile(r"(?<![\w-])eyJ[\w-]{2,}\.[\w-]+\.[\w-]*")
_TOKEN = re.compile(r"(?<![\w-])[\w-]{20,}(?![\w-])")
_QUERY_SECRET = re.compile(r"([?&](?:token|code|key|sig|signature|secret|access_token|session)=)[^\s&#]+", re.IGNORECASE)


def _token(found: re.Match[str]) -> str:
    run = found[0]
    return MASK if any(c.isdigit() for c in run) and any(c.isalpha() for c in run) else run


def masked(text: str) -> str:
    """The text as staff may read it: one-time codes, export links and other tokens replaced by
    "[hidden]" (a customer's credentials are theirs alone; everything else is left as typed)."""
    text = _EXPORT_LINK.sub(rf"\g<1>{MASK}", text)
    text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)
    text = _JWT.sub(MASK, text)
    text = _TOKEN.sub(_token, text)
    return _CODE.sub(MASK, text)


def masked_messages(messages: list[dict]) -> list[dict]:
    """A transcript (or preview) for staff: each message's text `masked`."""
    return [{**m, "text": masked(m["text"])} if isinstance(m.get("text"), str) else m for m in messages]
