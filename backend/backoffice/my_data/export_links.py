"""Download links for a customer's own data: short-lived, for one customer, and on record.

A link carries a signed token (JWT, HS256, key EXPORT_LINK_SECRET): `aud` "export", `sub` the customer
id, `iat`, `exp` (EXPORT_LINK_MINUTES after issue, 15 by default), `jti` a random id, `lang` the
language. The link is the credential, so it is only made for a conversation verified as that
customer, lives minutes, and every link issued (`ExportLink`) and every download (`ExportDownload`)
is recorded. `verify` tells an expired link (`LinkExpired`, 410) from one that is not ours, was
changed, or is meant for something else (`LinkInvalid`, 403); neither says anything about a customer.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import jwt
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..identity.rules import secret_is_set
from ..sentences import LINK_CHANGED, LINK_EXPIRED, LINK_INVALID
from ..shared.database import Base, UTCDateTime

AUDIENCE = "export"
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
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
    jti: str
    customer_id: str
    language: str
    expires_at: dt.datetime


class ExportLinks:
    """Sign and check download links. Only HS256 with our key and audience "export" is accepted."""

    def __init__(self, secret: str, ttl: dt.timedelta) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the export link secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 24`)")
        if ttl <= dt.timedelta(0):
            raise ValueError("export links must live a positive time")
        self._secret = secret
        self.ttl = ttl

    def issue(self, customer_id: str, language: str, now: dt.datetime) -> Link:
        issued = now.replace(microsecond=0)
        expires = issued + self.ttl
        jti = secrets.token_urlsafe(16)
        claims = {"aud": AUDIENCE, "sub": customer_id, "iat": int(issued.timestamp()), "exp": int(expires.timestamp()),
                  "jti": jti, "lang": language}
        return Link(jwt.encode(claims, self._secret, algorithm=ALGORITHM), jti, customer_id, language, expires)

    def verify(self, token: str, now: dt.datetime) -> Link:
        """The link's contents, or `LinkExpired` / `LinkInvalid`. Times are checked against `now`."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], audience=AUDIENCE, options={
                "require": ["aud", "sub", "iat", "exp", "jti"], "verify_exp": False, "verify_iat": False, "verify_nbf": False,
            })
        except jwt.InvalidTokenError:
            raise LinkInvalid(LINK_CHANGED) from None
        language = claims["lang"] if claims.get("lang") in LANGUAGES else "nl"
        if not isinstance(claims["exp"], int) or not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            raise LinkInvalid(LINK_INVALID)
        expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC)
        if now >= expires:
            raise LinkExpired(LINK_EXPIRED.format(minutes=int(self.ttl.total_seconds() // 60)))
        return Link(token, claims["jti"], claims["sub"], language, expires)


def usable_secret(secret: str) -> bool:
    """Set (not a `change-me` placeholder) and long enough to sign with."""
    return secret_is_set(secret) and len(secret.encode()) >= MIN_SECRET_BYTES


class ExportLink(Base):
    """A download link that was issued: for whom, from which conversation, until when."""

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
