"""The ledger's HTTP API: the assistant's calls (service token) and the privacy team's overview (a privacy officer's console session)."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backoffice.app import create_app
from backoffice.requests.rules import add_months, due_date, extended_due_date, local_date
from backoffice.requests.service.filing import file_request
from backoffice.requests.tables import AuditEntry, Request
from backoffice.settings import Settings

from ..staff.conftest import sign_in
from .conftest import KNOWLEDGE, ROOT, SYSTEMS_TOKEN

SERVICE = {"Authorization": "Bearer ledger-service-token"}


def settings_for(ledger_url: str, **changes) -> Settings:
    values: dict[str, Any] = dict(
        knowledge_dir=KNOWLEDGE, web_dir=ROOT / "web", database_url=ledger_url, socket_url="http://localhost:5005",
        service_token="ledger-service-token", company_systems_token=SYSTEMS_TOKEN, console_insecure_cookies=True,
    )
    values.update(changes)
    return Settings(**values)


@pytest.fixture
def client(ledger_url: str) -> Iterator[TestClient]:
    """Signed in to the console as a privacy officer (the assistant's calls carry the service token besides)."""
    with TestClient(create_app(settings_for(ledger_url))) as c:
        sign_in(c, "privacy_officer", "Sanne")
        yield c


def officer_email(client: TestClient) -> str:
    return client.get("/api/console/me").json()["email"]


def anonymous(client: TestClient) -> TestClient:
    """Another browser on the same back office, signed in to nothing."""
    return TestClient(client.app)


def body(**changes) -> dict:
    return {"customer_id": "C0040", "type": "access", "client_request_id": f"api-{uuid.uuid4().hex}", **changes}


def test_the_assistants_calls_need_the_service_token(client):
    filed = client.post("/api/requests", json=body(), headers=SERVICE).json()
    for method, path in [("post", "/api/requests"), ("get", f"/api/requests/{filed['id']}"), ("get", "/api/customers/C0040/requests"),
                         ("get", "/api/request-categories")]:
        for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic ZHBvOnNlY3JldA=="}):
            response = anonymous(client).request(method.upper(), path, json=body() if method == "post" else None, headers=headers)
            assert response.status_code == 401
            assert filed["id"] not in response.text


def test_the_categories_a_request_can_cover_are_those_a_system_holds(client):
    categories = client.get("/api/request-categories", headers=SERVICE).json()["categories"]
    assert categories["customer_service"] == ["service", "assistant"] and categories["invoices"] == ["orders"]
    assert "website_usage" not in categories  # in the knowledge base, but no connected system holds it


def test_file_repeat_and_ask_where_a_request_is(client):
    request = body(type="erasure", categories=["invoices", "store_visits"], channel="website", conversation_id="conv-1")
    first = client.post("/api/requests", json=request, headers=SERVICE)
    assert first.status_code == 201
    filed = first.json()
    assert filed["created"] and filed["status"] == "in_progress" and filed["article"] == "Art. 17"
    received = local_date(dt.datetime.fromisoformat(filed["received_at"]))  # the receipt day in Amsterdam
    assert filed["due_on"] == due_date(received).isoformat()
    assert [t["system"] for t in filed["tasks"]] == ["orders", "wifi"]
    assert [k["category"] for k in filed["kept_after_erasure"]] == ["invoices"]
    assert first.headers["cache-control"] == "no-store"

    again = client.post("/api/requests", json=request, headers=SERVICE)
    assert again.status_code == 200 and again.json()["id"] == filed["id"] and again.json()["created"] is False

    status = client.get(f"/api/requests/{filed['id']}", headers=SERVICE).json()
    assert (status["id"], status["status"], status["due_on"]) == (filed["id"], "in_progress", filed["due_on"])
    assert status["needs_attention"] == [] and status["overdue"] is False
    mine = client.get("/api/customers/C0040/requests", headers=SERVICE).json()
    assert [r["id"] for r in mine["requests"]] == [filed["id"]]
    assert client.get("/api/customers/C0041/requests", headers=SERVICE).json()["requests"] == []

    assert client.get("/api/requests/REQ-2026-NOPE", headers=SERVICE).status_code == 404
    bad = client.post("/api/requests", json=body(categories=["horoscope"]), headers=SERVICE)
    assert bad.status_code == 422 and "horoscope" in bad.json()["detail"]
    assert client.post("/api/requests", json=body(type="forget_me"), headers=SERVICE).status_code == 422
    assert client.post("/api/requests", json={**request, "customer_id": "C0041"}, headers=SERVICE).status_code == 409


@pytest.mark.parametrize("path", ["/console/privacy/requests", "/api/privacy/requests", "/console/privacy/requests/{id}",
                                  "/api/privacy/requests/{id}"])
def test_the_privacy_overview_refuses_without_a_privacy_officers_session(client, path):
    filed = client.post("/api/requests", json=body(customer_id="C0042"), headers=SERVICE).json()
    url = path.format(id=filed["id"])
    stranger = anonymous(client)
    # No session, the shared account of old (HTTP Basic), the assistant's service token: none is a privacy officer.
    for headers in ({}, {"Authorization": "Basic cHJpdmFjeTpwYXNzd29yZA=="}, SERVICE):
        response = stranger.get(url, headers=headers, follow_redirects=False)
        assert response.status_code == (401 if url.startswith("/api/") else 303)
        assert filed["id"] not in response.text and "C0042" not in response.text
    agent = anonymous(client)
    sign_in(agent, "agent", "Anna")
    assert agent.get(url).status_code == 403
    assert client.get(url).status_code == 200


def test_overview_highlights_overdue_and_due_soon_and_links_to_tasks_and_audit(client, Session, knowledge):
    today = dt.datetime.now(dt.UTC)
    filed = {}
    with Session() as s:
        for name, days_ago in (("overdue", 40), ("soon", 27), ("calm", 0)):
            f = file_request(s, "C0043", "access", None, {}, f"{name}-{uuid.uuid4().hex}", today - dt.timedelta(days=days_ago),
                             knowledge=knowledge)
            filed[name] = f.request.id

    data = client.get("/api/privacy/requests").json()
    views = {v["id"]: v for v in data["requests"]}
    assert (views[filed["overdue"]]["overdue"], views[filed["overdue"]]["due_within_7_days"]) == (True, False)
    assert (views[filed["soon"]]["overdue"], views[filed["soon"]]["due_within_7_days"]) == (False, True)
    assert (views[filed["calm"]]["overdue"], views[filed["calm"]]["due_within_7_days"]) == (False, False)
    assert views[filed["overdue"]]["needs_attention"][0].startswith("overdue since")
    assert [v["id"] for v in data["requests"]][:2] == [filed["overdue"], filed["soon"]]  # most urgent first
    assert data["counts"]["overdue"] == 1 and data["counts"]["due_within_7_days"] == 1

    page = client.get("/console/privacy/requests")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    rows = {request_id: css for css, request_id in re.findall(r'<tr class="([^"]*)" data-request="([^"]+)">', page.text)}
    assert rows == {filed["overdue"]: "overdue", filed["soon"]: "due-soon", filed["calm"]: ""}
    assert f'href="/console/privacy/requests/{filed["overdue"]}"' in page.text
    assert "due within 7 days" in page.text

    detail = client.get(f"/console/privacy/requests/{filed['overdue']}").text
    assert "System tasks" in detail and "Audit trail" in detail and "overdue" in detail
    for system in ("crm", "orders", "loyalty", "marketing", "wifi", "service", "assistant"):
        assert f"<td>{system}</td>" in detail
    as_json = client.get(f"/api/privacy/requests/{filed['overdue']}").json()
    # the e-mail receipt's entries (service/receipts.py) come and go with the mail server: left out here
    assert [a["action"] for a in as_json["audit"] if not a["action"].startswith("receipt_")] == ["filed", "status", "status"]
    assert len(as_json["tasks"]) == 7 and as_json["tasks"][0]["idempotency_key"].startswith(filed["overdue"])


def test_html_escapes_what_customers_and_systems_wrote(client, Session, knowledge):
    with Session() as s:
        f = file_request(s, "C0044", "access", ["store_visits"], {"note": "<script>alert(1)</script>"},
                         "x-" + uuid.uuid4().hex, dt.datetime.now(dt.UTC), channel="<b>web</b>", knowledge=knowledge)
    page = client.get(f"/console/privacy/requests/{f.request.id}").text
    assert "<b>web</b>" not in page and "&lt;b&gt;web&lt;/b&gt;" in page


def test_extension_moves_the_due_date_and_is_audited(client):
    filed = client.post("/api/requests", json=body(customer_id="C0045", type="erasure"), headers=SERVICE).json()
    url = f"/api/requests/{filed['id']}/extend"
    assert anonymous(client).post(url, json={"reason": "many systems"}).status_code == 401
    assert anonymous(client).post(url, json={"reason": "many systems"}, headers=SERVICE).status_code == 401
    assert client.post(url, json={}).status_code == 422
    assert client.post(url, json={"reason": "   "}).status_code == 422
    assert client.get(f"/api/requests/{filed['id']}", headers=SERVICE).json()["due_on"] == filed["due_on"]

    response = client.post(url, json={"reason": "  Your request covers six systems and eight years of orders. "})
    assert response.status_code == 200
    extended = response.json()
    received = local_date(dt.datetime.fromisoformat(filed["received_at"]))  # the receipt day in Amsterdam
    assert extended["due_on"] == extended_due_date(received).isoformat() == add_months(received, 3).isoformat()
    assert extended["original_due_on"] == filed["due_on"] and extended["extended"] is True
    assert extended["extension_reason"] == "Your request covers six systems and eight years of orders."
    entry = [e for e in extended["audit"] if not e["action"].startswith("receipt_")][-1]
    assert (entry["action"], entry["actor"], entry["from_status"], entry["to_status"]) == (
        "extension", f"privacy_officer:{officer_email(client)}", "in_progress", "in_progress")
    assert entry["reason"] == extended["extension_reason"]
    assert entry["detail"] == {"from_due_on": filed["due_on"], "to_due_on": extended["due_on"]}
    assert client.get(f"/api/requests/{filed['id']}", headers=SERVICE).json()["due_on"] == extended["due_on"]

    again = client.post(url, json={"reason": "still busy"})
    assert again.status_code == 409 and "one extension" in again.json()["detail"]
    objection = client.post("/api/requests", json=body(customer_id="C0045", type="objection_direct_marketing"), headers=SERVICE).json()
    refused = client.post(f"/api/requests/{objection['id']}/extend", json={"reason": "busy"})
    assert refused.status_code == 409 and "at once" in refused.json()["detail"]
    assert client.post("/api/requests/REQ-2026-NOPE/extend", json={"reason": "x"}).status_code == 404
    # A cross-site form cannot post it: the body must be JSON.
    assert client.post(url, content="reason=x", headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 422


def test_a_failed_task_shows_in_the_overview_and_the_team_can_retry_it(client, Session, knowledge, make_worker, systems):
    systems.fault("service", "down", count=None, retry_after=0)
    now = dt.datetime.now(dt.UTC)
    with Session() as s:
        request_id = file_request(s, "C0046", "erasure", ["customer_service"], {}, "f-" + uuid.uuid4().hex, now,
                                  knowledge=knowledge).request.id
    worker = make_worker(max_attempts=1)
    report = worker.run_once(now)
    assert (report.failed, report.done) == (1, 1)  # the service system failed; the assistant's own transcripts were erased

    view = next(v for v in client.get("/api/privacy/requests?status=open").json()["requests"] if v["id"] == request_id)
    assert view["status"] == "in_progress" and view["tasks"][0]["state"] == "failed"
    assert view["needs_attention"] and view["needs_attention"][0].startswith("service failed after 1 attempts: 503")
    assert "service failed after 1 attempts" in client.get("/console/privacy/requests").text
    assert client.get(f"/api/requests/{request_id}", headers=SERVICE).json()["needs_attention"] == view["needs_attention"]

    systems.fault("service", "ok")
    retry = f"/api/privacy/requests/{request_id}/tasks/service/retry"
    assert anonymous(client).post(retry).status_code == 401
    assert client.post(f"/api/privacy/requests/{request_id}/tasks/crm/retry").status_code == 404
    retried = client.post(retry).json()
    assert retried["tasks"][0]["state"] == "pending"
    assert [e for e in retried["audit"] if not e["action"].startswith("receipt_")][-1]["action"] == "task_retry"
    assert make_worker().run_once(dt.datetime.now(dt.UTC)).done == 1
    final = client.get(f"/api/privacy/requests/{request_id}").json()
    assert final["status"] == "fulfilled" and final["needs_attention"] == []
    assert client.post(retry).status_code == 409  # nothing failed any more
    with Session() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id).order_by(AuditEntry.id))
                   if not a.action.startswith("receipt_")]
        assert actions == ["filed", "status", "status", "task_failed", "task_done", "task_retry", "task_done", "status"]
        assert s.get(Request, request_id).closed_at is not None
