"""The back office process killed while customers are filing: no request it confirmed is lost.

A real `python -m backoffice serve` process takes 40 filings at once and is killed (SIGKILL) in the
middle. Every filing it answered 201 for must be in the ledger with its outbox tasks. The assistant
then retries the unanswered ones with the same `client_request_id`, against a restarted back
office, as it does after a timeout: in the end all 40 are filed, each exactly once.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
from sqlalchemy import select

from backoffice.requests.tables import Request, SystemTask

from .conftest import BACKEND, SYSTEMS_TOKEN, Process, eventually, free_port, fresh_secret, serving

SERVICE_TOKEN = fresh_secret("restart-service")
FILINGS = 40


def back_office(ledger_url: str, port: int, systems_url: str, log_path: Path) -> Process:
    env = {**os.environ, "BACKOFFICE_DATABASE_URL": ledger_url, "BACKOFFICE_SERVICE_TOKEN": SERVICE_TOKEN,
           "COMPANY_SYSTEMS_URL": systems_url, "COMPANY_SYSTEMS_TOKEN": SYSTEMS_TOKEN, "DEMO_MODE": "0"}
    return Process("backoffice", [sys.executable, "-m", "backoffice", "serve", "--port", str(port)], BACKEND, env, log_path,
                   port, f"http://127.0.0.1:{port}/healthz")


def filing(n: int) -> dict:
    return {"customer_id": f"C{11 + n % 20:04d}", "type": "erasure", "categories": ["contact_details", "store_visits"],
            "client_request_id": f"restart-{n}", "channel": "assistant"}


def post(port: int, body: dict) -> tuple[str, int, str | None]:
    try:
        response = httpx2.post(f"http://localhost:{port}/api/requests", json=body, timeout=10,
                               headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
        return body["client_request_id"], response.status_code, response.json().get("id")
    except (httpx2.HTTPError, ValueError):
        return body["client_request_id"], 0, None  # no answer: the customer was not told it was filed


def test_back_office_killed_mid_filing_loses_no_confirmed_request(Session, ledger_url, systems, tmp_path):
    port = free_port()
    first = back_office(ledger_url, port, systems.url, tmp_path / "backoffice-first.log").start().wait_ready(60)
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            pending = [pool.submit(post, port, filing(n)) for n in range(FILINGS)]
            eventually(lambda: sum(f.done() for f in pending), 60, "5 filings answered", until=lambda done: done >= 5,
                       interval=0.005)
            first.kill()  # SIGKILL in the middle of the burst: no clean shutdown
            answers = [f.result() for f in pending]
    finally:
        first.kill()

    confirmed = {cid: rid for cid, status, rid in answers if status == 201}
    assert 5 <= len(confirmed) < FILINGS, "the kill should land in the middle of the burst"
    with Session() as s:
        for client_id, request_id in confirmed.items():
            row = s.scalar(select(Request).where(Request.client_request_id == client_id))
            assert row is not None and row.id == request_id
            systems_of_task = s.scalars(select(SystemTask.system).where(SystemTask.request_id == row.id).order_by(SystemTask.id))
            assert list(systems_of_task) == ["crm", "wifi"]  # contact details and store visits: one task each, no more

    with serving(back_office(ledger_url, port, systems.url, tmp_path / "backoffice-second.log"), timeout=60):
        retried = [post(port, filing(n)) for n in range(FILINGS)]
    assert all(status in (200, 201) for _, status, _ in retried)
    for client_id, status, request_id in retried:
        if client_id in confirmed:
            assert status == 200 and request_id == confirmed[client_id]  # a repeat, not a second request
    with Session() as s:
        ids = s.scalars(select(Request.client_request_id).where(Request.client_request_id.like("restart-%"))).all()
        tasks = s.scalars(select(SystemTask.system).join(Request, Request.id == SystemTask.request_id)
                          .where(Request.client_request_id.like("restart-%"))).all()
    assert sorted(ids) == sorted(f"restart-{n}" for n in range(FILINGS))
    assert sorted(tasks) == ["crm"] * FILINGS + ["wifi"] * FILINGS  # no request filed twice, none without its tasks
