"""Throttle in front of the staff console's sign-in: wrong passwords slow a guesser down, and nothing a
stranger does keeps a member of staff out.

Wrong passwords are counted per key, each over FAILURE_WINDOW (a quiet window forgets them). From a
key's `free_failures`-th failure on, a sign-in counted on that key gets 429 with `Retry-After` and its
password is not even checked, and each further failure doubles the wait, up to `longest_wait`.
Which keys a sign-in is counted on depends on the browser it comes from:

- One this account signed in on before (its device cookie, `rules`): that device only. 5 wrong
  passwords, then 30 s doubling to 15 minutes; strangers' failures, wherever they come from, do
  not hold it back, so the right password from the owner's own browser always gets in.
- Any other: its source (the client address; behind a proxy only as `TRUSTED_PROXIES` allows),
  5 wrong, then 30 s doubling to 15 minutes; and the login name, 10 wrong from anywhere, then a
  wait of 30 to 60 s: a stranger guessing from many addresses gets about a guess a minute, and the
  owner on a new browser waits at most a minute at a time while that lasts.

There is no hard lock. At about a guess a minute, guessing a password of 12 or more characters
online is hopeless, while a lock is exactly what a stranger would use to keep staff out (the
e-mailed unlock link it would need is one more thing to attack). A good sign-in clears the keys it
was counted on. The counts live in the database, so every back office sees the same; a sign-in
holds its keys' rows while its password is checked, so sign-ins racing each other are counted one
after another, not all let through on the same count.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .tables import LoginFailure

FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_KEY_CHARS = 100  # of an address or a device id; a login name is at most 254 (`rules`)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    free_failures: int
    first_wait: dt.timedelta
    longest_wait: dt.timedelta


SOURCE = Limit(5, dt.timedelta(seconds=30), dt.timedelta(minutes=15))
ACCOUNT = Limit(10, dt.timedelta(seconds=30), dt.timedelta(seconds=60))
DEVICE = Limit(5, dt.timedelta(seconds=30), dt.timedelta(minutes=15))


@dataclass(frozen=True)
class Key:
    name: str  # "source:203.0.113.7", "account:anna@voltera.example", "device:12"
    limit: Limit


def keys_for(address: str, login: str, device_id: int | None) -> list[Key]:
    """What a sign-in is counted on: its device alone when the browser is one of the account's, else its source and the login."""
    if device_id is not None:
        return [Key(f"device:{device_id}", DEVICE)]
    return [Key(f"source:{address[:MAX_KEY_CHARS]}", SOURCE), Key(f"account:{login[:254]}", ACCOUNT)]


def after_failure(limit: Limit, failures: int, last_failure_at: dt.datetime | None, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """A key's count and wait after one more wrong password (a count older than the window starts again)."""
    if last_failure_at is None or now - last_failure_at > FAILURE_WINDOW:
        failures = 0
    failures += 1
    if failures < limit.free_failures:
        return failures, None
    wait = limit.first_wait * 2 ** min(failures - limit.free_failures, 16)
    return failures, now + min(wait, limit.longest_wait)


def hold(session: Session, keys: list[Key], now: dt.datetime) -> int | None:
    """Take the keys' rows for this transaction (made when missing; in one order, so two sign-ins never
    wait for each other in a circle) and say how many whole seconds a sign-in must still wait, or None."""
    names = sorted(key.name for key in keys)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(LoginFailure).values([{"key": name, "failures": 0, "last_failure_at": now} for name in names])
                    .on_conflict_do_nothing(index_elements=["key"]))
    rows = session.scalars(select(LoginFailure).where(LoginFailure.key.in_(names)).order_by(LoginFailure.key)
                           .with_for_update().execution_options(populate_existing=True)).all()
    waits = [(row.wait_until - now).total_seconds() for row in rows if row.wait_until is not None and row.wait_until > now]
    return math.ceil(max(waits)) if waits else None


def failed(session: Session, keys: list[Key], now: dt.datetime) -> None:
    """Count a wrong password on each key (their rows held by `hold`), and forget counts nobody added to for a window."""
    limits = {key.name: key.limit for key in keys}
    for row in session.scalars(select(LoginFailure).where(LoginFailure.key.in_(limits))):
        row.failures, row.wait_until = after_failure(limits[row.key], row.failures, row.last_failure_at, now)
        row.last_failure_at = now
        if row.wait_until is not None and row.failures == limits[row.key].free_failures:
            log.warning("staff sign-in: %d wrong passwords on %s; its sign-ins now wait", row.failures, row.key)
    forgotten = session.scalars(select(LoginFailure.key).where(
        LoginFailure.last_failure_at < now - FAILURE_WINDOW, or_(LoginFailure.wait_until.is_(None), LoginFailure.wait_until < now))
        .limit(100).with_for_update(skip_locked=True)).all()  # rows another sign-in holds are left for later
    if forgotten:
        session.execute(delete(LoginFailure).where(LoginFailure.key.in_(forgotten)))


def succeeded(session: Session, keys: list[Key]) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key.in_([key.name for key in keys])))
