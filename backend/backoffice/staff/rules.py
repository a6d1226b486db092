"""Who may use the staff console, and for how long: the rules of accounts, passwords, sessions and the browsers staff sign in on.

No web or database imports: `tables` stores what these rules decide, `service` and `routes` ask them.

- A login is an e-mail address (at most 254 characters, compared in lower case) and a password (at
  most 1,024 characters, checked before anything is hashed). Passwords are kept as argon2id hashes
  (argon2-cffi); a hash made with older parameters is replaced at the next good login.
- A wrong password is refused like an unknown address: the console never tells whether an address
  has an account. Wrong passwords slow sign-ins down (the throttle in `service`); no number of them
  locks an account, so no stranger can keep its owner out.
- A session ends 30 minutes after its last use and 12 hours after the login, whichever is first.
- A good sign-in marks its browser as one of the account's devices for 90 days (a random token in
  a cookie, kept as its SHA-256; the newest 10 per account). A device's sign-ins are throttled on
  their own, apart from strangers'.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from contextlib import suppress
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MAX_EMAIL_CHARS = 254
MAX_PASSWORD_CHARS = 1024
MIN_PASSWORD_CHARS = 12  # for a new account's password
MAX_NAME_CHARS = 100
MAX_STAFF_ID = 2**31 - 1  # an account's id is a database integer: a larger one names no one

IDLE_TIMEOUT = dt.timedelta(minutes=30)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
TOUCH_EVERY = dt.timedelta(minutes=1)  # how stale a session's last use may be before it is written again
DEVICE_LIFETIME = dt.timedelta(days=90)
DEVICES_PER_ACCOUNT = 10
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # a token `new_session_token` makes: secrets.token_urlsafe(32)


class Role(str, Enum):
    AGENT = "agent"
    PRIVACY_OFFICER = "privacy_officer"


@dataclass(frozen=True)
class Staff:
    """A signed-in member of staff, as the routes see them. `csrf_token` is the token of the session
    they are signed in with (what a page must send back with every change); empty outside a request."""

    id: int
    email: str
    first_name: str
    full_name: str
    role: str
    csrf_token: str = field(default="", repr=False, compare=False)

    @property
    def is_privacy_officer(self) -> bool:
        return self.role == Role.PRIVACY_OFFICER.value


class AccountRefused(ValueError):
    """A new account's details are not acceptable; the message says which and why."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_new_account(email: str, first_name: str, full_name: str, role: str, password: str) -> str:
    """The normalised login name of a new account, or AccountRefused naming what is wrong."""
    login = normalise_email(email)
    local, at, domain = login.partition("@")
    if not (at and local and "." in domain) or len(login) > MAX_EMAIL_CHARS or any(c.isspace() for c in login):
        raise AccountRefused(f"the login must be an e-mail address of at most {MAX_EMAIL_CHARS} characters")
    for name, value in (("first name", first_name), ("full name", full_name)):
        if not value.strip() or len(value) > MAX_NAME_CHARS:
            raise AccountRefused(f"the {name} must be given, at most {MAX_NAME_CHARS} characters")
    if role not in {r.value for r in Role}:
        raise AccountRefused(f"the role must be one of {', '.join(r.value for r in Role)}")
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise AccountRefused(f"the password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    return login


def login_within_bounds(email: str, password: str) -> bool:
    """Whether a login is short enough to be looked at at all (nothing longer is hashed)."""
    return 0 < len(email) <= MAX_EMAIL_CHARS and 0 < len(password) <= MAX_PASSWORD_CHARS


class Passwords:
    """argon2id hashes. `verify_unknown` spends the same work as a real check, so an address without
    an account takes as long to refuse as a wrong password."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    @cached_property
    def _decoy(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def verify_unknown(self, password: str) -> None:
        with suppress(VerificationError):
            self._hasher.verify(self._decoy, password)


PASSWORDS = Passwords()  # argon2-cffi's current defaults (argon2id)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a session token: its SHA-256, so a copy of the table opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


def session_ends_at(created_at: dt.datetime, last_seen_at: dt.datetime) -> dt.datetime:
    return min(last_seen_at + IDLE_TIMEOUT, created_at + ABSOLUTE_TIMEOUT)


def session_alive(created_at: dt.datetime, last_seen_at: dt.datetime, now: dt.datetime) -> bool:
    return now < session_ends_at(created_at, last_seen_at)


def needs_touch(last_seen_at: dt.datetime, now: dt.datetime) -> bool:
    """Whether to record the session's use now (at most once a minute, not on every call)."""
    return now - last_seen_at >= TOUCH_EVERY


def device_known(created_at: dt.datetime, now: dt.datetime) -> bool:
    """Whether a browser marked as a device at `created_at` still counts as one."""
    return now < created_at + DEVICE_LIFETIME
