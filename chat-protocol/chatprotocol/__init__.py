"""What the assistant (Rasa's channels and the actions, Python 3.10) and the back office (Python 3.11)
say to each other about a chat, defined once: the channels' names, the presence of a message (its
headers, their shapes, and the website channel's metadata keys behind them), why a chat is handed to
a person, the intent that stops waiting for one, and how both sides' logs name a call and a
conversation without the conversation's id.

A package both environments install (`pip install --no-deps -e chat-protocol`), not ids served by the
back office like `GET /api/vocabulary`, because of when each side needs them:
- Rasa asks each channel's `name()` when it loads bot/credentials.yml: it mounts
  `/webhooks/<name>/webhook` and stamps every message's `input_channel` with it; the back office
  names the same channel as Rasa's `output_channel` when an agent replies. The Rasa server has no
  back-office client and starts, and chats, while the back office is down.
- The back office declares the presence headers and the handoff reason's type on its routes when the
  app is built, and checks them before it answers anything.
- Imported, a misspelt channel or reason on either side is an error of the type checker (`make lint`),
  not a call refused in production.
None of these is the company's to change: they change with the code, and both sides install the
same commit. `/api/vocabulary` serves the ids of the privacy requests that the actions only word
(rights, statuses, consents, fields), read once at run time.

No dependencies, Python 3.10 and newer.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass


class Channel(str, enum.Enum):
    """The assistant's chat channels, by the name Rasa knows each by (connectors/, bot/credentials.yml)."""

    WEBSITE = "website"
    REST = "rest"
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    TEAMS = "teams"


# The channels whose messages reach the customer without their asking (REST's answers wait until its
# client polls), and those whose every message carries the connection it came through.
PUSHING_CHANNELS = frozenset(c.value for c in Channel if c is not Channel.REST)
CONNECTION_CHANNELS = frozenset({Channel.WEBSITE.value})


class HandoffReason(str, enum.Enum):
    """Why the assistant hands a chat to a person (the agents' queue shows it, a ticket keeps it)."""

    ASKED_FOR_PERSON = "asked_for_person"
    NOT_UNDERSTOOD = "not_understood"  # the second message in a row the assistant did not understand
    COMPLAINT = "complaint"
    CHILD = "child"  # someone speaks for a child, whose rights a parent uses only once the team has checked
    CANNOT_FILE = "cannot_file"  # the back office could not file the customer's request


# The intent of "stop waiting" (the button's payload `/cancel_handoff`, an intent of bot/domain.yml): the
# back office reads it in the conversation while the chat waits for a person, and ends the wait.
CANCEL_HANDOFF_INTENT = "cancel_handoff"


# --- the presence of a message -------------------------------------------------------------------

# The headers of every call about a conversation's customer, from the assistant to the back office.
CHANNEL_HEADER = "X-Chat-Channel"
CONNECTION_HEADER = "X-Chat-Connection"
SOURCE_HEADER = "X-Chat-Source"

# Their shapes: a channel's name as Rasa allows it; the website's connection reference (32 hex) and
# the client's keyed address hash (16 hex), as connectors/website.py makes them.
CHANNEL_SHAPE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
CONNECTION_SHAPE = re.compile(r"[0-9a-f]{32}")
SOURCE_SHAPE = re.compile(r"[0-9a-f]{16}")

# The metadata keys the website channel puts on every message (a client's own `_...` keys are dropped
# first), for the action server to send on as the headers above.
CONNECTION_KEY = "_connection"
SOURCE_KEY = "_source"

_HEADERS = ((CHANNEL_HEADER, CHANNEL_SHAPE), (CONNECTION_HEADER, CONNECTION_SHAPE), (SOURCE_HEADER, SOURCE_SHAPE))


@dataclass(frozen=True)
class Presence:
    """Where a chat message came from: its channel, and for the website its connection and the client's
    keyed address hash. A binding of a conversation to a customer holds only where it was made: the
    back office answers with personal data only to a message with the presence that verified it."""

    channel: str = ""
    connection: str = ""
    source: str = ""

    @classmethod
    def shaped(cls, channel: object, connection: object, source: object) -> Presence:
        """A presence of what is in its shape; anything else is left empty."""
        return cls(*(value if isinstance(value, str) and shape.fullmatch(value) else ""
                     for value, (_, shape) in zip((channel, connection, source), _HEADERS, strict=True)))

    def headers(self) -> dict[str, str]:
        return {header: value for (header, _), value in zip(_HEADERS, self._values(), strict=True)}

    def out_of_shape(self) -> str | None:
        """The first header whose value is given but not in its shape (None: all are)."""
        given = zip(_HEADERS, self._values(), strict=True)
        return next((header for (header, shape), value in given if value and not shape.fullmatch(value)), None)

    def _values(self) -> tuple[str, str, str]:
        return self.channel, self.connection, self.source

    @property
    def known(self) -> bool:
        """A presence that can verify: a channel, and a connection where the channel has them."""
        return bool(self.channel) and (bool(self.connection) or self.channel not in CONNECTION_CHANNELS)


# --- log references ------------------------------------------------------------------------------
# Every log line of either side names the call it belongs to and the conversation it is about, never
# the conversation's id itself: on WhatsApp that is the customer's phone number, on Teams and Telegram
# an account's id. The action server sends both on with each call, so the back office's lines for a
# call carry the same references as the action server's.

REQUEST_ID_HEADER = "X-Request-ID"
CONVERSATION_REF_HEADER = "X-Conversation-Ref"
REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,64}")
CONVERSATION_REF_SHAPE = re.compile(r"[0-9a-f]{16}")


def conversation_reference(conversation_id: str, key: str) -> str:
    """A conversation's name in the logs: a keyed hash of its id (16 hex). Keyed (both sides use the
    back office's service token), because a plain hash of a phone number is undone by trying them all;
    whoever holds the key can still find one conversation's lines by computing its reference."""
    message = b"conversation-log-reference\0" + conversation_id.encode("utf-8", "surrogatepass")
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:16]
