"""The handoff's pages in the staff console: the queue and one conversation. Each is a frame the
console's script (`web/static/console.js`) fills from the live stream; the layout around it and the
words in the member of staff's language are the console's (`staff.pages`)."""
from __future__ import annotations

from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..staff.pages import Labels, console_page, console_response
from ..staff.rules import Staff
from .rules import MAX_MESSAGE_CHARS
from .tables import QueueEntry

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, undefined=StrictUndefined)


def queue_page(staff: Staff, t: Labels) -> HTMLResponse:
    body = TEMPLATES.get_template("queue.html").render(staff=staff, role=t(f"roles.{staff.role}"), t=t)
    return console_response(console_page(t("queue.title"), body, staff, t))


def conversation_page(entry: QueueEntry, staff: Staff, t: Labels) -> HTMLResponse:
    body = TEMPLATES.get_template("conversation.html").render(entry=entry, max_message_chars=MAX_MESSAGE_CHARS, t=t)
    return console_response(console_page(t("conversation.title", id=entry.id), body, staff, t))
