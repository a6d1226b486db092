"""The demo's HTML: the website page with its widget pointed at this deployment's chat server, and the
local mail sink's inbox, rendered from the templates in `templates/` (autoescaped: a message's subject
and text are shown as text, whatever they hold)."""
from __future__ import annotations

from html import escape
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                        trim_blocks=True, lstrip_blocks=True)
DEMO_SOCKET_URL = 'data-socket-url="http://localhost:5005"'


def website(web_dir: Path, socket_url: str) -> str:
    """The demo website (web/index.html), its widget's one script tag pointed at `socket_url`."""
    page = (web_dir / "index.html").read_text(encoding="utf-8")
    return page.replace(DEMO_SOCKET_URL, f'data-socket-url="{escape(socket_url, quote=True)}"')


def inbox(messages: list[dict], to: str | None) -> str:
    """The mail sink's inbox: the messages as the sink keeps them (`service.read_inbox`), newest first."""
    shown = [{"subject": m.get("subject", ""), "to": ", ".join(m.get("rcpt_tos", [])),
              "received": m.get("received_at", "")[:19].replace("T", " "), "text": m.get("text", "")} for m in messages]
    return TEMPLATES.get_template("inbox.html").render(messages=shown, to=to)
