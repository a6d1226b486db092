"""Tables of the staff console: one account per person, the sessions they are signed in with, the
browsers they signed in on, and the sign-in throttle's counts.

- `StaffMember`: the login name (e-mail, lower case), the names shown to customers and colleagues,
  the role and the argon2id hash of the password. `active` false: the account no longer signs in,
  and its sessions stop working.
- `StaffSession`: a signed-in browser. Only the SHA-256 of its token is kept; `csrf_token` is what
  the console's pages send back with every change. Deleted on log-out.
- `StaffDevice`: a browser this member signed in on (the `console_device` cookie, kept as its
  SHA-256): its sign-ins are not held by what strangers do (the throttle in `service`).
- `LoginFailure`: the throttle's count of wrong passwords per key, in the database so that every
  back office sees the same.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..shared.database import Base, UTCDateTime
from .rules import Staff


class StaffMember(Base):
    __tablename__ = "staff_members"
    __table_args__ = (CheckConstraint("role IN ('agent', 'privacy_officer')", name="ck_staff_members_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    def as_staff(self, csrf_token: str = "") -> Staff:
        return Staff(self.id, self.email, self.first_name, self.full_name, self.role, csrf_token)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(Integer, ForeignKey("staff_members.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StaffDevice(Base):
    __tablename__ = "staff_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(Integer, ForeignKey("staff_members.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LoginFailure(Base):
    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    wait_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
