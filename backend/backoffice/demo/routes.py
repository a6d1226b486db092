"""The demo: the website page with the chat widget and the widget's words (always served), and, only with
DEMO_MODE=1, the demo's login as a seed customer and the local mail sink's inbox (otherwise they do not
exist: 404)."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import Field

from ..identity.routes import VerificationDep
from ..sentences import LANGUAGES, texts
from ..shared.dependencies import ClockDep, SettingsDep
from ..shared.inputs import Incoming
from ..shared.responses import CONSOLE_PAGE, PAGE, PRIVATE, allowing
from . import pages
from .service import DemoCustomers, Unreachable, log_in, read_inbox

website = APIRouter(include_in_schema=False)
# The widget's public words, in the schema (and so in the OpenAPI fuzz) though always served like the page.
widget = APIRouter(tags=["widget"])
router = APIRouter(tags=["demo"])


@website.get("/config.js")
def config_js(settings: SettingsDep) -> Response:
    body = "window.ASSISTANT_CONFIG = " + json.dumps({"socketUrl": settings.socket_url, "socketPath": "/socket.io/"}) + ";\n"
    return Response(body, media_type="application/javascript")


@lru_cache(maxsize=4)
def widget_words(company: str) -> bytes:
    """The catalogue's `widget` section in every language, `company` filled in: built once per process, as
    the answer is the same for every caller until COMPANY_NAME changes (a restart)."""
    said = texts(company)
    return json.dumps({lang: said.entry(lang, "widget") for lang in LANGUAGES}).encode()


@widget.get("/widget/texts")
def widget_texts(settings: SettingsDep) -> Response:
    """The chat widget's words in every language. Public and the same for everyone, like the widget's
    script: any website that embeds the widget may read them, and browsers and proxies may keep them."""
    return Response(widget_words(settings.company_name), media_type="application/json",
                    headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"})


@website.get("/vendor/socket.io.min.js")
def socketio_client(settings: SettingsDep) -> FileResponse:
    client = settings.web_dir / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    if not client.is_file():  # not installed (make deps runs npm ci in web/): a clear 404, not a 500
        raise HTTPException(404, "the chat client (socket.io-client) is not installed: run `make deps`")
    return FileResponse(client, media_type="application/javascript")


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
    headers = allowing(CONSOLE_PAGE, img_src="data:", connect_src=chat_origins(settings.socket_url))
    return HTMLResponse(pages.website(settings.web_dir, settings.socket_url), headers=headers)


class DemoLoginIn(Incoming):
    customer_id: str = Field(min_length=1, max_length=32)


def demo_customers(request: Request) -> DemoCustomers:
    return request.app.state.demo_customers


@router.get("/api/demo/customers")
def list_demo_customers(verifying: VerificationDep, customers: Annotated[DemoCustomers, Depends(demo_customers)]) -> JSONResponse:
    try:
        return JSONResponse({"customers": customers.all(verifying.systems)}, headers=PRIVATE)
    except Unreachable as exc:
        raise HTTPException(503, str(exc)) from None


@router.post("/demo/login")
def demo_login(body: DemoLoginIn, verifying: VerificationDep, clock: ClockDep) -> JSONResponse:
    if verifying.tokens is None:
        raise HTTPException(503, "website sessions are not configured: set SESSION_TOKEN_SECRET")
    try:
        login = log_in(verifying, body.customer_id, clock())
    except Unreachable as exc:
        raise HTTPException(503, str(exc)) from None
    if login is None:
        raise HTTPException(404, "not a demo customer")
    return JSONResponse(login, headers=PRIVATE)


@router.get("/api/demo/inbox")
def demo_inbox_json(settings: SettingsDep, to: str | None = Query(None, max_length=254),
                    limit: int = Query(50, ge=1, le=500)) -> JSONResponse:
    return JSONResponse({"messages": read_inbox(settings.mail_dir, to, limit)}, headers=PRIVATE)


@router.get("/demo/inbox", response_class=HTMLResponse, include_in_schema=False)
def demo_inbox_page(settings: SettingsDep, to: str | None = Query(None, max_length=254)) -> HTMLResponse:
    return HTMLResponse(pages.inbox(read_inbox(settings.mail_dir, to, 50), to), headers=PAGE)
