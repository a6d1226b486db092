"""HTTP layer of identity verification: which customer a conversation is, and how we know.

For the assistant (service token, `Authorization: Bearer <BACKOFFICE_SERVICE_TOKEN>`), every call
with the presence of the chat message it serves (`X-Chat-Channel`, `X-Chat-Connection`,
`X-Chat-Source`: presence.py). A binding holds only where it was made: the reads below answer "not
verified" to a message from another channel or connection, and a call that would bind needs a
presence (`400 no_presence` without one).
- `POST /api/identity/session` `{conversation_id, token}`: check a website session token and bind the
  conversation to its customer, on this connection (the website channel calls it again for each new
  connection, so a page reload stays verified); `401` with the reason for a forged, expired or
  misaddressed token.
- `POST /api/identity/email-code` `{conversation_id, email, language?}`: if the company's CRM knows
  the address, send a one-time code to it. Always the same `202` answer, whether the address is
  known or not (no account enumeration); binds nothing. `429` (with `Retry-After`) when the
  conversation or its source (`X-Chat-Source`) asked too often or locked a code lately: the
  limits fall on who asks, never on the customer (identity.py, "Limits of the codes").
- `POST /api/identity/email-code/verify` `{conversation_id, code}`: check the conversation's newest
  code. `200` binds; `400` wrong (with `attempts_left`); `429` locked (with `locked_until` and
  `Retry-After`; the customer gets a notice, code_notices.py); `410` expired; `404` no code asked
  for; `409` used already, or the conversation is already someone else's.
  A code verifies the connection the code was typed on: a reconnect (page reload) is a new
  presence and verifies again.
- `GET /api/identity/conversations/{conversation_id}`: `{verified, customer_id, method, expires_at}`.
- `DELETE /api/identity/conversations/{conversation_id}`: forget the binding (log out), from where it was made.

Only with DEMO_MODE=1 (otherwise these do not exist: 404): the demo website's login
(`GET /api/demo/customers`, `POST /demo/login`) and the local mail sink's inbox (`GET /demo/inbox`,
`GET /api/demo/inbox?to=`).
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import smtplib
import threading
import time
from contextlib import asynccontextmanager
from html import escape
from typing import Any, AsyncIterator, Callable, Literal, Optional

import httpx2
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import rules as identity
from . import mail
from ..shared.service_auth import service_token_required
from .code_notices import CodeNotices
from ..settings import Settings
from .tables import EMAIL, SESSION, ConversationIdentity, VerificationAttempt, open_identity
from ..demo.mailsink import read_inbox
from .presence import Presence, presence, present_in, record_presence, verified_binding

log = logging.getLogger("backoffice.identity.rules")

PRIVATE = {"Cache-Control": "no-store"}
DEMO_CUSTOMERS = tuple(f"C{n:04d}" for n in range(1, 11))
DEMO_CUSTOMERS_CACHE_SECONDS = 300.0
ConversationId = Field(min_length=1, max_length=200, description="the conversation (Rasa sender id) to verify")


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str = ConversationId
    token: str = Field(min_length=1, max_length=4096, description="the website's signed session token")


class EmailCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str = ConversationId
    email: str = Field(min_length=3, max_length=254, description="the address the customer typed")
    language: Literal["nl", "en"] = Field("nl", description="the language the e-mail starts in (it has both)")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str = ConversationId
    code: str = Field(min_length=1, max_length=20, description="the code as the customer typed it")


class DemoLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=32)


class Conflict(Exception):
    """The conversation is already verified as another customer."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def identity_view(conversation_id: str, row: Optional[ConversationIdentity], now: dt.datetime) -> dict:
    if row is None or row.expires_at <= now:
        return {"conversation_id": conversation_id, "verified": False, "customer_id": None, "method": None,
                "verified_at": None, "expires_at": None}
    return {"conversation_id": conversation_id, "verified": True, "customer_id": row.customer_id, "method": row.method,
            "verified_at": _iso(row.verified_at), "expires_at": _iso(row.expires_at)}


def refusal(status: int, reason: str, detail: str, headers: Optional[dict] = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"verified": False, "reason": reason, "detail": detail, **extra}, status_code=status,
                        headers={**PRIVATE, **(headers or {})})


def _until(moment: dt.datetime, now: dt.datetime) -> tuple[int, str]:
    """Seconds until `moment` (for Retry-After) and the moment in words: "01:34 Dutch time (in 15 min)"."""
    seconds = max(1, int((moment - now).total_seconds() + 0.999))
    zone = "UTC" if mail.LOCAL is dt.timezone.utc else "Dutch time"
    return seconds, f"{moment.astimezone(mail.LOCAL):%H:%M} {zone} (in {-(-seconds // 60)} min)"


def identity_router(settings: Settings, clock: Callable[[], dt.datetime] = utcnow) -> APIRouter:
    """The identity routes (and the demo's, with DEMO_MODE). The database must be migrated already."""
    engine, Session = open_identity(settings.database_url, run_migrations=False)
    systems = httpx2.Client(
        base_url=settings.company_systems_url.rstrip("/"),
        timeout=httpx2.Timeout(settings.identity_lookup_timeout_seconds),
        headers={"Authorization": f"Bearer {settings.company_systems_token}"},
    )
    smtp = mail.SmtpConfig.from_settings(settings)

    tokens: Optional[identity.SessionTokens] = None
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
    binding_ttl = dt.timedelta(minutes=settings.identity_minutes)
    notices = CodeNotices(Session, systems, smtp, clock)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        systems.close()
        engine.dispose()

    router = APIRouter(lifespan=lifespan)

    require_service = service_token_required(settings)

    # --- storage helpers ---

    def binding_of(session: Session, conversation_id: str, lock: bool = False) -> Optional[ConversationIdentity]:
        query = select(ConversationIdentity).where(ConversationIdentity.conversation_id == conversation_id)
        return session.scalar(query.with_for_update() if lock else query)

    def bind(session: Session, conversation_id: str, customer_id: str, method: str, attempt: VerificationAttempt, now: dt.datetime,
             seen: Presence) -> ConversationIdentity:
        """Bind (or refresh) in the caller's transaction, where `seen` is; `Conflict` if someone else holds the conversation."""
        row = binding_of(session, conversation_id, lock=True)
        if row is not None and row.expires_at > now and row.customer_id != customer_id:
            raise Conflict()
        if row is None:
            row = ConversationIdentity(conversation_id=conversation_id)
            session.add(row)
        row.customer_id, row.method, row.verified_at, row.expires_at = customer_id, method, now, now + binding_ttl
        record_presence(row, seen)
        session.flush()
        row.attempt_id = attempt.id
        return row

    def newest_code(session: Session, conversation_id: str, lock: bool = False) -> Optional[VerificationAttempt]:
        query = (select(VerificationAttempt)
                 .where(VerificationAttempt.conversation_id == conversation_id, VerificationAttempt.channel == EMAIL)
                 .order_by(VerificationAttempt.created_at.desc(), VerificationAttempt.id.desc()).limit(1))
        return session.scalar(query.with_for_update() if lock else query)

    def in_transaction(work: Callable[[Session], Any]) -> Any:
        """Run `work` in one transaction; once more if a concurrent twin inserted the same binding first."""
        for attempt in range(2):
            with Session() as session:
                try:
                    result = work(session)
                    session.commit()
                    return result
                except IntegrityError:
                    session.rollback()
                    if attempt:
                        raise
        raise AssertionError("unreachable")

    def no_presence() -> JSONResponse:
        return refusal(400, "no_presence", "a verification needs the chat message's presence: X-Chat-Channel (and, for "
                                           "the website, X-Chat-Connection)")

    conflict_detail = ("this conversation is already verified as another customer: forget that first "
                       "(DELETE /api/identity/conversations/{id}), or start a new conversation")

    # --- website session ---

    @router.post("/api/identity/session", dependencies=[Depends(require_service)], tags=["identity"])
    def verify_session(body: SessionIn, seen: Presence = Depends(presence)) -> JSONResponse:
        now = clock()
        if not seen.known:
            return no_presence()
        if tokens is None:
            return refusal(503, "not_configured", "website sessions cannot be checked: SESSION_TOKEN_SECRET is not set on the back office")
        try:
            verified = tokens.verify(body.token, now)
        except identity.TokenError as exc:
            def record(session: Session) -> None:
                session.add(VerificationAttempt(conversation_id=body.conversation_id, channel=SESSION, attempts=1,
                                                last_attempt_at=now, outcome=f"refused:{exc.reason}", created_at=now))
            in_transaction(record)
            return refusal(401, exc.reason, str(exc))

        def work(session: Session) -> Any:
            attempt = VerificationAttempt(conversation_id=body.conversation_id, customer_id=verified.customer_id, channel=SESSION,
                                          expires_at=verified.expires_at, attempts=1, last_attempt_at=now, created_at=now)
            session.add(attempt)
            session.flush()
            try:
                row = bind(session, body.conversation_id, verified.customer_id, SESSION, attempt, now, seen)
            except Conflict:
                attempt.outcome = "refused:other_customer"
                return None
            attempt.verified_at, attempt.outcome = now, identity.Outcome.VERIFIED.value
            return identity_view(body.conversation_id, row, now)

        view = in_transaction(work)
        if view is None:
            return refusal(409, "other_customer", conflict_detail)
        log.info("conversation %s verified by website session", body.conversation_id[:40])
        return JSONResponse(view, headers=PRIVATE)

    # --- one-time code by e-mail ---

    def lookup(email: str) -> Optional[str]:
        """The customer id the CRM has for this address, None if none; `HTTPException(503)` when it cannot say."""
        try:
            response = systems.get("/systems/crm/customers/lookup", params={"email": email})
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

    def address_on_file(customer_id: str, typed: str) -> str:
        """The address as the CRM stores it (the lookup matched it case-insensitively)."""
        try:
            response = systems.get(f"/systems/crm/customers/{customer_id}/export")
            records = response.json()["categories"] if response.status_code == 200 else {}
            stored = [r.get("email") for r in records.get("contact_details", [])] + [r.get("login_email") for r in records.get("account", [])]
        except (httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError):
            stored = []
        return next((s for s in stored if isinstance(s, str) and s.lower() == typed.lower()), typed)

    def deliver(attempt_id: int, customer_id: str, typed: str, code: str, expires_at: dt.datetime, language: Literal["nl", "en"]) -> None:
        """Send the code (after the answer went out, so the answer takes as long for any address)."""
        message = mail.code_email(address_on_file(customer_id, typed), code, expires_at, identity.CODE_TTL, smtp.sender, language)
        try:
            mail.send(message, smtp)
            outcome, sent_at = None, clock()
        except (smtplib.SMTPException, OSError) as exc:
            log.error("the code e-mail for conversation attempt %s could not be sent: %s: %s", attempt_id, type(exc).__name__, exc)
            outcome, sent_at = "send_failed", None
        with Session() as session:
            values: dict = {"sent_at": sent_at} if sent_at else {"outcome": outcome}
            session.execute(update(VerificationAttempt).where(VerificationAttempt.id == attempt_id).values(**values))
            session.commit()

    neutral = {
        "status": "accepted",
        "detail": (f"If this e-mail address belongs to a customer, a {identity.CODE_DIGITS}-digit code has been sent to it. "
                   f"It is valid for {int(identity.CODE_TTL.total_seconds() // 60)} minutes."),
        "code_valid_minutes": int(identity.CODE_TTL.total_seconds() // 60),
    }

    def asker_limit(session: Session, who: Any, name: str, limit: int, now: dt.datetime) -> Optional[JSONResponse]:
        """The 429 for a conversation or source (`who`: the condition on its codes) that locked a code
        lately or asked `limit` codes within the window; None when it may ask. These limits do not
        depend on the address, so saying so tells nothing about it."""
        lock_ends = session.scalar(select(func.max(VerificationAttempt.locked_until)).where(
            who, VerificationAttempt.channel == EMAIL, VerificationAttempt.locked_until > now))
        if lock_ends is not None:
            seconds, when = _until(lock_ends, now)
            return refusal(429, "locked", f"too many wrong codes {name}: a new code can be asked for after {when}",
                           headers={"Retry-After": str(seconds)}, locked_until=_iso(lock_ends), retry_after_seconds=seconds)
        recent = list(session.scalars(
            select(VerificationAttempt.created_at)
            .where(who, VerificationAttempt.channel == EMAIL, VerificationAttempt.created_at > now - identity.CODE_RATE_WINDOW)
            .order_by(VerificationAttempt.created_at.desc()).limit(limit)
        ))
        if len(recent) >= limit:
            seconds, when = _until(recent[-1] + identity.CODE_RATE_WINDOW, now)
            return refusal(429, "too_many_codes", f"too many codes were asked for {name}: try again after {when}",
                           headers={"Retry-After": str(seconds)}, retry_after_seconds=seconds)
        return None

    @router.post("/api/identity/email-code", dependencies=[Depends(require_service)], tags=["identity"], status_code=202)
    def request_email_code(body: EmailCodeIn, background: BackgroundTasks, seen: Presence = Depends(presence)) -> JSONResponse:
        now = clock()
        email = body.email.strip()
        if not identity.plausible_email(email):
            raise HTTPException(422, "that does not look like an e-mail address")
        source = seen.source or None

        with Session() as session:
            refused = asker_limit(session, VerificationAttempt.conversation_id == body.conversation_id, "in this conversation",
                                  identity.MAX_CODE_REQUESTS_PER_CONVERSATION, now)
            if refused is None and source is not None:
                refused = asker_limit(session, VerificationAttempt.source == source, "from where this conversation comes",
                                      identity.MAX_CODE_REQUESTS_PER_SOURCE, now)
        if refused is not None:
            return refused

        customer_id = lookup(email)  # outside any transaction: no lock is held while the CRM answers

        def work(session: Session) -> Optional[tuple[int, str, dt.datetime]]:
            send, outcome = customer_id is not None, "issued" if customer_id else "unknown_address"
            if customer_id is not None:
                # Count and issue as one step per address: SQLite's write lock is taken at BEGIN already,
                # PostgreSQL takes this transaction-scoped lock, so parallel asks cannot pass the limit together.
                if session.get_bind().dialect.name == "postgresql":
                    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"email-code:{customer_id}"})
                sent = session.scalar(select(func.count()).select_from(VerificationAttempt).where(
                    VerificationAttempt.customer_id == customer_id, VerificationAttempt.channel == EMAIL,
                    VerificationAttempt.usable.is_(True), VerificationAttempt.created_at > now - identity.ADDRESS_WINDOW))
                if sent >= identity.MAX_CODES_PER_ADDRESS:
                    send, outcome = False, "suppressed:too_many_codes"
            if send:
                issued = identity.issue_code(now, otp_secret)
                state, code = issued.state, issued.code
            else:
                state, code = identity.decoy_code(now, otp_secret), None
            row = VerificationAttempt(conversation_id=body.conversation_id, customer_id=customer_id, channel=EMAIL,
                                      code_hash=state.code_hash, salt=state.salt, usable=state.usable, expires_at=state.expires_at,
                                      source=source, outcome=outcome, created_at=now)
            session.add(row)
            session.flush()
            return (row.id, code, state.expires_at) if code is not None else None

        issued = in_transaction(work)
        if issued is not None:
            attempt_id, code, expires_at = issued
            background.add_task(deliver, attempt_id, customer_id, email, code, expires_at, body.language)
        return JSONResponse({**neutral, "conversation_id": body.conversation_id}, status_code=202, headers=PRIVATE)

    @router.post("/api/identity/email-code/verify", dependencies=[Depends(require_service)], tags=["identity"])
    def verify_email_code(body: VerifyIn, background: BackgroundTasks, seen: Presence = Depends(presence)) -> JSONResponse:
        now = clock()
        if not seen.known:
            return no_presence()

        def work(session: Session) -> tuple[Optional[identity.CodeCheck], Optional[dict], Optional[int]]:
            row = newest_code(session, body.conversation_id, lock=True)
            if row is None:
                return None, None, None
            check = identity.check_code(row.code_state(), body.code, now, otp_secret)
            row.store(check.state)
            row.last_attempt_at, row.outcome = now, check.outcome.value
            if not check.verified:
                return check, None, row.id
            try:
                binding = bind(session, body.conversation_id, row.customer_id, EMAIL, row, now, seen)
            except Conflict:
                row.verified_at, row.outcome = None, "refused:other_customer"  # the code stays usable after a log-out
                return check, {"conflict": True}, row.id
            return check, identity_view(body.conversation_id, binding, now), row.id

        check, view, attempt_id = in_transaction(work)
        if check is not None and check.outcome is identity.Outcome.LOCKED:
            background.add_task(notices.tell, attempt_id)  # the customer hears of it once, however often the lock is met
        if check is None:
            return refusal(404, "no_code", "no code was asked for in this conversation: ask for one first")
        if view and view.get("conflict"):
            return refusal(409, "other_customer", conflict_detail)
        outcome = check.outcome
        if outcome is identity.Outcome.VERIFIED:
            log.info("conversation %s verified by e-mail code", body.conversation_id[:40])
            return JSONResponse(view, headers=PRIVATE)
        if outcome is identity.Outcome.WRONG:
            left = check.attempts_left
            return refusal(400, outcome.value, f"that code is not right: {left} {'try' if left == 1 else 'tries'} left", attempts_left=left)
        if outcome is identity.Outcome.LOCKED:
            seconds, when = _until(check.locked_until, now)
            return refusal(429, outcome.value, f"too many wrong codes: this code is blocked; ask for a new code after {when}",
                           headers={"Retry-After": str(seconds)}, attempts_left=0, locked_until=_iso(check.locked_until),
                           retry_after_seconds=seconds)
        if outcome is identity.Outcome.EXPIRED:
            return refusal(410, outcome.value, "this code has expired: ask for a new one", attempts_left=0)
        return refusal(409, outcome.value, "this code has been used already: ask for a new one if needed", attempts_left=0)

    # --- the binding ---

    @router.get("/api/identity/conversations/{conversation_id}", dependencies=[Depends(require_service)], tags=["identity"])
    def get_identity(conversation_id: str, seen: Presence = Depends(presence)) -> JSONResponse:
        now = clock()
        with Session() as session:
            row = verified_binding(session, conversation_id, seen, now)
            return JSONResponse(identity_view(conversation_id, row, now), headers=PRIVATE)

    @router.delete("/api/identity/conversations/{conversation_id}", dependencies=[Depends(require_service)], tags=["identity"])
    def forget_identity(conversation_id: str, seen: Presence = Depends(presence)) -> JSONResponse:
        now = clock()

        def work(session: Session) -> int:
            row = binding_of(session, conversation_id)
            if row is not None and row.expires_at > now and not present_in(row, seen):
                return 0  # only from where it was verified: a stranger naming the id cannot log the customer out
            removed = session.execute(delete(ConversationIdentity).where(ConversationIdentity.conversation_id == conversation_id)).rowcount
            # Codes still open in this conversation die with the log-out (locks stay).
            session.execute(update(VerificationAttempt).where(
                VerificationAttempt.conversation_id == conversation_id, VerificationAttempt.channel == EMAIL,
                VerificationAttempt.verified_at.is_(None), VerificationAttempt.expires_at > now,
            ).values(expires_at=now))
            return removed

        removed = in_transaction(work)
        return JSONResponse({"conversation_id": conversation_id, "forgotten": bool(removed), "verified": False}, headers=PRIVATE)

    if settings.demo_mode:
        add_demo_routes(router, settings, systems, tokens, clock)
    return router


# --- the demo (DEMO_MODE=1 only) -----------------------------------------------------------------


def add_demo_routes(router: APIRouter, settings: Settings, systems: httpx2.Client, tokens: Optional[identity.SessionTokens],
                    clock: Callable[[], dt.datetime]) -> None:
    cache: dict[str, Any] = {"at": 0.0, "customers": None}
    cache_lock = threading.Lock()

    def demo_customer(customer_id: str) -> Optional[dict]:
        response = systems.get(f"/systems/crm/customers/{customer_id}/export")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        contact = (response.json().get("categories", {}).get("contact_details") or [{}])[0]
        name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p) or customer_id
        return {"customer_id": customer_id, "name": name, "email": contact.get("email")}

    def demo_customers() -> list[dict]:
        with cache_lock:
            if cache["customers"] is not None and time.monotonic() - cache["at"] < DEMO_CUSTOMERS_CACHE_SECONDS:
                return cache["customers"]
            try:
                found = [c for c in (demo_customer(cid) for cid in DEMO_CUSTOMERS) if c is not None]
            except (httpx2.HTTPError, ValueError) as exc:
                raise HTTPException(503, f"the company systems cannot be reached ({type(exc).__name__})") from None
            cache.update(at=time.monotonic(), customers=found)
            return found

    @router.get("/api/demo/customers", tags=["demo"])
    def list_demo_customers() -> JSONResponse:
        return JSONResponse({"customers": demo_customers()}, headers=PRIVATE)

    @router.post("/demo/login", tags=["demo"])
    def demo_login(body: DemoLoginIn) -> JSONResponse:
        if tokens is None:
            raise HTTPException(503, "website sessions are not configured: set SESSION_TOKEN_SECRET")
        if body.customer_id not in DEMO_CUSTOMERS:
            raise HTTPException(404, "not a demo customer")
        try:
            customer = demo_customer(body.customer_id)
        except (httpx2.HTTPError, ValueError) as exc:
            raise HTTPException(503, f"the company systems cannot be reached ({type(exc).__name__})") from None
        if customer is None:
            raise HTTPException(404, "not a demo customer")
        token, expires_at = tokens.issue(customer["customer_id"], clock())
        return JSONResponse({"token": token, "customer_id": customer["customer_id"], "name": customer["name"],
                             "expires_at": _iso(expires_at)}, headers=PRIVATE)

    @router.get("/api/demo/inbox", tags=["demo"])
    def demo_inbox_json(to: Optional[str] = Query(None, max_length=254), limit: int = Query(50, ge=1, le=500)) -> JSONResponse:
        return JSONResponse({"messages": read_inbox(settings.mail_dir, to, limit)}, headers=PRIVATE)

    @router.get("/demo/inbox", response_class=HTMLResponse, include_in_schema=False)
    def demo_inbox_page(to: Optional[str] = Query(None, max_length=254)) -> HTMLResponse:
        return HTMLResponse(render_inbox(read_inbox(settings.mail_dir, to, 50), to), headers={
            **PRIVATE,
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer",
        })


INBOX_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; color: #1d1d1f; padding: 0 1rem; }
.note { background: #fff4d6; padding: .6rem .8rem; border-radius: 6px; }
article { border: 1px solid #ddd; border-radius: 8px; padding: .8rem 1rem; margin: 1rem 0; }
article h2 { font-size: 1.05rem; margin: 0 0 .3rem; }
.meta { color: #555; font-size: .9rem; margin: 0 0 .6rem; }
pre { white-space: pre-wrap; font-family: inherit; margin: 0; }
"""


def render_inbox(messages: list[dict], to: Optional[str]) -> str:
    items = "".join(
        f'<article data-testid="inbox-message"><h2>{escape(m.get("subject", ""))}</h2>'
        f'<p class="meta">To: {escape(", ".join(m.get("rcpt_tos", [])))} &middot; {escape(m.get("received_at", "")[:19].replace("T", " "))} UTC</p>'
        f'<pre>{escape(m.get("text", ""))}</pre></article>'
        for m in messages
    )
    heading = f"Demo inbox for {escape(to)}" if to else "Demo inbox"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        f'<meta http-equiv="refresh" content="5"><title>{heading}</title><style>{INBOX_STYLE}</style></head><body>'
        f"<h1>{heading}</h1>"
        '<p class="note">Demo only: every e-mail the back office sends lands in this local mail sink instead of a real '
        "mailbox. This page refreshes itself every 5 seconds.</p>"
        f"{items or '<p>No messages yet. Ask the assistant to verify you by e-mail.</p>'}</body></html>"
    )
