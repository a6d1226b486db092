"""The records of a customer's download links: every link issued and every download through one.

A link's record is filed under the token's keyed hash, never the token itself, so a reader of the
database cannot download (`service.ExportLinks`).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..shared.database import Base, UTCDateTime


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
