"""The demo: the website page with the chat widget (always served), and, only with DEMO_MODE=1, the
demo's login as a seed customer and the local mail sink's inbox (otherwise they do not exist: 404)."""
from __future__ import annotations

import json
import re
import threading
import time
from html import escape
from typing import Annotated
from urllib.parse import urlsplit

import httpx2
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import Field

from ..identity.routes import VerificationDep
from ..shared.company_systems import CompanySystems
from ..shared.dependencies import ClockDep, SettingsDep
from ..shared.inputs import Incoming
from ..shared.responses import CONSOLE_PAGE, PAGE, PRIVATE, allowing
from .mailsink import read_inbox

DEMO_CUSTOMERS = tuple(f"C{n:04d}" for n in range(1, 11))
DEMO_CUSTOMERS_CACHE_SECONDS = 300.0

website = APIRouter(include_in_schema=False)
router = APIRouter(tags=["demo"])


@website.get("/config.js")
def config_js(settings: SettingsDep) -> Response:
    body = "window.ASSISTANT_CONFIG = " + json.dumps({"socketUrl": settings.socket_url, "socketPath": "/socket.io/"}) + ";\n"
    return Response(body, media_type="application/javascript")


@website.get("/vendor/socket.io.min.js")
def socketio_client(settings: SettingsDep) -> FileResponse:
    client = settings.web_dir / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    if not client.is_file():  # not installed (make deps runs npm ci in web/): a clear 404, not a 500
        raise HTTPException(404, "the chat client (socket.io-client) is not installed: run `make deps`")
    return FileResponse(client, media_type="application/javascript")


DEMO_SOCKET_URL = 'data-socket-url="http://localhost:5005"'
ORIGIN_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def chat_origins(socket_url: str) -> str:
    """Where the widget's socket.io connects: the chat server's origin over http(s) (polling) and ws(s)."""
    parts = urlsplit(socket_url)
    if parts.scheme not in ("http", "https") or not ORIGIN_HOST.fullmatch(parts.netloc):
        return ""
    socket_scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {socket_scheme}://{parts.netloc}"


@website.get("/")
def index(settings: SettingsDep) -> HTMLResponse:
    """The demo website, its widget's one script tag pointed at this deployment's PUBLIC_SOCKET_URL, with
    the console's strict headers (its icon is a data: URL, and the widget connects to the chat server)."""
    page = (settings.web_dir / "index.html").read_text(encoding="utf-8")
    headers = allowing(CONSOLE_PAGE, img_src="data:", connect_src=chat_origins(settings.socket_url))
    return HTMLResponse(page.replace(DEMO_SOCKET_URL, f'data-socket-url="{escape(settings.socket_url, quote=True)}"'),
                        headers=headers)


class DemoLoginIn(Incoming):
    customer_id: str = Field(min_length=1, max_length=32)


class DemoCustomers:
    """The seed customers one can log in as, from the CRM, kept for a few minutes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = 0.0
        self._customers: list[dict] | None = None

    @staticmethod
    def one(systems: CompanySystems, customer_id: str) -> dict | None:
        response = systems.export(systems.finder, customer_id)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        contact = (response.json().get("categories", {}).get("contact_details") or [{}])[0]
        name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p) or customer_id
        return {"customer_id": customer_id, "name": name, "email": contact.get("email")}

    def all(self, systems: CompanySystems) -> list[dict]:
        with self._lock:
            if self._customers is not None and time.monotonic() - self._at < DEMO_CUSTOMERS_CACHE_SECONDS:
                return self._customers
            try:
                found = [c for c in (self.one(systems, cid) for cid in DEMO_CUSTOMERS) if c is not None]
            except (httpx2.HTTPError, ValueError) as exc:
                raise HTTPException(503, f"the company systems cannot be reached ({type(exc).__name__})") from None
            self._at, self._customers = time.monotonic(), found
            return found


def demo_customers(request: Request) -> DemoCustomers:
    return request.app.state.demo_customers


@router.get("/api/demo/customers")
def list_demo_customers(verifying: VerificationDep, customers: Annotated[DemoCustomers, Depends(demo_customers)]) -> JSONResponse:
    return JSONResponse({"customers": customers.all(verifying.systems)}, headers=PRIVATE)


@router.post("/demo/login")
def demo_login(body: DemoLoginIn, verifying: VerificationDep, clock: ClockDep) -> JSONResponse:
    if verifying.tokens is None:
        raise HTTPException(503, "website sessions are not configured: set SESSION_TOKEN_SECRET")
    if body.customer_id not in DEMO_CUSTOMERS:
        raise HTTPException(404, "not a demo customer")
    try:
        customer = DemoCustomers.one(verifying.systems, body.customer_id)
    except (httpx2.HTTPError, ValueError) as exc:
        raise HTTPException(503, f"the company systems cannot be reached ({type(exc).__name__})") from None
    if customer is None:
        raise HTTPException(404, "not a demo customer")
    now = clock()
    token, expires_at = verifying.tokens.issue(customer["customer_id"], now)
    # `expires_in` lets the page time the session on the browser's own clock, which may differ from ours
    return JSONResponse({"token": token, "customer_id": customer["customer_id"], "name": customer["name"],
                         "expires_at": expires_at.isoformat(), "expires_in": int((expires_at - now).total_seconds())},
                        headers=PRIVATE)


@router.get("/api/demo/inbox")
def demo_inbox_json(settings: SettingsDep, to: str | None = Query(None, max_length=254),
                    limit: int = Query(50, ge=1, le=500)) -> JSONResponse:
    return JSONResponse({"messages": read_inbox(settings.mail_dir, to, limit)}, headers=PRIVATE)


@router.get("/demo/inbox", response_class=HTMLResponse, include_in_schema=False)
def demo_inbox_page(settings: SettingsDep, to: str | None = Query(None, max_length=254)) -> HTMLResponse:
    return HTMLResponse(render_inbox(read_inbox(settings.mail_dir, to, 50), to), headers=PAGE)


INBOX_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; color: #1d1d1f; padding: 0 1rem; }
.note { background: #fff4d6; padding: .6rem .8rem; border-radius: 6px; }
article { border: 1px solid #ddd; border-radius: 8px; padding: .8rem 1rem; margin: 1rem 0; }
article h2 { font-size: 1.05rem; margin: 0 0 .3rem; }
.meta { color: #555; font-size: .9rem; margin: 0 0 .6rem; }
pre { white-space: pre-wrap; font-family: inherit; margin: 0; }
"""


def render_inbox(messages: list[dict], to: str | None) -> str:
    items = "".join(
        f'<article data-testid="inbox-message"><h2>{escape(m.get("subject", ""))}</h2>'
        f'<p class="meta">To: {escape(", ".join(m.get("rcpt_tos", [])))} &middot; '
        f'{escape(m.get("received_at", "")[:19].replace("T", " "))} UTC</p>'
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
