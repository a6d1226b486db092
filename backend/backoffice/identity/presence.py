"""The presence of a chat message: which channel, and for the website which connection, it came through.

A verified conversation is verified *there*: the binding (`identity_db.ConversationIdentity`)
records the channel and the connection that verified it, and personal data and filing reach only a
message with the same presence. A sender id alone is no credential: it leaks (logs, screenshots,
exports) and Rasa's REST channel accepts any.

The assistant sends the presence of the message it answers on every conversation-scoped call:
- `X-Chat-Channel`: Rasa's `input_channel` of the message (`website`, `rest`, ...);
- `X-Chat-Connection`: for the website, the channel's random reference of the socket connection
  (32 hex digits; empty for channels without connections);
- `X-Chat-Source`: the client's address as the website channel's keyed hash (16 hex digits; empty if
  unknown), for limits per source. No raw address reaches the back office.

The back office stores only a SHA-256 of the connection reference, and compares in constant time.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass

from fastapi import Header, HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from .tables import ConversationIdentity

log = logging.getLogger(__name__)

CHANNEL = re.compile(r"[a-z][a-z0-9_-]{0,39}")
CONNECTION = re.compile(r"[0-9a-f]{32}")
SOURCE = re.compile(r"[0-9a-f]{16}")
# Channels whose messages always carry a connection: a binding there is tied to connections.
CONNECTION_CHANNELS = frozenset({"website"})
MAX_CONNECTIONS = 5  # connections one binding keeps (tabs of one login); the oldest is dropped first


@dataclass(frozen=True)
class Presence:
    channel: str = ""
    connection: str = ""
    source: str = ""

    @property
    def connection_ref(self) -> str:
        """What the binding stores of the connection: its SHA-256 (empty for no connection)."""
        return hashlib.sha256(self.connection.encode()).hexdigest() if self.connection else ""

    @property
    def known(self) -> bool:
        """A presence that can verify: a channel, and a connection where the channel has them."""
        return bool(self.channel) and (bool(self.connection) or self.channel not in CONNECTION_CHANNELS)


def presence(
    x_chat_channel: str = Header(default="", max_length=40, description="the message's input channel (website, rest, ...)"),
    x_chat_connection: str = Header(default="", max_length=32, description="the website connection's reference (32 hex)"),
    x_chat_source: str = Header(default="", max_length=16, description="the client's keyed address hash (16 hex)"),
) -> Presence:
    """The FastAPI dependency: the presence headers of the call, checked for shape (400 with a reason)."""
    for name, value, shape in (("X-Chat-Channel", x_chat_channel, CHANNEL), ("X-Chat-Connection", x_chat_connection, CONNECTION),
                               ("X-Chat-Source", x_chat_source, SOURCE)):
        if value and not shape.fullmatch(value):
            raise HTTPException(400, {"reason": "bad_presence", "detail": f"{name} is not in the expected form"})
    return Presence(x_chat_channel, x_chat_connection, x_chat_source)


def not_verified() -> JSONResponse:
    """The answer to a call for personal data or a filing in a conversation not verified here (403)."""
    return JSONResponse({"reason": "not_verified", "detail": "this conversation is not verified as a customer here: verify "
                         "first (website login or a code by e-mail), then ask again"}, status_code=403,
                        headers={"Cache-Control": "no-store"})


def present_in(row: ConversationIdentity, seen: Presence) -> bool:
    """Does this message come through the channel and connection that verified the conversation?"""
    channel_ok = hmac.compare_digest(row.channel.encode(), seen.channel.encode())
    ref = seen.connection_ref.encode()
    connection_ok = False
    for stored in row.connections or []:
        connection_ok |= hmac.compare_digest(str(stored).encode(), ref)
    return seen.known and channel_ok and connection_ok


def verified_binding(session: Session, conversation_id: str, seen: Presence, now: dt.datetime,
                     lock: bool = False) -> ConversationIdentity | None:
    """The conversation's binding if it is valid now and this message is present where it was made."""
    query = select(ConversationIdentity).where(ConversationIdentity.conversation_id == conversation_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None or row.expires_at <= now:
        return None
    if not present_in(row, seen):
        log.warning("conversation %s… is verified, but this message came through another %s: treated as not verified",
                    conversation_id[:8], "channel" if row.channel != seen.channel else "connection")
        return None
    return row


def record_presence(row: ConversationIdentity, seen: Presence) -> None:
    """Tie the binding to this presence: a new channel starts afresh, a new connection joins the newest."""
    ref = seen.connection_ref
    kept = [c for c in (row.connections or []) if c != ref] if row.channel == seen.channel else []
    row.channel, row.connections = seen.channel, (kept + [ref])[-MAX_CONNECTIONS:]
