"""The staff console's layout, shared by every console page, and its sign-in form.

Pages are built on the server and escaped here; their style is `web/static/console.css`, and any
script a page needs is a file under `/static/` (the console's Content-Security-Policy runs no inline
script). A page that changes something sends the session's CSRF token back: the `csrf-token` meta
tag for scripts, a hidden `csrf_token` field for forms.
"""
from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from ..shared.responses import CONSOLE_PAGE
from .rules import MAX_EMAIL_CHARS, MAX_PASSWORD_CHARS, Role, Staff

PRODUCT = "Voltera staff console"
ROLE_NAMES = {Role.AGENT.value: "support agent", Role.PRIVACY_OFFICER.value: "privacy officer"}


def _navigation(staff: Staff) -> str:
    links = [("/console", "Queue")]
    if staff.is_privacy_officer:
        links.append(("/console/privacy/requests", "Privacy requests"))
    items = "".join(f'<li><a href="{href}">{escape(text)}</a></li>' for href, text in links)
    return (
        f'<nav aria-label="Console"><ul>{items}</ul></nav>'
        '<form class="logout" method="post" action="/console/logout">'
        f'<input type="hidden" name="csrf_token" value="{escape(staff.csrf_token)}">'
        f'<span class="who">{escape(staff.full_name)}, {escape(ROLE_NAMES.get(staff.role, staff.role))}</span>'
        '<button type="submit">Log out</button></form>'
    )


def console_page(title: str, body_html: str, staff: Staff | None) -> str:
    """A whole console page around `body_html` (already escaped by its maker). Without `staff` (the
    sign-in form) there is no navigation and no CSRF token."""
    csrf = f'<meta name="csrf-token" content="{escape(staff.csrf_token)}">' if staff is not None else ""
    header = _navigation(staff) if staff is not None else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        f'{csrf}<title>{escape(title)} · {PRODUCT}</title><link rel="stylesheet" href="/static/console.css"></head>'
        '<body><a class="skip-link" href="#main">Skip to the content</a>'
        f'<header class="console-header"><span class="product">{PRODUCT}</span>{header}</header>'
        f'<main id="main">{body_html}</main></body></html>'
    )


def console_response(html: str, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A console page with the console's headers: never cached or framed, scripts only from the back office."""
    return HTMLResponse(html, status_code=status_code, headers={**CONSOLE_PAGE, **(headers or {})})


def login_page(form_token: str, next_path: str, message: str = "", email: str = "") -> str:
    """The sign-in form. `form_token` is the pre-session token (also in a cookie) that a login must
    send back, so another site cannot sign a browser in with an account of its choosing."""
    alert = f'<p class="alert" role="alert" id="login-problem">{escape(message)}</p>' if message else ""
    described = ' aria-describedby="login-problem"' if message else ""
    body = (
        '<h1>Sign in</h1>'
        f'{alert}<form class="login" method="post" action="/console/login">'
        f'<input type="hidden" name="csrf_token" value="{escape(form_token)}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<p><label for="email">E-mail address</label>'
        f'<input id="email" name="email" type="email" autocomplete="username" required maxlength="{MAX_EMAIL_CHARS}"'
        f' value="{escape(email)}"{described}></p>'
        '<p><label for="password">Password</label>'
        f'<input id="password" name="password" type="password" autocomplete="current-password" required'
        f' maxlength="{MAX_PASSWORD_CHARS}"{described}></p>'
        '<p><button type="submit">Sign in</button></p></form>'
    )
    return console_page("Sign in", body, None)
