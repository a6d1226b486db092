"""The demo's work: its seed customers from the CRM (to log in as one), and its local mail sink, an SMTP
server that delivers nowhere and keeps every message as a file.

    python -m backoffice mailsink --port 8025          # listens on 127.0.0.1, stores in var/mail/

Each message becomes one JSON file in the folder (written whole, then renamed into place):
`{id, received_at, mail_from, rcpt_tos, from, to, subject, text}`. The back office reads the folder
for the demo inbox (`GET /demo/inbox`, `GET /api/demo/inbox?to=`) when DEMO_MODE=1. Only the newest
KEEP messages are kept.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import threading
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:
    from ..identity.service import Verification
    from ..shared.company_systems import CompanySystems

KEEP = 500
DEMO_CUSTOMERS = tuple(f"C{n:04d}" for n in range(1, 11))
DEMO_CUSTOMERS_CACHE_SECONDS = 300.0


# --- the seed customers ---------------------------------------------------------------------------


class Unreachable(Exception):
    """The company systems did not answer about the seed customers."""


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
                raise Unreachable(f"the company systems cannot be reached ({type(exc).__name__})") from None
            self._at, self._customers = time.monotonic(), found
            return found


def log_in(verifying: Verification, customer_id: str, now: dt.datetime) -> dict | None:
    """A website session token for a seed customer, as the website's login would sign it; None if the
    id is no seed customer's. The caller checks that `verifying.tokens` is set."""
    assert verifying.tokens is not None
    if customer_id not in DEMO_CUSTOMERS:
        return None
    try:
        customer = DemoCustomers.one(verifying.systems, customer_id)
    except (httpx2.HTTPError, ValueError) as exc:
        raise Unreachable(f"the company systems cannot be reached ({type(exc).__name__})") from None
    if customer is None:
        return None
    token, expires_at = verifying.tokens.issue(customer["customer_id"], now)
    # `expires_in` lets the page time the session on the browser's own clock, which may differ from ours
    return {"token": token, "customer_id": customer["customer_id"], "name": customer["name"],
            "expires_at": expires_at.isoformat(), "expires_in": int((expires_at - now).total_seconds())}


# --- the mail sink --------------------------------------------------------------------------------


def _text_of(message: Any) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        return body.get_content()
    except (LookupError, ValueError):
        return body.get_payload(decode=True).decode("utf-8", "replace")


def store(folder: Path, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> Path:
    """Keep one message as a JSON file; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    now = dt.datetime.now(dt.UTC)
    message_id = f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
    record = {
        "id": message_id, "received_at": now.isoformat(), "mail_from": mail_from, "rcpt_tos": list(rcpt_tos),
        "from": str(message.get("From", "")), "to": str(message.get("To", "")), "subject": str(message.get("Subject", "")),
        "text": _text_of(message),
    }
    target = folder / f"{message_id}.json"
    partial = folder / f".{message_id}.part"
    partial.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, target)
    for old in sorted(folder.glob("*.json"))[:-KEEP]:
        old.unlink(missing_ok=True)
    return target


def read_inbox(folder: Path, to: str | None = None, limit: int = 100) -> list[dict]:
    """The stored messages, newest first; with `to`, only those addressed to it (case-insensitive)."""
    if not folder.is_dir():
        return []
    wanted = to.strip().lower() if to else None
    found: list[dict] = []
    for path in sorted(folder.glob("*.json"), reverse=True):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if wanted and wanted not in {r.strip().lower() for r in record.get("rcpt_tos", [])}:
            continue
        found.append(record)
        if len(found) >= limit:
            break
    return found


class SinkHandler:
    """aiosmtpd handler: accept every message and store it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        store(self.folder, content, envelope.mail_from or "", list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def serve(folder: Path, host: str = "127.0.0.1", port: int = 8025) -> int:
    """Run the sink until SIGTERM or Ctrl-C."""
    from aiosmtpd.controller import Controller

    controller = Controller(SinkHandler(folder), hostname=host, port=port)
    controller.start()
    print(f"mail sink listening on {host}:{port}, storing messages in {folder}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0
