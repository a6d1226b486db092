"""The staff console's layout, shared by every console page, and its sign-in form.

Pages are rendered on the server from the templates in `templates/` (autoescaped), in the words of the
text catalogue's `console` section in the member of staff's language (`Labels`); their style is
`web/static/console.css`, and any script a page needs is a file under `/static/` (the console's
Content-Security-Policy runs no inline script). A page that changes something sends the session's
CSRF token back: the `csrf-token` meta tag for scripts, a hidden `csrf_token` field for forms. A
page's scripts find their own words in the `console-texts` meta tag (JSON).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..sentences import LANGUAGES, Texts
from ..shared.responses import CONSOLE_PAGE
from .rules import MAX_EMAIL_CHARS, MAX_PASSWORD_CHARS, Staff

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, undefined=StrictUndefined)
CONSOLE_DEFAULT_LANGUAGE = "en"  # for a browser that asks for none of the catalogue's languages


@dataclass(frozen=True)
class Labels:
    """The console's words (the catalogue's `console` section, COMPANY_NAME filled in) in one language."""

    texts: Texts
    language: str

    def __call__(self, key: str, **values: Any) -> str:
        return self.texts(self.language, f"console.{key}", **values)

    def for_scripts(self) -> str:
        """The words of console.js (`console.script`), as JSON."""
        return json.dumps(self.texts.entry(self.language, "console.script"), ensure_ascii=False)


def staff_language(accept_language: str | None) -> str:
    """The member of staff's language: the first of their browser's languages (Accept-Language, by
    preference) that the catalogue has, else English."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        wanted.append((-weight, position, tag.strip().lower()[:2]))
    return next((tag for weight, _, tag in sorted(wanted) if weight < 0 and tag in LANGUAGES), CONSOLE_DEFAULT_LANGUAGE)


def _layout(staff: Staff | None, t: Labels) -> dict:
    """What the layout shows around a page: the navigation by role, the session's CSRF token, the scripts' words."""
    if staff is None:
        return {"staff": None, "t": t}
    links = [("/console", t("queue.title"))]
    if staff.is_privacy_officer:
        links.append(("/console/privacy/requests", t("privacy_requests")))
    return {"staff": staff, "t": t, "links": links, "role_name": t(f"roles.{staff.role}"), "script_texts": t.for_scripts()}


def console_page(title: str, body_html: str, staff: Staff | None, t: Labels) -> str:
    """A whole console page around `body_html` (already escaped by its maker: a rendered template). Without
    `staff` (the sign-in form) there is no navigation and no CSRF token."""
    return TEMPLATES.get_template("console.html").render(title=title, body=Markup(body_html), **_layout(staff, t))


def console_response(html: str, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A console page with the console's headers: never cached or framed, scripts only from the back office."""
    return HTMLResponse(html, status_code=status_code, headers={**CONSOLE_PAGE, **(headers or {})})


def login_page(t: Labels, form_token: str, next_path: str, message: str = "", email: str = "") -> str:
    """The sign-in form. `form_token` is the pre-session token (also in a cookie) that a login must
    send back, so another site cannot sign a browser in with an account of its choosing."""
    return TEMPLATES.get_template("login.html").render(
        title=t("sign_in.title"), form_token=form_token, next_path=next_path, message=message, email=email,
        max_email_chars=MAX_EMAIL_CHARS, max_password_chars=MAX_PASSWORD_CHARS, **_layout(None, t))
