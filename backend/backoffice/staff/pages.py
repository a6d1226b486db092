"""The staff console's layout, shared by every console page, and its sign-in form.

Pages are rendered on the server from the templates in `templates/` (autoescaped); their style is
`web/static/console.css`, and any script a page needs is a file under `/static/` (the console's
Content-Security-Policy runs no inline script). A page that changes something sends the session's
CSRF token back: the `csrf-token` meta tag for scripts, a hidden `csrf_token` field for forms.
"""
from __future__ import annotations

from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..shared.responses import CONSOLE_PAGE
from .rules import MAX_EMAIL_CHARS, MAX_PASSWORD_CHARS, Role, Staff

PRODUCT = "Voltera staff console"
ROLE_NAMES = {Role.AGENT.value: "support agent", Role.PRIVACY_OFFICER.value: "privacy officer"}
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, undefined=StrictUndefined)


def _layout(staff: Staff | None) -> dict:
    """What the layout shows around a page: the navigation by role and the session's CSRF token."""
    if staff is None:
        return {"staff": None, "product": PRODUCT}
    links = [("/console", "Queue")]
    if staff.is_privacy_officer:
        links.append(("/console/privacy/requests", "Privacy requests"))
    return {"staff": staff, "product": PRODUCT, "links": links, "role_name": ROLE_NAMES.get(staff.role, staff.role)}


def console_page(title: str, body_html: str, staff: Staff | None) -> str:
    """A whole console page around `body_html` (already escaped by its maker: a rendered template). Without
    `staff` (the sign-in form) there is no navigation and no CSRF token."""
    return TEMPLATES.get_template("console.html").render(title=title, body=Markup(body_html), **_layout(staff))


def console_response(html: str, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A console page with the console's headers: never cached or framed, scripts only from the back office."""
    return HTMLResponse(html, status_code=status_code, headers={**CONSOLE_PAGE, **(headers or {})})


def login_page(form_token: str, next_path: str, message: str = "", email: str = "") -> str:
    """The sign-in form. `form_token` is the pre-session token (also in a cookie) that a login must
    send back, so another site cannot sign a browser in with an account of its choosing."""
    return TEMPLATES.get_template("login.html").render(
        title="Sign in", form_token=form_token, next_path=next_path, message=message, email=email,
        max_email_chars=MAX_EMAIL_CHARS, max_password_chars=MAX_PASSWORD_CHARS, **_layout(None))
