"""What the staff console does with its database: accounts, signing in and the sessions it starts, and
the throttle in front of the password check.

Accounts are made one at a time from the command line (`python -m backoffice staff add`), and the
demo's two agents and privacy officer at start in demo mode, from the passwords in `.env`.

The throttle: wrong passwords slow a guesser down, and nothing a stranger does keeps a member of staff out.

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
import getpass
import logging
import math
import sys
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..settings import Settings, is_placeholder
from ..shared.database import open_database
from .rules import (
    DEVICES_PER_ACCOUNT,
    MAX_PASSWORD_CHARS,
    PASSWORDS,
    TOKEN_SHAPE,
    AccountRefused,
    Passwords,
    Role,
    check_new_account,
    device_known,
    login_within_bounds,
    needs_touch,
    new_session_token,
    session_alive,
    token_digest,
)
from .tables import LoginFailure, StaffDevice, StaffMember, StaffSession

log = logging.getLogger(__name__)


# --- accounts --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewAccount:
    email: str
    first_name: str
    full_name: str
    role: str
    password: str


def add_account(session: Session, account: NewAccount, now: dt.datetime, passwords: Passwords = PASSWORDS) -> StaffMember:
    """A new account, or AccountRefused when its details are not acceptable or the login is taken."""
    login = check_new_account(account.email, account.first_name, account.full_name, account.role, account.password)
    if session.scalar(select(StaffMember.id).where(StaffMember.email == login)) is not None:
        raise AccountRefused(f"there is an account for {login} already")
    member = StaffMember(email=login, first_name=account.first_name.strip(), full_name=account.full_name.strip(), role=account.role,
                         password_hash=passwords.hash(account.password), active=True, created_at=now)
    session.add(member)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AccountRefused(f"there is an account for {login} already") from None
    return member


def ensure_account(session: Session, account: NewAccount, now: dt.datetime, passwords: Passwords = PASSWORDS) -> str:
    """The account as given, whether it existed or not: "created", "updated" (its names, role or
    password differed; its sessions end) or "unchanged"."""
    login = check_new_account(account.email, account.first_name, account.full_name, account.role, account.password)
    member = session.scalar(select(StaffMember).where(StaffMember.email == login).with_for_update())
    if member is None:
        add_account(session, account, now, passwords)
        return "created"
    wanted = (account.first_name.strip(), account.full_name.strip(), account.role, True)
    same_password = passwords.verify(member.password_hash, account.password)
    if (member.first_name, member.full_name, member.role, member.active) == wanted and same_password:
        return "unchanged"
    member.first_name, member.full_name, member.role, member.active = wanted
    if not same_password:
        member.password_hash = passwords.hash(account.password)
    session.execute(delete(StaffSession).where(StaffSession.staff_id == member.id))
    return "updated"


def demo_accounts(settings: Settings, privacy_officer: str) -> list[NewAccount]:
    """The demo's staff, those whose password `.env` sets (a placeholder or empty one is left out). The
    privacy officer is the one the register names (`privacy_officer`), so the console and the assistant
    give customers and staff the same person."""
    wanted = [
        (settings.demo_agent_1_email, "Anna", "Anna de Vries", Role.AGENT, settings.demo_agent_1_password),
        (settings.demo_agent_2_email, "Bram", "Bram Jansen", Role.AGENT, settings.demo_agent_2_password),
        (settings.demo_privacy_officer_email, privacy_officer.split()[0], privacy_officer, Role.PRIVACY_OFFICER,
         settings.demo_privacy_officer_password),
    ]
    return [NewAccount(email, first, full, role.value, password) for email, first, full, role, password in wanted
            if password and not is_placeholder(password)]


def ensure_demo_accounts(settings: Settings, sessions: sessionmaker, now: dt.datetime, privacy_officer: str) -> dict[str, str]:
    """Each demo account made or brought up to date (idempotent: a restart changes nothing); what happened to each."""
    outcomes = {}
    with sessions() as session:
        for account in demo_accounts(settings, privacy_officer):
            try:
                outcomes[account.email] = ensure_account(session, account, now)
            except AccountRefused as exc:
                outcomes[account.email] = f"refused: {exc}"
                log.warning("a demo %s account (DEMO_*) was not made: %s", account.role,
                            "its password" if "password" in str(exc) else "refused")
        session.commit()
    return outcomes


def read_password() -> str:
    """The new account's password: asked for on a terminal, else the first line of standard input
    (read no further than a password may be long)."""
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline(MAX_PASSWORD_CHARS + 2).rstrip("\r\n")


def add_from_command_line(settings: Settings, email: str, first_name: str, full_name: str, role: str) -> int:
    """`python -m backoffice staff add`: 0 and the new account's id, or 1 and why not."""
    account = NewAccount(email, first_name, full_name, role, read_password())
    engine, sessions = open_database(settings.database_url)
    try:
        with sessions() as session:
            member = add_account(session, account, dt.datetime.now(dt.UTC))
            session.commit()
            print(f"staff account {member.id} added: {member.email} ({member.role})")
            return 0
    except AccountRefused as exc:
        print(f"no account added: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()

# --- the throttle ----------------------------------------------------------------------------------

FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_KEY_CHARS = 100  # of an address or a device id; a login name is at most 254 (`rules`)


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
            # the kind of key only: an account key holds the login typed, a source key the client's address
            log.warning("staff sign-in: %d wrong passwords on one %s; its sign-ins now wait", row.failures, row.key.partition(":")[0])
    forgotten = session.scalars(select(LoginFailure.key).where(
        LoginFailure.last_failure_at < now - FAILURE_WINDOW, or_(LoginFailure.wait_until.is_(None), LoginFailure.wait_until < now))
        .limit(100).with_for_update(skip_locked=True)).all()  # rows another sign-in holds are left for later
    if forgotten:
        session.execute(delete(LoginFailure).where(LoginFailure.key.in_(forgotten)))


def succeeded(session: Session, keys: list[Key]) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key.in_([key.name for key in keys])))


# --- signing in, and the sessions it starts ---------------------------------------------------------

def live_session(session: Session, token: str, now: dt.datetime) -> tuple[StaffSession, StaffMember] | None:
    """The session this cookie's token opens and its member, or None (an expired session, or one of a
    disabled account, is deleted on the way)."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    found = session.execute(select(StaffSession, StaffMember).join(StaffMember, StaffMember.id == StaffSession.staff_id)
                            .where(StaffSession.token_hash == token_digest(token))).first()
    if found is None:
        return None
    row, member = found
    if not member.active or not session_alive(row.created_at, row.last_seen_at, now):
        session.execute(delete(StaffSession).where(StaffSession.id == row.id))  # a no-op if another request ended it first
        session.commit()
        return None
    return row, member


def still_signed_in(session: Session, token: str, now: dt.datetime) -> bool:
    """Whether a session still opens the console: not signed out, not expired, its account not
    disabled. Asked again on every tick of a live stream, which outlives the request that opened it."""
    return live_session(session, token, now) is not None


def touch(session: Session, row: StaffSession, now: dt.datetime) -> None:
    """Record the session's use, at most once a minute (`needs_touch`), not on every call."""
    if needs_touch(row.last_seen_at, now):
        session.execute(update(StaffSession).where(StaffSession.id == row.id).values(last_seen_at=now))
        session.commit()


@dataclass(frozen=True)
class SignInOutcome:
    """What a sign-in came to: held by the throttle (`wait_seconds`, no password checked), refused (no
    `session_token`), or a new session, with a new device cookie's token when the browser was not one of the member's."""

    wait_seconds: int | None = None
    session_token: str | None = None
    device_token: str | None = None


def sign_in(sessions: sessionmaker, email: str, password: str, address: str, device_cookie: str, old_session_token: str,
            now: dt.datetime) -> SignInOutcome:
    """One sign-in with a normalised `email`, from the client `address`, counted by the throttle on
    the keys its browser (`device_cookie`) decides; a good one ends the browser's old session."""
    login = email[:254]
    with sessions() as session:
        device = _device_of(session, device_cookie, login, now)
        keys = keys_for(address, login, device.id if device else None)
        wait = hold(session, keys, now)
        if wait is not None:
            session.rollback()
            return SignInOutcome(wait_seconds=wait)
        member = _authenticate(session, email, password) if login_within_bounds(email, password) else None
        if member is None:
            failed(session, keys, now)
            session.commit()
            return SignInOutcome()
        succeeded(session, keys)
        token = _start_session(session, member, old_session_token, now)
        device_token = _remember_device(session, member, device, now)
        session.commit()
    return SignInOutcome(session_token=token, device_token=device_token)


def sign_out(sessions: sessionmaker, token: str) -> None:
    with sessions() as session:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == token_digest(token)))
        session.commit()


def _authenticate(session: Session, email: str, password: str) -> StaffMember | None:
    """The account this login opens, or None. Every refusal has done the work of one password check."""
    member = session.scalar(select(StaffMember).where(StaffMember.email == email, StaffMember.active.is_(True)))
    if member is None:
        PASSWORDS.verify_unknown(password)
        return None
    if not PASSWORDS.verify(member.password_hash, password):
        return None
    if PASSWORDS.needs_rehash(member.password_hash):
        member.password_hash = PASSWORDS.hash(password)
    return member


def _device_of(session: Session, token: str, email: str, now: dt.datetime) -> StaffDevice | None:
    """The browser's device record when it is one of this login's, else None."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    device = session.scalar(select(StaffDevice).join(StaffMember, StaffMember.id == StaffDevice.staff_id)
                            .where(StaffDevice.token_hash == token_digest(token), StaffMember.email == email))
    return device if device is not None and device_known(device.created_at, now) else None


def _remember_device(session: Session, member: StaffMember, device: StaffDevice | None, now: dt.datetime) -> str | None:
    """Mark this browser as one of the member's devices: the new device cookie's token, or None when it is one already.
    Only the member's newest devices are kept."""
    if device is not None:
        device.last_used_at = now
        return None
    token = new_session_token()
    session.add(StaffDevice(staff_id=member.id, token_hash=token_digest(token), created_at=now, last_used_at=now))
    session.flush()
    kept = session.scalars(select(StaffDevice.id).where(StaffDevice.staff_id == member.id)
                           .order_by(StaffDevice.created_at.desc(), StaffDevice.id.desc()).limit(DEVICES_PER_ACCOUNT)).all()
    session.execute(delete(StaffDevice).where(StaffDevice.staff_id == member.id, StaffDevice.id.not_in(kept)))
    return token


def _start_session(session: Session, member: StaffMember, old_token: str, now: dt.datetime) -> str:
    """A new session for this member (the browser's old one ended, and this member's dead ones cleared); its token."""
    if TOKEN_SHAPE.fullmatch(old_token):
        session.execute(delete(StaffSession).where(StaffSession.token_hash == token_digest(old_token)))
    dead = [row.id for row in session.scalars(select(StaffSession).where(StaffSession.staff_id == member.id))
            if not session_alive(row.created_at, row.last_seen_at, now)]
    if dead:
        session.execute(delete(StaffSession).where(StaffSession.id.in_(dead)))
    token = new_session_token()
    session.add(StaffSession(staff_id=member.id, token_hash=token_digest(token), csrf_token=new_session_token(), created_at=now,
                             last_seen_at=now))
    return token
