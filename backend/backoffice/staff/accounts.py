"""Making staff accounts: one at a time from the command line (`python -m backoffice staff add`), and
the demo's two agents and privacy officer at start in demo mode, from the passwords in `.env`."""
from __future__ import annotations

import datetime as dt
import getpass
import logging
import sys
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..settings import Settings, is_placeholder
from ..shared.database import open_database
from .rules import MAX_PASSWORD_CHARS, PASSWORDS, AccountRefused, Passwords, Role, check_new_account
from .tables import StaffMember, StaffSession

log = logging.getLogger(__name__)


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
                log.warning("demo staff account %s not made: %s", account.email, exc)
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
