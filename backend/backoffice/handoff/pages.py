"""The handoff's pages in the staff console: the queue and one conversation. Each is a frame the
console's script (`web/static/console.js`) fills from the live stream; the layout around it is the
console's (`staff.pages`)."""
from __future__ import annotations

from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..staff.pages import console_page, console_response
from ..staff.rules import Staff
from .rules import MAX_MESSAGE_CHARS
from .tables import QueueEntry

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, undefined=StrictUndefined)


def queue_page(staff: Staff) -> HTMLResponse:
    body = TEMPLATES.get_template("queue.html").render(staff=staff, role=staff.role.replace("_", " "))
    return console_response(console_page("Queue", body, staff))


def conversation_page(entry: QueueEntry, staff: Staff) -> HTMLResponse:
    body = TEMPLATES.get_template("conversation.html").render(entry=entry, max_message_chars=MAX_MESSAGE_CHARS)
    return console_response(console_page(f"Conversation {entry.id}", body, staff))
