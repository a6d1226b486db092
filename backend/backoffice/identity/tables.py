"""Tables of identity verification: every verification attempt, and which customer a conversation is.

The rules live in `rules` (pure, no database); this module only stores their results.

- `VerificationAttempt`: one try to verify a conversation. For a one-time code (`channel` "email")
  the row holds the code's HMAC and salt, never the code, and counts every try at it; a row whose
  `usable` is false is a decoy (see `rules.decoy_code`) and never verifies; a row without a code
  hash records an ask the address's limits held back (outcome `not_sent`). `address_key` is the keyed
  hash of the typed address (the limits per address count the rows with a code), `source` the keyed
  hash of the asking client's address (the limits per source), `notified_at` when the customer was
  told that a code sent to them went unused (once per code). For a website session
  (`channel` "session") the row records the token check and its outcome. Nothing here holds the
  e-mail address that was typed.
- `ConversationIdentity`: the verified customer of a conversation (one row per conversation at
  most), how it was verified and until when, and where: the chat channel and (for the website) the
  SHA-256 of each connection reference that verified it (`service.Presence`). Deleted on log-out.

Times are stored in UTC and always come back timezone-aware, on SQLite as on PostgreSQL.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..shared.database import Base, UTCDateTime
from . import rules

EMAIL = "email"
SESSION = "session"


class VerificationAttempt(Base):
    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_attempts_conversation", "conversation_id", "created_at"),
        Index("ix_verification_attempts_customer", "customer_id", "created_at"),
        Index("ix_verification_attempts_source", "source", "created_at"),
        Index("ix_verification_attempts_address", "address_key", "created_at"),
        Index("ix_verification_attempts_unnotified", "notified_at", "expires_at"),
        CheckConstraint("channel IN ('email', 'session')", name="ck_verification_attempts_channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(64))  # None: unknown address, or a refused token
    channel: Mapped[str] = mapped_column(String(10))  # email | session
    code_hash: Mapped[str | None] = mapped_column(String(64))
    salt: Mapped[str | None] = mapped_column(String(64))
    usable: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    wrong_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # the code's e-mail was accepted by the SMTP server
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str | None] = mapped_column(String(16))  # the asking client's keyed address hash; None: unknown
    address_key: Mapped[str | None] = mapped_column(String(64))  # the typed e-mail address's keyed hash (rules.address_key)
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # the customer was told the code went unused
    outcome: Mapped[str | None] = mapped_column(String(40))  # the last outcome: issued, not_sent, wrong_code, locked, verified, ...
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    def code_state(self) -> rules.CodeState:
        return rules.CodeState(
            code_hash=self.code_hash or "", salt=self.salt or "", expires_at=self.expires_at or self.created_at,
            attempts=self.attempts, wrong_attempts=self.wrong_attempts, locked_until=self.locked_until,
            verified_at=self.verified_at, usable=self.usable and self.customer_id is not None and bool(self.code_hash),
        )

    def store(self, state: rules.CodeState) -> None:
        self.attempts, self.wrong_attempts = state.attempts, state.wrong_attempts
        self.locked_until, self.verified_at = state.locked_until, state.verified_at


class ConversationIdentity(Base):
    __tablename__ = "conversation_identities"
    __table_args__ = (CheckConstraint("method IN ('email', 'session')", name="ck_conversation_identities_method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(10))  # email | session
    verified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    attempt_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("verification_attempts.id"))
    channel: Mapped[str] = mapped_column(String(40), default="")  # the chat channel that verified it
    connections: Mapped[list] = mapped_column(JSON, default=list)  # SHA-256 of its connection references ("" for none)
