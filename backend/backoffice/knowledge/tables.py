"""Which knowledge-base version answered which conversation, so a privacy officer can tell later."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ..shared.database import Base


class AnswerRecord(Base):
    """One answer of the assistant: the version and topic it came from, in which language."""

    __tablename__ = "answer_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    knowledge_version: Mapped[str] = mapped_column(String(50))
    topic: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(8))
    answered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
