"""HTTP layer of identity verification, for the assistant (service token): which customer a
conversation is, and how we know.

Every call carries the presence of the chat message it serves (`presence`): a binding holds only
where it was made, so a read from another channel or connection answers "not verified", and a call
that would bind needs a presence (`400 no_presence` without one). The rules of codes and tokens are
in `rules`; what a code's limits are and why, there too.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx2
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..settings import Settings
from ..shared.company_systems import CompanySystems
from ..shared.dependencies import Clock, ClockDep, SessionsDep
from ..shared.inputs import Incoming
from ..shared.responses import PRIVATE
from ..shared.service_auth import require_service
from . import mail
from . import rules as identity
from .code_notices import CodeNotices
from .presence import Presence, presence, present_in, record_presence, verified_binding
from .tables import EMAIL, SESSION, ConversationIdentity, VerificationAttempt

log = logging.getLogger(__name__)

ConversationId = Field(min_length=1, max_length=200, description="the conversation (Rasa sender id) to verify")


class SessionIn(Incoming):
    conversation_id: str = ConversationId
    token: str = Field(min_length=1, max_length=4096, description="the website's signed session token")


class EmailCodeIn(Incoming):
    conversation_id: str = ConversationId
    email: str = Field(min_length=3, max_length=254, description="the address the customer typed")
    language: Literal["nl", "en"] = Field("nl", description="the language the e-mail starts in (it has both)")


class VerifyIn(Incoming):
    conversation_id: str = ConversationId
    code: str = Field(min_length=1, max_length=20, description="the code as the customer typed it")


class Conflict(Exception):
    """The conversation is already verified as another customer."""


@dataclass(frozen=True)
class Verification:
    """What verifying needs beyond the database, made once per process (`app.state.verification`)."""

    tokens: identity.SessionTokens | None  # None: website sessions are refused (no SESSION_TOKEN_SECRET)
    otp_secret: str
    binding_ttl: dt.timedelta
    systems: CompanySystems
    lookup_timeout: float
    smtp: mail.SmtpConfig
    notices: CodeNotices

    @classmethod
    def start(cls, settings: Settings, sessions: sessionmaker, systems: CompanySystems, clock: Clock) -> Verification:
        tokens: identity.SessionTokens | None = None
        if identity.secret_is_set(settings.session_token_secret):
            try:
                tokens = identity.SessionTokens(settings.session_token_secret, dt.timedelta(minutes=settings.session_token_minutes))
            except ValueError as exc:
                log.warning("website sessions are refused: SESSION_TOKEN_SECRET: %s", exc)
        else:
            log.warning("website sessions are refused: SESSION_TOKEN_SECRET is not set")
        otp_secret = settings.otp_secret
        if not identity.secret_is_set(otp_secret):
            log.warning("OTP_SECRET is not set: one-time codes use a random secret of this process (lost on restart)")
            otp_secret = secrets.token_hex(32)
        smtp = mail.SmtpConfig.from_settings(settings)
        return cls(tokens, otp_secret, dt.timedelta(minutes=settings.identity_minutes), systems,
                   settings.identity_lookup_timeout_seconds, smtp, CodeNotices(sessions, systems, smtp, clock))


def verification(request: Request) -> Verification:
    return request.app.state.verification


VerificationDep = Annotated[Verification, Depends(verification)]
router = APIRouter(tags=["identity"], dependencies=[Depends(require_service)])


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def identity_view(conversation_id: str, row: ConversationIdentity | None, now: dt.datetime) -> dict:
    if row is None or row.expires_at <= now:
        return {"conversation_id": conversation_id, "verified": False, "customer_id": None, "method": None,
                "verified_at": None, "expires_at": None}
    return {"conversation_id": conversation_id, "verified": True, "customer_id": row.customer_id, "method": row.method,
            "verified_at": _iso(row.verified_at), "expires_at": _iso(row.expires_at)}


def refusal(status: int, reason: str, detail: str, headers: dict | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"verified": False, "reason": reason, "detail": detail, **extra}, status_code=status,
                        headers={**PRIVATE, **(headers or {})})


def _until(moment: dt.datetime, now: dt.datetime) -> tuple[int, str]:
    """Seconds until `moment` (for Retry-After) and the moment in words: "01:34 Dutch time (in 15 min)"."""
    seconds = max(1, int((moment - now).total_seconds() + 0.999))
    zone = "UTC" if mail.LOCAL is dt.UTC else "Dutch time"
    return seconds, f"{moment.astimezone(mail.LOCAL):%H:%M} {zone} (in {-(-seconds // 60)} min)"



CONFLICT_DETAIL = ("this conversation is already verified as another customer: forget that first "
                   "(DELETE /api/identity/conversations/{id}), or start a new conversation")


def _no_presence() -> JSONResponse:
    return refusal(400, "no_presence", "a verification needs the chat message's presence: X-Chat-Channel (and, for "
                                       "the website, X-Chat-Connection)")


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


@router.post("/api/identity/session")
def verify_session(body: SessionIn, sessions: SessionsDep, clock: ClockDep, verifying: VerificationDep,
                   seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    if not seen.known:
        return _no_presence()
    if verifying.tokens is None:
        return refusal(503, "not_configured", "website sessions cannot be checked: SESSION_TOKEN_SECRET is not set on the back office")
    try:
        verified = verifying.tokens.verify(body.token, now)
    except identity.TokenError as exc:
        refused_reason = exc.reason

        def record(session: Session) -> None:
            session.add(VerificationAttempt(conversation_id=body.conversation_id, channel=SESSION, attempts=1,
                                            last_attempt_at=now, outcome=f"refused:{refused_reason}", created_at=now))
        in_transaction(sessions, record)
        return refusal(401, exc.reason, str(exc))

    def work(session: Session) -> Any:
        attempt = VerificationAttempt(conversation_id=body.conversation_id, customer_id=verified.customer_id, channel=SESSION,
                                      expires_at=verified.expires_at, attempts=1, last_attempt_at=now, created_at=now)
        session.add(attempt)
        session.flush()
        try:
            row = bind(session, body.conversation_id, verified.customer_id, SESSION, attempt, now, seen, verifying.binding_ttl)
        except Conflict:
            attempt.outcome = "refused:other_customer"
            return None
        attempt.verified_at, attempt.outcome = now, identity.Outcome.VERIFIED.value
        return identity_view(body.conversation_id, row, now)

    view = in_transaction(sessions, work)
    if view is None:
        return refusal(409, "other_customer", CONFLICT_DETAIL)
    log.info("conversation %s verified by website session", body.conversation_id[:40])
    return JSONResponse(view, headers=PRIVATE)


# --- one-time code by e-mail ---


def lookup(verifying: Verification, email: str) -> str | None:
    """The customer id the CRM has for this address, None if none; `HTTPException(503)` when it cannot say."""
    try:
        response = verifying.systems.lookup(email, timeout=verifying.lookup_timeout)
    except httpx2.HTTPError as exc:
        log.warning("CRM lookup failed: %s", type(exc).__name__)
        raise HTTPException(503, "the customer records cannot be reached right now; try again in a few minutes") from None
    if response.status_code == 404:
        return None
    try:
        customer_id = response.json().get("customer_id") if response.status_code == 200 else None
    except (ValueError, AttributeError):
        customer_id = None
    if not isinstance(customer_id, str) or not customer_id:
        log.warning("CRM lookup answered %s", response.status_code)
        raise HTTPException(503, "the customer records cannot be reached right now; try again in a few minutes")
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


def deliver(verifying: Verification, sessions: sessionmaker, clock: Clock, attempt_id: int, customer_id: str, typed: str,
            code: str, expires_at: dt.datetime, language: Literal["nl", "en"]) -> None:
    """Send the code (after the answer went out, so the answer takes as long for any address)."""
    smtp = verifying.smtp
    message = mail.code_email(address_on_file(verifying, customer_id, typed), code, expires_at, identity.CODE_TTL, smtp.sender, language)
    try:
        mail.send(message, smtp)
        outcome, sent_at = None, clock()
    except (smtplib.SMTPException, OSError) as exc:
        log.error("the code e-mail for conversation attempt %s could not be sent: %s: %s", attempt_id, type(exc).__name__, exc)
        outcome, sent_at = "send_failed", None
    with sessions() as session:
        values: dict = {"sent_at": sent_at} if sent_at else {"outcome": outcome}
        session.execute(update(VerificationAttempt).where(VerificationAttempt.id == attempt_id).values(**values))
        session.commit()


def asker_refusal(session: Session, who: Any, name: str, limit: int, now: dt.datetime, locks: bool) -> JSONResponse | None:
    """The 429 for a conversation or source (`who`: the condition on its asks) that may not ask now;
    `locks`: whether a code it locked keeps it from asking (a conversation: yes; a source, which a
    crowd may share: no)."""
    lock_ends = session.scalar(select(func.max(VerificationAttempt.locked_until)).where(
        who, VerificationAttempt.channel == EMAIL, VerificationAttempt.locked_until > now)) if locks else None
    recent = list(session.scalars(
        select(VerificationAttempt.created_at)
        .where(who, VerificationAttempt.channel == EMAIL, VerificationAttempt.created_at > now - identity.CODE_RATE_WINDOW)
        .order_by(VerificationAttempt.created_at.desc()).limit(limit)
    ))
    refused = identity.may_ask(lock_ends, recent, limit, now)
    if refused is None:
        return None
    seconds, when = _until(refused.until, now)
    if refused.reason == "locked":
        return refusal(429, "locked", f"too many wrong codes {name}: a new code can be asked for after {when}",
                       headers={"Retry-After": str(seconds)}, locked_until=_iso(refused.until), retry_after_seconds=seconds)
    return refusal(429, "too_many_codes", f"too many codes were asked for {name}: try again after {when}",
                   headers={"Retry-After": str(seconds)}, retry_after_seconds=seconds)


def codes_to_address(session: Session, key: str, since: dt.datetime, conversation_id: str | None = None) -> int:
    """How many codes (sent, or decoys) were made for the address with this key since `since`, from
    one conversation or from all."""
    query = select(func.count()).select_from(VerificationAttempt).where(
        VerificationAttempt.address_key == key, VerificationAttempt.channel == EMAIL,
        VerificationAttempt.code_hash.is_not(None), VerificationAttempt.created_at > since)
    if conversation_id is not None:
        query = query.where(VerificationAttempt.conversation_id == conversation_id)
    return session.scalar(query) or 0


@router.post("/api/identity/email-code", status_code=202)
def request_email_code(body: EmailCodeIn, background: BackgroundTasks, sessions: SessionsDep, clock: ClockDep,
                       verifying: VerificationDep, seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    email = body.email.strip()
    if not identity.plausible_email(email):
        raise HTTPException(422, "that does not look like an e-mail address")
    source = seen.source or None

    with sessions() as session:
        refused = asker_refusal(session, VerificationAttempt.conversation_id == body.conversation_id, "in this conversation",
                                identity.MAX_CODE_REQUESTS_PER_CONVERSATION, now, locks=True)
        if refused is None and source is not None:
            refused = asker_refusal(session, VerificationAttempt.source == source, "from where this conversation comes",
                                    identity.MAX_CODE_REQUESTS_PER_SOURCE, now, locks=False)
    if refused is not None:
        return refused

    customer_id = lookup(verifying, email)  # outside any transaction: no lock is held while the CRM answers
    key = identity.address_key(email, verifying.otp_secret)

    def work(session: Session) -> tuple[int, str | None, dt.datetime] | None:
        # Count and make the code as one step per address, a customer's or not: SQLite's write lock is
        # taken at BEGIN already, PostgreSQL takes this transaction-scoped lock, so parallel asks cannot
        # pass the limits together.
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"email-code:{key}"})
        since = now - identity.ADDRESS_WINDOW
        if not identity.may_send(codes_to_address(session, key, since, body.conversation_id), codes_to_address(session, key, since)):
            session.add(VerificationAttempt(conversation_id=body.conversation_id, customer_id=customer_id, channel=EMAIL,
                                            usable=False, source=source, address_key=key, outcome="not_sent", created_at=now))
            return None
        if customer_id is not None:
            issued = identity.issue_code(now, verifying.otp_secret)
            state, code, outcome = issued.state, issued.code, "issued"
        else:
            state, code, outcome = identity.decoy_code(now, verifying.otp_secret), None, "unknown_address"
        row = VerificationAttempt(conversation_id=body.conversation_id, customer_id=customer_id, channel=EMAIL,
                                  code_hash=state.code_hash, salt=state.salt, usable=state.usable, expires_at=state.expires_at,
                                  source=source, address_key=key, outcome=outcome, created_at=now)
        session.add(row)
        session.flush()
        return row.id, code, state.expires_at

    made = in_transaction(sessions, work)
    if made is None:
        log.warning("no code made for conversation %s: the address's limits are reached (address key %s…)",
                    body.conversation_id[:40], key[:8])
        return JSONResponse({"verified": False, **identity.NOT_SENT_ANSWER, "conversation_id": body.conversation_id},
                            status_code=429, headers={**PRIVATE, "Retry-After": str(identity.NOT_SENT_ANSWER["retry_after_seconds"])})
    attempt_id, code, expires_at = made
    if code is not None and customer_id is not None:  # a code goes out only to a customer's own address
        background.add_task(deliver, verifying, sessions, clock, attempt_id, customer_id, email, code, expires_at, body.language)
    return JSONResponse({**identity.NEUTRAL_ANSWER, "conversation_id": body.conversation_id}, status_code=202, headers=PRIVATE)


@router.post("/api/identity/email-code/verify")
def verify_email_code(body: VerifyIn, background: BackgroundTasks, sessions: SessionsDep, clock: ClockDep,
                      verifying: VerificationDep, seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    if not seen.known:
        return _no_presence()

    def work(session: Session) -> tuple[identity.CodeCheck | None, dict | None, int | None]:
        row = newest_code(session, body.conversation_id, lock=True)
        if row is None:
            return None, None, None
        check = identity.check_code(row.code_state(), body.code, now, verifying.otp_secret)
        row.store(check.state)
        row.last_attempt_at, row.outcome = now, check.outcome.value
        if not check.verified:
            return check, None, row.id
        assert row.customer_id is not None  # only a code sent to a customer's address can be right
        try:
            binding = bind(session, body.conversation_id, row.customer_id, EMAIL, row, now, seen, verifying.binding_ttl)
        except Conflict:
            row.verified_at, row.outcome = None, "refused:other_customer"  # the code stays usable after a log-out
            return check, {"conflict": True}, row.id
        return check, identity_view(body.conversation_id, binding, now), row.id

    check, view, attempt_id = in_transaction(sessions, work)
    if check is not None and check.outcome is identity.Outcome.LOCKED:
        background.add_task(verifying.notices.tell, attempt_id)  # the customer hears of it once, however often the lock is met
    if check is None:
        return refusal(404, "no_code", "no code was asked for in this conversation: ask for one first")
    if view and view.get("conflict"):
        return refusal(409, "other_customer", CONFLICT_DETAIL)
    outcome = check.outcome
    if outcome is identity.Outcome.VERIFIED:
        log.info("conversation %s verified by e-mail code", body.conversation_id[:40])
        return JSONResponse(view, headers=PRIVATE)
    if outcome is identity.Outcome.WRONG:
        left = check.attempts_left
        return refusal(400, outcome.value, f"that code is not right: {left} {'try' if left == 1 else 'tries'} left", attempts_left=left)
    if outcome is identity.Outcome.LOCKED:
        assert check.locked_until is not None
        seconds, when = _until(check.locked_until, now)
        return refusal(429, outcome.value, f"too many wrong codes: this code is blocked; ask for a new code after {when}",
                       headers={"Retry-After": str(seconds)}, attempts_left=0, locked_until=_iso(check.locked_until),
                       retry_after_seconds=seconds)
    if outcome is identity.Outcome.EXPIRED:
        return refusal(410, outcome.value, "this code has expired: ask for a new one", attempts_left=0)
    return refusal(409, outcome.value, "this code has been used already: ask for a new one if needed", attempts_left=0)


# --- the binding ---


@router.get("/api/identity/conversations/{conversation_id}")
def get_identity(conversation_id: str, sessions: SessionsDep, clock: ClockDep, seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    with sessions() as session:
        row = verified_binding(session, conversation_id, seen, now)
        return JSONResponse(identity_view(conversation_id, row, now), headers=PRIVATE)


@router.delete("/api/identity/conversations/{conversation_id}")
def forget_identity(conversation_id: str, sessions: SessionsDep, clock: ClockDep, seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()

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

    removed = in_transaction(sessions, work)
    return JSONResponse({"conversation_id": conversation_id, "forgotten": bool(removed), "verified": False}, headers=PRIVATE)
