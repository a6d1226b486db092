"""Download links for a customer's own data: short-lived, for one customer, and on record.

A link carries an opaque token: 32 random bytes (URL-safe base64), which say nothing about anyone.
What the link is for stays here: its record (`ExportLink`: the customer, the language, the expiry,
the conversation it was made in) is filed under the token's keyed hash (HMAC-SHA256 with
EXPORT_LINK_SECRET), never under the token itself, so a reader of the database cannot download, and
a new secret ends every link. The link is the credential, so it is only made for a conversation
verified as that customer, lives minutes (EXPORT_LINK_MINUTES, 15 by default), and every link issued
and every download (`ExportDownload`) is recorded. `verify` tells an expired link (`LinkExpired`,
410) from one that is not ours, was changed, or was never issued (`LinkInvalid`, 403); neither says
anything about a customer.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..identity.rules import secret_is_set
from ..sentences import LINK_CHANGED, LINK_EXPIRED, LINK_INVALID
from ..shared.database import Base, UTCDateTime

MIN_SECRET_BYTES = 32
TOKEN_BYTES = 32
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes in URL-safe base64, unpadded
LANGUAGES = ("nl", "en")


class LinkError(Exception):
    """The link cannot be used; the message is a sentence for the person holding it."""

    status = 403
    reason = "invalid_link"


class LinkExpired(LinkError):
    status = 410
    reason = "expired"


class LinkInvalid(LinkError):
    pass


@dataclass(frozen=True)
class Link:
    token: str
    jti: str  # the token's keyed hash: the link's record's key
    customer_id: str
    language: str
    expires_at: dt.datetime


class ExportLinks:
    """Make opaque download links and find what one is for."""

    def __init__(self, secret: str, ttl: dt.timedelta) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the export link secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 24`)")
        if ttl <= dt.timedelta(0):
            raise ValueError("export links must live a positive time")
        self._secret = secret.encode()
        self.ttl = ttl

    def reference(self, token: str) -> str:
        """The key the token's link is recorded under (`ExportLink.jti`); LinkInvalid for a token not in our shape."""
        if not TOKEN.fullmatch(token):
            raise LinkInvalid(LINK_CHANGED)
        return hmac.new(self._secret, b"export-link:" + token.encode(), hashlib.sha256).hexdigest()

    def issue(self, customer_id: str, language: str, now: dt.datetime) -> Link:
        """A new link; the caller records it (`ExportLink` under `jti`) before handing out the token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires = now.replace(microsecond=0) + self.ttl
        return Link(token, self.reference(token), customer_id, language, expires)

    def verify(self, token: str, now: dt.datetime, session: Session) -> Link:
        """What the link is for, from its record, or `LinkExpired` / `LinkInvalid`. Times are checked against `now`."""
        issued = session.get(ExportLink, self.reference(token))
        if issued is None:
            raise LinkInvalid(LINK_INVALID)
        if now >= issued.expires_at:
            raise LinkExpired(LINK_EXPIRED.format(minutes=int(self.ttl.total_seconds() // 60)))
        language = issued.language if issued.language in LANGUAGES else "nl"
        return Link(token, issued.jti, issued.customer_id, language, issued.expires_at)


def usable_secret(secret: str) -> bool:
    """Set (not a `change-me` placeholder) and long enough to sign with."""
    return secret_is_set(secret) and len(secret.encode()) >= MIN_SECRET_BYTES


class ExportLink(Base):
    """A download link that was issued: for whom, from which conversation, until when; under the
    token's keyed hash (the token itself is only in the link)."""

    __tablename__ = "export_links"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    conversation_id: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ExportDownload(Base):
    """One download through a link, and in which format."""

    __tablename__ = "export_downloads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), ForeignKey("export_links.jti"), index=True)
    format: Mapped[str] = mapped_column(String(4))  # json | csv
    downloaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
