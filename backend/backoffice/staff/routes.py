"""HTTP layer of the staff console's sign-in, and what every other console route takes from it.

Signing in: the form carries a pre-session token that must equal the `console_login` cookie (login
CSRF: another site cannot sign a browser in to an account of its choosing). In front of the
password check is the throttle (`service`, 429 with Retry-After), which tells the account's
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

import hmac
import re
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..sentences import texts
from ..settings import Settings
from ..shared.dependencies import ClockDep, SessionsDep, SettingsDep
from ..shared.inputs import NUL_REFUSED, holds_nul
from ..shared.responses import PRIVATE
from . import service
from .pages import Labels, console_response, login_page, staff_language
from .rules import ABSOLUTE_TIMEOUT, DEVICE_LIFETIME, TOKEN_SHAPE, Role, Staff, new_session_token, normalise_email

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"
DEVICE_COOKIE = "console_device"
LOGIN_PATH = "/console/login"
LOGIN_FORM_SECONDS = 2 * 60 * 60
MAX_LOGIN_BODY_BYTES = 16 * 1024  # a 1,024-character password, percent-encoded, and the rest
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONSOLE_PATH = re.compile(r"/console(?:/[A-Za-z0-9._~-]+)*/?")

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


def console_labels(request: HttpRequest, settings: SettingsDep) -> Labels:
    """The console's words in the language of this member of staff's browser."""
    return Labels(texts(settings.company_name), staff_language(request.headers.get("accept-language")))


ConsoleLabels = Annotated[Labels, Depends(console_labels)]


async def offered_csrf_token(request: HttpRequest) -> str:
    """The CSRF token a change sends: the X-CSRF-Token header, else a form's csrf_token field."""
    header = request.headers.get("x-csrf-token")
    if header is not None or request.method not in UNSAFE_METHODS:
        return header or ""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return ""
    fields = _form_fields(await request.body())
    return fields.get("csrf_token", "")


def _not_signed_in(request: HttpRequest) -> HTTPException:
    if request.url.path.startswith("/api/"):
        return HTTPException(401, "sign in to the staff console first")
    return HTTPException(303, "sign in to the staff console first",
                         headers={"Location": f"{LOGIN_PATH}?next={quote(console_path(request.url.path))}"})


def signed_in(request: HttpRequest, sessions: SessionsDep, clock: ClockDep,
              offered: Annotated[str, Depends(offered_csrf_token)]) -> Staff:
    now = clock()
    with sessions() as session:
        found = service.live_session(session, request.cookies.get(SESSION_COOKIE, ""), now)
        if found is None:
            raise _not_signed_in(request)
        row, member = found
        if request.method in UNSAFE_METHODS and not _same(offered, row.csrf_token):
            raise HTTPException(403, "a change needs the signed-in staff's CSRF token (header X-CSRF-Token or form field csrf_token)")
        service.touch(session, row, now)
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


def _login_form(settings: Settings, t: Labels, form_token: str | None, next_path: str, status_code: int = 200, message: str = "",
                email: str = "", headers: dict[str, str] | None = None) -> Response:
    """The sign-in form, with the pre-session cookie it must be sent back with (a fresh one when `form_token` is None)."""
    token = form_token if form_token and TOKEN_SHAPE.fullmatch(form_token) else new_session_token()
    response = console_response(login_page(t, token, next_path, message, email), status_code, headers)
    _cookie(response, settings, LOGIN_COOKIE, token, LOGIN_PATH, LOGIN_FORM_SECONDS)
    return response


@router.get(LOGIN_PATH, include_in_schema=False)
def login(request: HttpRequest, settings: SettingsDep, t: ConsoleLabels,
          next_path: str = Query("", alias="next", max_length=200)) -> Response:
    return _login_form(settings, t, request.cookies.get(LOGIN_COOKIE), console_path(next_path))


@router.post(LOGIN_PATH, include_in_schema=False)
def login_submit(request: HttpRequest, form: Annotated[dict[str, str], Depends(login_form)], settings: SettingsDep,
                 t: ConsoleLabels, sessions: SessionsDep, clock: ClockDep) -> Response:
    next_path = console_path(form.get("next", ""))
    form_token = request.cookies.get(LOGIN_COOKIE, "")
    if not (TOKEN_SHAPE.fullmatch(form_token) and _same(form.get("csrf_token", ""), form_token)):
        return _login_form(settings, t, None, next_path, 403, t("sign_in.expired"))
    email = normalise_email(form.get("email", ""))
    address = request.client.host if request.client else "unknown"  # a proxy's client only from TRUSTED_PROXIES (app.py)
    signed = service.sign_in(sessions, email, form.get("password", ""), address, request.cookies.get(DEVICE_COOKIE, ""),
                             request.cookies.get(SESSION_COOKIE, ""), clock())
    if signed.wait_seconds is not None:
        return _login_form(settings, t, form_token, next_path, 429, t("sign_in.too_many", seconds=signed.wait_seconds),
                           email[:254], {"Retry-After": str(signed.wait_seconds)})
    if signed.session_token is None:
        return _login_form(settings, t, form_token, next_path, 401, t("sign_in.refused"), email[:254])
    response = RedirectResponse(next_path, status_code=303)
    _cookie(response, settings, SESSION_COOKIE, signed.session_token, "/", int(ABSOLUTE_TIMEOUT.total_seconds()))
    _forget_cookie(response, settings, LOGIN_COOKIE, LOGIN_PATH)
    if signed.device_token is not None:
        _cookie(response, settings, DEVICE_COOKIE, signed.device_token, LOGIN_PATH, int(DEVICE_LIFETIME.total_seconds()))
    return response


@router.post("/console/logout", include_in_schema=False)
def logout(request: HttpRequest, _staff: SignedIn, settings: SettingsDep, sessions: SessionsDep) -> Response:
    service.sign_out(sessions, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    _forget_cookie(response, settings, SESSION_COOKIE, "/")
    return response
