"""HTTP layer of the staff console's sign-in, and what every other console route takes from it.

Signing in: the form carries a pre-session token that must equal the `console_login` cookie (login
CSRF: another site cannot sign a browser in to an account of its choosing). In front of the
password check is the throttle (`login_throttle`, 429 with Retry-After), which tells the account's
own browsers (the `console_device` cookie, sent to the sign-in form only) from strangers. A good
login ends the browser's old session and starts a new one (no fixation): a random token in the
`console_session` cookie (HttpOnly, SameSite=Strict, Secure unless CONSOLE_INSECURE_COOKIES), kept
in the database as its SHA-256, with a CSRF token of its own.

For other routes: `SignedIn`, `AgentOrOfficer` and `PrivacyOfficer` give the signed-in `Staff`.
Without a live session an API path (`/api/...`) gets 401 and a page a redirect to the sign-in form;
every unsafe method also needs the session's CSRF token (header `X-CSRF-Token` or form field
`csrf_token`), else 403; a role that does not fit gets 403.
"""
from __future__ import annotations

import datetime as dt
import hmac
import re
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..settings import Settings
from ..shared.dependencies import ClockDep, SessionsDep, SettingsDep
from ..shared.inputs import NUL_REFUSED, holds_nul
from ..shared.responses import PRIVATE
from . import login_throttle
from .pages import console_response, login_page
from .rules import (
    ABSOLUTE_TIMEOUT,
    DEVICE_LIFETIME,
    DEVICES_PER_ACCOUNT,
    PASSWORDS,
    Role,
    Staff,
    device_known,
    login_within_bounds,
    needs_touch,
    new_session_token,
    normalise_email,
    session_alive,
    token_digest,
)
from .tables import StaffDevice, StaffMember, StaffSession

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"
DEVICE_COOKIE = "console_device"
LOGIN_PATH = "/console/login"
LOGIN_FORM_SECONDS = 2 * 60 * 60
MAX_LOGIN_BODY_BYTES = 16 * 1024  # a 1,024-character password, percent-encoded, and the rest
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
CONSOLE_PATH = re.compile(r"/console(?:/[A-Za-z0-9._~-]+)*/?")
REFUSED = "That e-mail address and password did not work."
FORM_EXPIRED = "The sign-in form had expired. Please sign in again."

router = APIRouter(tags=["console"])


def console_path(wanted: str) -> str:
    """Where to go after signing in: a page of the console, never anywhere else."""
    return wanted if len(wanted) <= 200 and CONSOLE_PATH.fullmatch(wanted) and "/." not in wanted else "/console"


def _cookie(response: Response, settings: Settings, name: str, value: str, path: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, secure=not settings.console_insecure_cookies, httponly=True,
                        samesite="strict")


def _forget_cookie(response: Response, settings: Settings, name: str, path: str) -> None:
    response.delete_cookie(name, path=path, secure=not settings.console_insecure_cookies, httponly=True, samesite="strict")


def _same(offered: str, expected: str) -> bool:
    return hmac.compare_digest(offered.encode(), expected.encode())


# --- the signed-in member of staff, for every console route ----------------------------------------


async def offered_csrf_token(request: HttpRequest) -> str:
    """The CSRF token a change sends: the X-CSRF-Token header, else a form's csrf_token field."""
    header = request.headers.get("x-csrf-token")
    if header is not None or request.method not in UNSAFE_METHODS:
        return header or ""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return ""
    fields = _form_fields(await request.body())
    return fields.get("csrf_token", "")


def _live_session(session: Session, token: str, now: dt.datetime) -> tuple[StaffSession, StaffMember] | None:
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
    return _live_session(session, token, now) is not None


def _not_signed_in(request: HttpRequest) -> HTTPException:
    if request.url.path.startswith("/api/"):
        return HTTPException(401, "sign in to the staff console first")
    return HTTPException(303, "sign in to the staff console first",
                         headers={"Location": f"{LOGIN_PATH}?next={quote(console_path(request.url.path))}"})


def signed_in(request: HttpRequest, sessions: SessionsDep, clock: ClockDep,
              offered: Annotated[str, Depends(offered_csrf_token)]) -> Staff:
    now = clock()
    with sessions() as session:
        found = _live_session(session, request.cookies.get(SESSION_COOKIE, ""), now)
        if found is None:
            raise _not_signed_in(request)
        row, member = found
        if request.method in UNSAFE_METHODS and not _same(offered, row.csrf_token):
            raise HTTPException(403, "a change needs this session's CSRF token (header X-CSRF-Token or form field csrf_token)")
        if needs_touch(row.last_seen_at, now):
            session.execute(update(StaffSession).where(StaffSession.id == row.id).values(last_seen_at=now))
            session.commit()
        return member.as_staff(row.csrf_token)


SignedIn = Annotated[Staff, Depends(signed_in)]


def agent_or_officer(staff: SignedIn) -> Staff:
    if staff.role not in (Role.AGENT.value, Role.PRIVACY_OFFICER.value):
        raise HTTPException(403, "for support agents and privacy officers")
    return staff


def privacy_officer(staff: SignedIn) -> Staff:
    if not staff.is_privacy_officer:
        raise HTTPException(403, "for privacy officers only")
    return staff


AgentOrOfficer = Annotated[Staff, Depends(agent_or_officer)]
PrivacyOfficer = Annotated[Staff, Depends(privacy_officer)]


@router.get("/api/console/me")
def me(staff: SignedIn) -> JSONResponse:
    return JSONResponse({"id": staff.id, "email": staff.email, "first_name": staff.first_name, "full_name": staff.full_name,
                         "role": staff.role, "csrf_token": staff.csrf_token}, headers=PRIVATE)


# --- signing in and out ------------------------------------------------------------------------------


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise HTTPException(400, "too many form fields") from None
    fields = {name: values[0] for name, values in parsed.items()}
    if holds_nul(fields):
        raise HTTPException(422, NUL_REFUSED)
    return fields


async def login_form(request: HttpRequest) -> dict[str, str]:
    """The sign-in form's fields, from a bounded urlencoded body."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_LOGIN_BODY_BYTES:
        raise HTTPException(413, "the sign-in form is too big")
    body = await request.body()  # no more than MAX_REQUEST_BODY_BYTES, however it is sent
    if len(body) > MAX_LOGIN_BODY_BYTES:
        raise HTTPException(413, "the sign-in form is too big")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HTTPException(415, "the sign-in form is sent as application/x-www-form-urlencoded")
    return _form_fields(body)


def _login_form(settings: Settings, form_token: str | None, next_path: str, status_code: int = 200, message: str = "",
                email: str = "", headers: dict[str, str] | None = None) -> Response:
    """The sign-in form, with the pre-session cookie it must be sent back with (a fresh one when `form_token` is None)."""
    token = form_token if form_token and TOKEN_SHAPE.fullmatch(form_token) else new_session_token()
    response = console_response(login_page(token, next_path, message, email), status_code, headers)
    _cookie(response, settings, LOGIN_COOKIE, token, LOGIN_PATH, LOGIN_FORM_SECONDS)
    return response


@router.get(LOGIN_PATH, include_in_schema=False)
def login(request: HttpRequest, settings: SettingsDep, next_path: str = Query("", alias="next", max_length=200)) -> Response:
    return _login_form(settings, request.cookies.get(LOGIN_COOKIE), console_path(next_path))


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


@router.post(LOGIN_PATH, include_in_schema=False)
def login_submit(request: HttpRequest, form: Annotated[dict[str, str], Depends(login_form)], settings: SettingsDep,
                 sessions: SessionsDep, clock: ClockDep) -> Response:
    next_path = console_path(form.get("next", ""))
    form_token = request.cookies.get(LOGIN_COOKIE, "")
    if not (TOKEN_SHAPE.fullmatch(form_token) and _same(form.get("csrf_token", ""), form_token)):
        return _login_form(settings, None, next_path, 403, FORM_EXPIRED)
    email, password = normalise_email(form.get("email", "")), form.get("password", "")
    shown_email = email[:254]
    address = request.client.host if request.client else "unknown"  # a proxy's client only from TRUSTED_PROXIES (app.py)
    now = clock()
    with sessions() as session:
        device = _device_of(session, request.cookies.get(DEVICE_COOKIE, ""), shown_email, now)
        keys = login_throttle.keys_for(address, shown_email, device.id if device else None)
        wait = login_throttle.hold(session, keys, now)
        if wait is not None:
            session.rollback()
            return _login_form(settings, form_token, next_path, 429, f"Too many wrong sign-ins: try again in {wait} seconds.",
                               shown_email, {"Retry-After": str(wait)})
        member = _authenticate(session, email, password) if login_within_bounds(email, password) else None
        if member is None:
            login_throttle.failed(session, keys, now)
            session.commit()
            return _login_form(settings, form_token, next_path, 401, REFUSED, shown_email)
        login_throttle.succeeded(session, keys)
        token = _start_session(session, member, request.cookies.get(SESSION_COOKIE, ""), now)
        device_token = _remember_device(session, member, device, now)
        session.commit()
    response = RedirectResponse(next_path, status_code=303)
    _cookie(response, settings, SESSION_COOKIE, token, "/", int(ABSOLUTE_TIMEOUT.total_seconds()))
    _forget_cookie(response, settings, LOGIN_COOKIE, LOGIN_PATH)
    if device_token is not None:
        _cookie(response, settings, DEVICE_COOKIE, device_token, LOGIN_PATH, int(DEVICE_LIFETIME.total_seconds()))
    return response


@router.post("/console/logout", include_in_schema=False)
def logout(request: HttpRequest, _staff: SignedIn, settings: SettingsDep, sessions: SessionsDep) -> Response:
    with sessions() as session:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == token_digest(request.cookies.get(SESSION_COOKIE, ""))))
        session.commit()
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    _forget_cookie(response, settings, SESSION_COOKIE, "/")
    return response
