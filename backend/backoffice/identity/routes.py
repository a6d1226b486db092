"""HTTP layer of identity verification, for the assistant (service token): which customer a
conversation is, and how we know.

Every call carries the presence of the chat message it serves (`presence`): a binding holds only
where it was made, so a read from another channel or connection answers "not verified", and a call
that would bind needs a presence (`400 no_presence` without one). The work is in `service`; the rules
of codes and tokens are in `rules`; what a code's limits are and why, there too.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from chatprotocol import CHANNEL_HEADER, CONNECTION_HEADER, SOURCE_HEADER, Presence

from ..shared.dependencies import ClockDep, SessionsDep
from ..shared.inputs import Incoming
from ..shared.responses import PRIVATE
from ..shared.service_auth import require_service
from . import rules, service
from .service import Verification


def presence(
    channel: str = Header(default="", alias=CHANNEL_HEADER, max_length=40, description="the message's input channel (website, rest, ...)"),
    connection: str = Header(default="", alias=CONNECTION_HEADER, max_length=32, description="the website connection's reference (32 hex)"),
    source: str = Header(default="", alias=SOURCE_HEADER, max_length=16, description="the client's keyed address hash (16 hex)"),
) -> Presence:
    """The FastAPI dependency: the presence headers of the call, checked for shape (400 with a reason)."""
    seen = Presence(channel, connection, source)
    wrong = seen.out_of_shape()
    if wrong:
        raise HTTPException(400, {"reason": "bad_presence", "detail": f"{wrong} is not in the expected form"})
    return seen


def not_verified() -> JSONResponse:
    """The answer to a call for personal data or a filing in a conversation not verified here (403)."""
    return JSONResponse({"reason": "not_verified", "detail": "this conversation is not verified as a customer here: verify "
                         "first (website login or a code by e-mail), then ask again"}, status_code=403,
                        headers={"Cache-Control": "no-store"})


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


def verification(request: Request) -> Verification:
    return request.app.state.verification


VerificationDep = Annotated[Verification, Depends(verification)]
router = APIRouter(tags=["identity"], dependencies=[Depends(require_service)])


def refusal(status: int, reason: str, detail: str, headers: dict | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"verified": False, "reason": reason, "detail": detail, **extra}, status_code=status,
                        headers={**PRIVATE, **(headers or {})})


def _until(moment: dt.datetime, now: dt.datetime) -> tuple[int, str]:
    """Seconds until `moment` (for Retry-After) and the moment in words: "01:34 Dutch time (in 15 min)"."""
    seconds = max(1, int((moment - now).total_seconds() + 0.999))
    zone = "UTC" if service.LOCAL is dt.UTC else "Dutch time"
    return seconds, f"{moment.astimezone(service.LOCAL):%H:%M} {zone} (in {-(-seconds // 60)} min)"


CONFLICT_DETAIL = ("this conversation is already verified as another customer: forget that first "
                   "(DELETE /api/identity/conversations/{id}), or start a new conversation")


def _no_presence() -> JSONResponse:
    return refusal(400, "no_presence", f"a verification needs the chat message's presence: {CHANNEL_HEADER} (and, for "
                                       f"the website, {CONNECTION_HEADER})")


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
        view = service.verify_session(sessions, verifying.tokens, verifying.binding_ttl, body.conversation_id, body.token, seen, now)
    except rules.TokenError as exc:
        return refusal(401, exc.reason, str(exc))
    except service.Conflict:
        return refusal(409, "other_customer", CONFLICT_DETAIL)
    return JSONResponse(view, headers=PRIVATE)


# --- one-time code by e-mail ---


def ask_refusal(refused: rules.AskRefused, name: str, now: dt.datetime) -> JSONResponse:
    """The 429 for a conversation or source (`name`: which, in words) that may not ask now."""
    seconds, when = _until(refused.until, now)
    if refused.reason == "locked":
        return refusal(429, "locked", f"too many wrong codes {name}: a new code can be asked for after {when}",
                       headers={"Retry-After": str(seconds)}, locked_until=refused.until.isoformat(), retry_after_seconds=seconds)
    return refusal(429, "too_many_codes", f"too many codes were asked for {name}: try again after {when}",
                   headers={"Retry-After": str(seconds)}, retry_after_seconds=seconds)


@router.post("/api/identity/email-code", status_code=202)
def request_email_code(body: EmailCodeIn, background: BackgroundTasks, sessions: SessionsDep, clock: ClockDep,
                       verifying: VerificationDep, seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    email = body.email.strip()
    if not rules.plausible_email(email):
        raise HTTPException(422, "that does not look like an e-mail address")
    refused = service.ask_refused(sessions, body.conversation_id, seen.source or None, now)
    if refused is not None:
        return ask_refusal(*refused, now)
    try:
        made = service.make_code(sessions, verifying, body.conversation_id, email, seen.source or None, now)
    except service.Unreachable as exc:
        raise HTTPException(503, str(exc)) from None
    if made is None:
        return JSONResponse({"verified": False, **rules.NOT_SENT_ANSWER, "conversation_id": body.conversation_id},
                            status_code=429, headers={**PRIVATE, "Retry-After": str(rules.NOT_SENT_ANSWER["retry_after_seconds"])})
    if made.to_send:
        background.add_task(service.deliver, verifying, sessions, clock, made, email, body.language)
    return JSONResponse({**rules.NEUTRAL_ANSWER, "conversation_id": body.conversation_id}, status_code=202, headers=PRIVATE)


def code_answer(tried: service.CodeTry | None, now: dt.datetime) -> JSONResponse:
    """The answer to a try at a code, by its outcome."""
    if tried is None:
        return refusal(404, "no_code", "no code was asked for in this conversation: ask for one first")
    if tried.conflict:
        return refusal(409, "other_customer", CONFLICT_DETAIL)
    check = tried.check
    outcome = check.outcome
    if outcome is rules.Outcome.VERIFIED:
        return JSONResponse(tried.view, headers=PRIVATE)
    if outcome is rules.Outcome.WRONG:
        left = check.attempts_left
        return refusal(400, outcome.value, f"that code is not right: {left} {'try' if left == 1 else 'tries'} left", attempts_left=left)
    if outcome is rules.Outcome.LOCKED:
        assert check.locked_until is not None
        seconds, when = _until(check.locked_until, now)
        return refusal(429, outcome.value, f"too many wrong codes: this code is blocked; ask for a new code after {when}",
                       headers={"Retry-After": str(seconds)}, attempts_left=0, locked_until=check.locked_until.isoformat(),
                       retry_after_seconds=seconds)
    if outcome is rules.Outcome.EXPIRED:
        return refusal(410, outcome.value, "this code has expired: ask for a new one", attempts_left=0)
    return refusal(409, outcome.value, "this code has been used already: ask for a new one if needed", attempts_left=0)


@router.post("/api/identity/email-code/verify")
def verify_email_code(body: VerifyIn, background: BackgroundTasks, sessions: SessionsDep, clock: ClockDep,
                      verifying: VerificationDep, seen: Presence = Depends(presence)) -> JSONResponse:
    now = clock()
    if not seen.known:
        return _no_presence()
    tried = service.try_code(sessions, verifying, body.conversation_id, body.code, seen, now)
    if tried is not None and tried.check.outcome is rules.Outcome.LOCKED:
        background.add_task(verifying.notices.tell, tried.attempt_id)  # the customer hears of it once, however often the lock is met
    return code_answer(tried, now)


# --- the binding ---


@router.get("/api/identity/conversations/{conversation_id}")
def get_identity(conversation_id: str, sessions: SessionsDep, clock: ClockDep, seen: Presence = Depends(presence)) -> JSONResponse:
    return JSONResponse(service.identity_of(sessions, conversation_id, seen, clock()), headers=PRIVATE)


@router.delete("/api/identity/conversations/{conversation_id}")
def forget_identity(conversation_id: str, sessions: SessionsDep, clock: ClockDep, seen: Presence = Depends(presence)) -> JSONResponse:
    forgotten = service.forget(sessions, conversation_id, seen, clock())
    return JSONResponse({"conversation_id": conversation_id, "forgotten": forgotten, "verified": False}, headers=PRIVATE)
