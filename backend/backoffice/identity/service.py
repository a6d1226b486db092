"""The work of identity verification behind the HTTP routes: the transactions and queries, the CRM's
answers about an address, the e-mail of codes and notices (SMTP), and the presence of a chat message
that a binding is tied to.

A binding holds only where it was made (the `Presence` of the message that verified it, from
chatprotocol): it records the channel, and a SHA-256 of each connection, so a read from another
channel or connection finds no verified customer. A sender id alone is no credential: it leaks
(logs, screenshots, exports) and Rasa's REST channel accepts any. The rules of codes and tokens are
in `rules`; what a code's limits are and why, there too.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any, Literal

import httpx2
from sqlalchemy import and_, delete, exists, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from chatprotocol import Presence

from ..sentences import LANGUAGES, texts, words
from ..settings import DEFAULT_COMPANY_NAME
from ..shared.logs import reference
from . import rules
from .tables import EMAIL, SESSION, ConversationIdentity, VerificationAttempt

if TYPE_CHECKING:
    from ..settings import Settings
    from ..shared.company_systems import CompanySystems
    from ..shared.dependencies import Clock

try:
    from zoneinfo import ZoneInfo

    LOCAL: dt.tzinfo = ZoneInfo("Europe/Amsterdam")
except Exception:  # no time zone data on this machine: say UTC
    LOCAL = dt.UTC

log = logging.getLogger(__name__)


# --- the presence of a chat message ---------------------------------------------------------------

MAX_CONNECTIONS = 5  # connections one binding keeps (tabs of one login); the oldest is dropped first


def connection_ref(seen: Presence) -> str:
    """What a binding stores of the message's connection: its SHA-256 (empty for no connection)."""
    return hashlib.sha256(seen.connection.encode()).hexdigest() if seen.connection else ""


def present_in(row: ConversationIdentity, seen: Presence) -> bool:
    """Does this message come through the channel and connection that verified the conversation?"""
    channel_ok = hmac.compare_digest(row.channel.encode(), seen.channel.encode())
    ref = connection_ref(seen).encode()
    connection_ok = False
    for stored in row.connections or []:
        connection_ok |= hmac.compare_digest(str(stored).encode(), ref)
    return seen.known and channel_ok and connection_ok


def verified_binding(session: Session, conversation_id: str, seen: Presence, now: dt.datetime,
                     lock: bool = False) -> ConversationIdentity | None:
    """The conversation's binding if it is valid now and this message is present where it was made."""
    query = select(ConversationIdentity).where(ConversationIdentity.conversation_id == conversation_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None or row.expires_at <= now:
        return None
    if not present_in(row, seen):
        log.warning("conversation %s is verified, but this message came through another %s: treated as not verified",
                    reference(conversation_id), "channel" if row.channel != seen.channel else "connection")
        return None
    return row


def record_presence(row: ConversationIdentity, seen: Presence) -> None:
    """Tie the binding to this presence: a new channel starts afresh, a new connection joins the newest."""
    ref = connection_ref(seen)
    kept = [c for c in (row.connections or []) if c != ref] if row.channel == seen.channel else []
    row.channel, row.connections = seen.channel, (kept + [ref])[-MAX_CONNECTIONS:]


# --- e-mail: the code, the notice of an unused code, and sending by SMTP ---------------------------


@dataclass(frozen=True)
class SmtpConfig:
    """Where the e-mail of identity verification (and the privacy team's) goes out.

    In the embedded demo the SMTP server is the local mail sink (`python -m backoffice mailsink`), whose
    inbox the demo page shows; a real deployment points SMTP_HOST / SMTP_PORT at the company's relay.
    """

    host: str = "localhost"
    port: int = 8025
    sender: str = f"{DEFAULT_COMPANY_NAME} privacy <privacy@voltera.example>"
    company: str = DEFAULT_COMPANY_NAME  # the name the e-mails are signed with (COMPANY_NAME)
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> SmtpConfig:
        """From the back office's `config.Settings`."""
        return cls(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from, company=settings.company_name,
                   username=settings.smtp_username,
                   password=settings.smtp_password, starttls=settings.smtp_starttls)


# Between the languages of an e-mail written in every language.
SEPARATOR = "\n\n----------------------------------------\n\n"


def code_email(to: str, code: str, expires_at: dt.datetime, validity: dt.timedelta, smtp: SmtpConfig,
               language: Literal["nl", "en"] = "nl") -> EmailMessage:
    """The message with the code, in every language (the customer's language first)."""
    until = expires_at.astimezone(LOCAL)
    minutes = int(validity.total_seconds() // 60)
    said = texts(smtp.company)
    parts = [said(lang, "back_office.code_email.body", code=code, minutes=minutes, until=until.strftime("%H:%M") + _zone(lang))
             for lang in sorted(LANGUAGES, key=lambda lang: lang != language)]
    message = EmailMessage()
    set_headers(message, said.in_every_language("back_office.code_email.subject", " / "), smtp.sender, to)
    message.set_content(SEPARATOR.join(parts) + "\n")
    return message


def set_headers(message: EmailMessage, subject: str, sender: str, to: str) -> None:
    """The headers of every message the back office sends."""
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    address = parseaddr(sender)[1]
    message["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[-1] if "@" in address else None)
    message["Auto-Submitted"] = "auto-generated"


def _zone(language: str) -> str:
    return words(language, "back_office.code_email.dutch_time") if LOCAL is not dt.UTC else " UTC"


def _local_time(moment: dt.datetime, language: str) -> str:
    return moment.astimezone(LOCAL).strftime("%d-%m-%Y %H:%M") + _zone(language)


def unused_code_notice(to: Sequence[str], asked_at: dt.datetime, reason: Literal["locked", "expired"], smtp: SmtpConfig) -> EmailMessage:
    """The notice that a code sent to the customer went unused, to every address on file (Dutch first:
    the language of the conversation that asked is not kept)."""
    contact = parseaddr(smtp.sender)[1] or smtp.sender
    said = texts(smtp.company)
    parts = [said(lang, "back_office.unused_code_email.body", asked=_local_time(asked_at, lang),
                  reason=words(lang, f"back_office.unused_code_email.{reason}"), contact=contact) for lang in LANGUAGES]
    message = EmailMessage()
    set_headers(message, said.in_every_language("back_office.unused_code_email.subject", " / "), smtp.sender, ", ".join(to))
    message.set_content(SEPARATOR.join(parts) + "\n")
    return message


def plain_message(to: Sequence[str], subject: str, body: str, sender: str) -> EmailMessage:
    """A plain-text message from the privacy team (a request's outcome, for instance) to every address given."""
    message = EmailMessage()
    set_headers(message, subject, sender, ", ".join(to))
    message.set_content(body if body.endswith("\n") else body + "\n")
    return message


def send(message: EmailMessage, config: SmtpConfig) -> None:
    """Hand the message to the SMTP server; raises `smtplib.SMTPException` or `OSError` when it fails."""
    with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(message)


# --- telling a customer that a code sent to them went unused, once per code -------------------------

NOTICE_HORIZON = dt.timedelta(days=1)
NOTICE_SWEEP_SECONDS = 30.0
SWEEP_BATCH = 50


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def addresses_on_file(systems: CompanySystems, customer_id: str) -> list[str]:
    """Every e-mail address the CRM has for the customer (contact and login), each once."""
    response = systems.export(systems.finder, customer_id)
    response.raise_for_status()
    records = response.json()["categories"]
    found = [r.get("email") for r in records.get("contact_details", [])] + [r.get("login_email") for r in records.get("account", [])]
    unique: dict[str, str] = {}
    for address in found:
        if isinstance(address, str) and "@" in address:
            unique.setdefault(address.lower(), address)
    return list(unique.values())


class CodeNotices:
    """Telling a customer that a verification code sent to them went unused, once per code.

    Anyone can type a customer's address and have a code sent (rules.py, "Limits of the codes"). When
    such a code is locked by wrong tries, or expires without being used, the customer gets one notice
    (`unused_code_notice`) at every address the CRM has for them:

    - a locked code: right after the fifth wrong try, in the background of that answer;
    - an expired code, and any notice that could not go out before: the worker's sweep
      (`CodeNotices.sweep`, run by `python -m backoffice worker` every NOTICE_SWEEP_SECONDS).

    Once per code: a notice is claimed by setting `notified_at` in one conditional UPDATE before the mail
    goes out, so two sweeps (or a sweep and the lock) never both send it; if the mail or the CRM fails,
    the claim is released and the next sweep tries again. Not told: decoys (nothing was sent), a code
    whose conversation verified with a later code (the customer asked twice), a code that was right but
    met a conversation verified as someone else, and codes that ended more than NOTICE_HORIZON ago.
    """

    def __init__(self, Session: sessionmaker, systems: CompanySystems, smtp: SmtpConfig,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        """`systems`: the company systems, to find the addresses on file."""
        self.Session = Session
        self.systems = systems
        self.smtp = smtp
        self.clock = clock

    @staticmethod
    def _unused(now: dt.datetime) -> list:
        """The conditions of a code the customer should hear about (locked, or expired), not told yet."""
        later = aliased(VerificationAttempt)
        verified_later = exists().where(later.conversation_id == VerificationAttempt.conversation_id, later.channel == EMAIL,
                                        later.verified_at.is_not(None), later.created_at >= VerificationAttempt.created_at)
        return [
            VerificationAttempt.channel == EMAIL, VerificationAttempt.usable.is_(True),
            VerificationAttempt.customer_id.is_not(None), VerificationAttempt.sent_at.is_not(None),
            VerificationAttempt.verified_at.is_(None), VerificationAttempt.notified_at.is_(None),
            or_(VerificationAttempt.outcome.is_(None), VerificationAttempt.outcome != "refused:other_customer"),
            or_(VerificationAttempt.locked_until.is_not(None), VerificationAttempt.expires_at <= now),
            VerificationAttempt.expires_at > now - NOTICE_HORIZON,
            ~verified_later,
        ]

    def addresses_of(self, customer_id: str) -> list[str]:
        return addresses_on_file(self.systems, customer_id)

    def tell(self, attempt_id: int, now: dt.datetime | None = None) -> bool:
        """Send the notice of this code if it is due and nobody sent it yet; True if it went out now."""
        now = now or self.clock()
        with self.Session() as session:
            claimed = session.execute(update(VerificationAttempt).where(VerificationAttempt.id == attempt_id, *self._unused(now))
                                      .values(notified_at=now).returning(VerificationAttempt.customer_id, VerificationAttempt.created_at,
                                                                         VerificationAttempt.locked_until)).first()
            session.commit()
        if claimed is None:
            return False
        customer_id, asked_at, locked_until = claimed
        try:
            addresses = self.addresses_of(customer_id)
            if not addresses:
                log.warning("no address on file to tell the customer of an unused code (attempt %s)", attempt_id)
                return False
            reason: Literal["locked", "expired"] = "locked" if locked_until is not None else "expired"
            send(unused_code_notice(addresses, asked_at, reason, self.smtp), self.smtp)
        except (httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError, smtplib.SMTPException, OSError) as exc:
            log.warning("the notice of unused code %s could not go out (%s); the next sweep tries again", attempt_id, type(exc).__name__)
            with self.Session() as session:
                session.execute(update(VerificationAttempt).where(VerificationAttempt.id == attempt_id).values(notified_at=None))
                session.commit()
            return False
        log.info("customer told of an unused code (%s, attempt %s)", reason, attempt_id)
        return True

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Tell the customers of every unused code that is due (up to SWEEP_BATCH); how many notices went out."""
        now = now or self.clock()
        with self.Session() as session:
            due = list(session.scalars(select(VerificationAttempt.id).where(and_(*self._unused(now)))
                                       .order_by(VerificationAttempt.id).limit(SWEEP_BATCH)))
        return sum(self.tell(attempt_id, now) for attempt_id in due)


# --- verifying ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What verifying needs beyond the database, made once per process (`app.state.verification`)."""

    tokens: rules.SessionTokens | None  # None: website sessions are refused (no SESSION_TOKEN_SECRET)
    otp_secret: str
    binding_ttl: dt.timedelta
    systems: CompanySystems
    lookup_timeout: float
    smtp: SmtpConfig
    notices: CodeNotices

    @classmethod
    def start(cls, settings: Settings, sessions: sessionmaker, systems: CompanySystems, clock: Clock) -> Verification:
        tokens: rules.SessionTokens | None = None
        if rules.secret_is_set(settings.session_token_secret):
            try:
                tokens = rules.SessionTokens(settings.session_token_secret, dt.timedelta(minutes=settings.session_token_minutes))
            except ValueError as exc:
                log.warning("website sessions are refused: SESSION_TOKEN_SECRET: %s", exc)
        else:
            log.warning("website sessions are refused: SESSION_TOKEN_SECRET is not set")
        otp_secret = settings.otp_secret
        if not rules.secret_is_set(otp_secret):
            log.warning("OTP_SECRET is not set: one-time codes use a random secret of this process (lost on restart)")
            otp_secret = secrets.token_hex(32)
        smtp = SmtpConfig.from_settings(settings)
        return cls(tokens, otp_secret, dt.timedelta(minutes=settings.identity_minutes), systems,
                   settings.identity_lookup_timeout_seconds, smtp, CodeNotices(sessions, systems, smtp, clock))


class Conflict(Exception):
    """The conversation is already verified as another customer."""


class Unreachable(Exception):
    """The customer records cannot say whether an address is a customer's (down, slow, or a bad answer)."""


UNREACHABLE = "the customer records cannot be reached right now; try again in a few minutes"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def identity_view(conversation_id: str, row: ConversationIdentity | None, now: dt.datetime) -> dict:
    if row is None or row.expires_at <= now:
        return {"conversation_id": conversation_id, "verified": False, "customer_id": None, "method": None,
                "verified_at": None, "expires_at": None}
    return {"conversation_id": conversation_id, "verified": True, "customer_id": row.customer_id, "method": row.method,
            "verified_at": _iso(row.verified_at), "expires_at": _iso(row.expires_at)}


def binding_of(session: Session, conversation_id: str, lock: bool = False) -> ConversationIdentity | None:
    query = select(ConversationIdentity).where(ConversationIdentity.conversation_id == conversation_id)
    return session.scalar(query.with_for_update() if lock else query)


def bind(session: Session, conversation_id: str, customer_id: str, method: str, attempt: VerificationAttempt, now: dt.datetime,
         seen: Presence, ttl: dt.timedelta) -> ConversationIdentity:
    """Bind (or refresh) in the caller's transaction, where `seen` is; `Conflict` if someone else holds the conversation."""
    row = binding_of(session, conversation_id, lock=True)
    if row is not None and row.expires_at > now and row.customer_id != customer_id:
        raise Conflict()
    if row is None:
        row = ConversationIdentity(conversation_id=conversation_id)
        session.add(row)
    row.customer_id, row.method, row.verified_at, row.expires_at = customer_id, method, now, now + ttl
    record_presence(row, seen)
    session.flush()
    row.attempt_id = attempt.id
    return row


def newest_code(session: Session, conversation_id: str, lock: bool = False) -> VerificationAttempt | None:
    """The conversation's newest code (sent, or a decoy); an ask that made no code leaves the one before in force."""
    query = (select(VerificationAttempt)
             .where(VerificationAttempt.conversation_id == conversation_id, VerificationAttempt.channel == EMAIL,
                    VerificationAttempt.code_hash.is_not(None))
             .order_by(VerificationAttempt.created_at.desc(), VerificationAttempt.id.desc()).limit(1))
    return session.scalar(query.with_for_update() if lock else query)


def in_transaction(sessions: sessionmaker, work: Callable[[Session], Any]) -> Any:
    """Run `work` in one transaction; once more if a concurrent twin inserted the same binding first."""
    for attempt in range(2):
        with sessions() as session:
            try:
                result = work(session)
                session.commit()
                return result
            except IntegrityError:
                session.rollback()
                if attempt:
                    raise
    raise AssertionError("unreachable")


# --- website session ---


def verify_session(sessions: sessionmaker, tokens: rules.SessionTokens, binding_ttl: dt.timedelta, conversation_id: str,
                   token: str, seen: Presence, now: dt.datetime) -> dict:
    """Bind the conversation to the customer the website's session token names; the binding's view.
    A refused token is recorded and raised (`rules.TokenError`); `Conflict` if another customer holds it."""
    try:
        verified = tokens.verify(token, now)
    except rules.TokenError as exc:
        refused_reason = exc.reason

        def record(session: Session) -> None:
            session.add(VerificationAttempt(conversation_id=conversation_id, channel=SESSION, attempts=1,
                                            last_attempt_at=now, outcome=f"refused:{refused_reason}", created_at=now))
        in_transaction(sessions, record)
        raise

    def work(session: Session) -> Any:
        attempt = VerificationAttempt(conversation_id=conversation_id, customer_id=verified.customer_id, channel=SESSION,
                                      expires_at=verified.expires_at, attempts=1, last_attempt_at=now, created_at=now)
        session.add(attempt)
        session.flush()
        try:
            row = bind(session, conversation_id, verified.customer_id, SESSION, attempt, now, seen, binding_ttl)
        except Conflict:
            attempt.outcome = "refused:other_customer"
            return None
        attempt.verified_at, attempt.outcome = now, rules.Outcome.VERIFIED.value
        return identity_view(conversation_id, row, now)

    view = in_transaction(sessions, work)
    if view is None:
        raise Conflict()
    log.info("conversation %s verified by website session", reference(conversation_id))
    return view


# --- one-time code by e-mail ---


def lookup(verifying: Verification, email: str) -> str | None:
    """The customer id the CRM has for this address, None if none; `Unreachable` when it cannot say."""
    try:
        response = verifying.systems.lookup(email, timeout=verifying.lookup_timeout)
    except httpx2.HTTPError as exc:
        log.warning("CRM lookup failed: %s", type(exc).__name__)
        raise Unreachable(UNREACHABLE) from None
    if response.status_code == 404:
        return None
    try:
        customer_id = response.json().get("customer_id") if response.status_code == 200 else None
    except (ValueError, AttributeError):
        customer_id = None
    if not isinstance(customer_id, str) or not customer_id:
        log.warning("CRM lookup answered %s", response.status_code)
        raise Unreachable(UNREACHABLE)
    return customer_id


def address_on_file(verifying: Verification, customer_id: str, typed: str) -> str:
    """The address as the CRM stores it (the lookup matched it case-insensitively)."""
    try:
        response = verifying.systems.export(verifying.systems.finder, customer_id, timeout=verifying.lookup_timeout)
        records = response.json()["categories"] if response.status_code == 200 else {}
        stored = [r.get("email") for r in records.get("contact_details", [])] + [r.get("login_email") for r in records.get("account", [])]
    except (httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        stored = []
    return next((s for s in stored if isinstance(s, str) and s.lower() == typed.lower()), typed)


@dataclass(frozen=True)
class MadeCode:
    """A code made for a conversation (sent, or a decoy for an address that is no customer's)."""

    attempt_id: int
    customer_id: str | None
    code: str | None  # None for a decoy: nothing to send
    expires_at: dt.datetime

    @property
    def to_send(self) -> bool:
        """A code goes out only to a customer's own address."""
        return self.code is not None and self.customer_id is not None


def deliver(verifying: Verification, sessions: sessionmaker, clock: Clock, made: MadeCode, typed: str,
            language: Literal["nl", "en"]) -> None:
    """Send the code (after the answer went out, so the answer takes as long for any address)."""
    assert made.code is not None and made.customer_id is not None
    smtp = verifying.smtp
    message = code_email(address_on_file(verifying, made.customer_id, typed), made.code, made.expires_at, rules.CODE_TTL, smtp, language)
    try:
        send(message, smtp)
        outcome, sent_at = None, clock()
    except (smtplib.SMTPException, OSError) as exc:
        # only the error's type: an SMTP refusal's text names the recipient's address
        log.error("the code e-mail of attempt %s could not be sent: %s", made.attempt_id, type(exc).__name__)
        outcome, sent_at = "send_failed", None
    with sessions() as session:
        values: dict = {"sent_at": sent_at} if sent_at else {"outcome": outcome}
        session.execute(update(VerificationAttempt).where(VerificationAttempt.id == made.attempt_id).values(**values))
        session.commit()


def asker_refused(session: Session, who: Any, limit: int, now: dt.datetime, locks: bool) -> rules.AskRefused | None:
    """Why a conversation or source (`who`: the condition on its asks) may not ask now, None if it may;
    `locks`: whether a code it locked keeps it from asking (a conversation: yes; a source, which a
    crowd may share: no)."""
    lock_ends = session.scalar(select(func.max(VerificationAttempt.locked_until)).where(
        who, VerificationAttempt.channel == EMAIL, VerificationAttempt.locked_until > now)) if locks else None
    recent = list(session.scalars(
        select(VerificationAttempt.created_at)
        .where(who, VerificationAttempt.channel == EMAIL, VerificationAttempt.created_at > now - rules.CODE_RATE_WINDOW)
        .order_by(VerificationAttempt.created_at.desc()).limit(limit)
    ))
    return rules.may_ask(lock_ends, recent, limit, now)


def ask_refused(sessions: sessionmaker, conversation_id: str, source: str | None, now: dt.datetime) -> tuple[rules.AskRefused, str] | None:
    """Why this conversation, or the source it comes from, may not ask for a code now, and which of the
    two in words ("in this conversation"); None if both may."""
    with sessions() as session:
        refused = asker_refused(session, VerificationAttempt.conversation_id == conversation_id,
                                rules.MAX_CODE_REQUESTS_PER_CONVERSATION, now, locks=True)
        if refused is not None:
            return refused, "in this conversation"
        if source is not None:
            refused = asker_refused(session, VerificationAttempt.source == source, rules.MAX_CODE_REQUESTS_PER_SOURCE, now, locks=False)
            if refused is not None:
                return refused, "from where this conversation comes"
    return None


def codes_to_address(session: Session, key: str, since: dt.datetime, conversation_id: str | None = None) -> int:
    """How many codes (sent, or decoys) were made for the address with this key since `since`, from
    one conversation or from all."""
    query = select(func.count()).select_from(VerificationAttempt).where(
        VerificationAttempt.address_key == key, VerificationAttempt.channel == EMAIL,
        VerificationAttempt.code_hash.is_not(None), VerificationAttempt.created_at > since)
    if conversation_id is not None:
        query = query.where(VerificationAttempt.conversation_id == conversation_id)
    return session.scalar(query) or 0


def make_code(sessions: sessionmaker, verifying: Verification, conversation_id: str, email: str, source: str | None,
              now: dt.datetime) -> MadeCode | None:
    """Make the conversation's code for the typed address (a decoy if it is no customer's); None when the
    address's limits hold it back. `Unreachable` when the customer records cannot say whose it is."""
    customer_id = lookup(verifying, email)  # outside any transaction: no lock is held while the CRM answers
    key = rules.address_key(email, verifying.otp_secret)

    def work(session: Session) -> MadeCode | None:
        # Count and make the code as one step per address, a customer's or not: SQLite's write lock is
        # taken at BEGIN already, PostgreSQL takes this transaction-scoped lock, so parallel asks cannot
        # pass the limits together.
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"email-code:{key}"})
        since = now - rules.ADDRESS_WINDOW
        if not rules.may_send(codes_to_address(session, key, since, conversation_id), codes_to_address(session, key, since)):
            session.add(VerificationAttempt(conversation_id=conversation_id, customer_id=customer_id, channel=EMAIL,
                                            usable=False, source=source, address_key=key, outcome="not_sent", created_at=now))
            return None
        if customer_id is not None:
            issued = rules.issue_code(now, verifying.otp_secret)
            state, code, outcome = issued.state, issued.code, "issued"
        else:
            state, code, outcome = rules.decoy_code(now, verifying.otp_secret), None, "unknown_address"
        row = VerificationAttempt(conversation_id=conversation_id, customer_id=customer_id, channel=EMAIL,
                                  code_hash=state.code_hash, salt=state.salt, usable=state.usable, expires_at=state.expires_at,
                                  source=source, address_key=key, outcome=outcome, created_at=now)
        session.add(row)
        session.flush()
        return MadeCode(row.id, customer_id, code, state.expires_at)

    made = in_transaction(sessions, work)
    if made is None:
        log.warning("no code made for conversation %s: the address's limits are reached (address key %s…)",
                    reference(conversation_id), key[:8])
    return made


@dataclass(frozen=True)
class CodeTry:
    """A try at the conversation's newest code: the outcome, and the binding's view if it verified."""

    check: rules.CodeCheck
    attempt_id: int
    view: dict | None = None
    conflict: bool = False  # the code was right, but the conversation is verified as another customer


def try_code(sessions: sessionmaker, verifying: Verification, conversation_id: str, typed: str, seen: Presence,
             now: dt.datetime) -> CodeTry | None:
    """Check the typed code against the conversation's newest code, and bind if it is right; None if no code was asked for."""

    def work(session: Session) -> CodeTry | None:
        row = newest_code(session, conversation_id, lock=True)
        if row is None:
            return None
        check = rules.check_code(row.code_state(), typed, now, verifying.otp_secret)
        row.store(check.state)
        row.last_attempt_at, row.outcome = now, check.outcome.value
        if not check.verified:
            return CodeTry(check, row.id)
        assert row.customer_id is not None  # only a code sent to a customer's address can be right
        try:
            binding = bind(session, conversation_id, row.customer_id, EMAIL, row, now, seen, verifying.binding_ttl)
        except Conflict:
            row.verified_at, row.outcome = None, "refused:other_customer"  # the code stays usable after a log-out
            return CodeTry(check, row.id, conflict=True)
        return CodeTry(check, row.id, identity_view(conversation_id, binding, now))

    tried: CodeTry | None = in_transaction(sessions, work)
    if tried is not None and tried.check.outcome is rules.Outcome.VERIFIED and not tried.conflict:
        log.info("conversation %s verified by e-mail code", reference(conversation_id))
    return tried


# --- the binding ---


def identity_of(sessions: sessionmaker, conversation_id: str, seen: Presence, now: dt.datetime) -> dict:
    """The conversation's binding as this message sees it: not verified unless it is present where it was made."""
    with sessions() as session:
        return identity_view(conversation_id, verified_binding(session, conversation_id, seen, now), now)


def forget(sessions: sessionmaker, conversation_id: str, seen: Presence, now: dt.datetime) -> bool:
    """Log the conversation out (only from where it was verified); whether there was a binding to forget."""

    def work(session: Session) -> int:
        row = binding_of(session, conversation_id)
        if row is not None and row.expires_at > now and not present_in(row, seen):
            return 0  # only from where it was verified: a stranger naming the id cannot log the customer out
        # Session.execute is typed as returning a plain Result; for a DELETE it is a CursorResult, which has rowcount.
        removed = session.execute(  # type: ignore[attr-defined]
            delete(ConversationIdentity).where(ConversationIdentity.conversation_id == conversation_id)).rowcount
        # Codes still open in this conversation die with the log-out (locks stay).
        session.execute(update(VerificationAttempt).where(
            VerificationAttempt.conversation_id == conversation_id, VerificationAttempt.channel == EMAIL,
            VerificationAttempt.verified_at.is_(None), VerificationAttempt.expires_at > now,
        ).values(expires_at=now))
        return removed

    return bool(in_transaction(sessions, work))
