"""/metrics of the back office: the figures an operator alerts on, counted in the database at each
scrape (so every replica answers the same), and the HTTP latency by route template."""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from backoffice.app import create_app
from backoffice.handoff.tables import QueueEntry
from backoffice.requests.service.filing import file_request

from .conftest import SERVICE_TOKEN, samples, settings_for

DAY = dt.timedelta(days=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def client(ledger_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(ledger_url))) as c:
        yield c


def scrape(client: TestClient, **headers: str) -> dict[str, float]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


def file(Session, knowledge, customer_id: str, type_: str, received: dt.datetime):
    with Session() as s:
        return file_request(s, customer_id, type_, None, {}, f"ops-{uuid.uuid4().hex}", received, knowledge=knowledge)


def test_the_pending_tasks_go_up_when_a_request_is_filed_and_down_once_the_worker_delivers(
        client, Session, knowledge, make_worker, systems):
    before = scrape(client)
    assert before["backoffice_database_up"] == 1
    assert before["backoffice_outbox_tasks_pending"] == 0 and before["backoffice_outbox_oldest_pending_task_age_seconds"] == 0

    filed = file(Session, knowledge, "C0031", "erasure", now() - dt.timedelta(hours=2))
    tasks = len(filed.tasks)
    assert tasks >= 2
    filed_now = scrape(client)
    assert filed_now["backoffice_outbox_tasks_pending"] == tasks
    assert 2 * 3600 <= filed_now["backoffice_outbox_oldest_pending_task_age_seconds"] < 3 * 3600
    assert filed_now["backoffice_privacy_requests_open"] == 1

    report = make_worker().run_once(now())  # against the real demo company systems
    assert (report.done, report.failed) == (tasks, 0)
    delivered = scrape(client)
    assert delivered["backoffice_outbox_tasks_pending"] == 0
    assert delivered["backoffice_outbox_oldest_pending_task_age_seconds"] == 0
    assert delivered["backoffice_outbox_tasks_failed"] == 0
    assert delivered["backoffice_privacy_requests_open"] == 0  # fulfilled


def test_a_task_that_fails_for_good_is_counted_failed(client, Session, knowledge, make_worker, systems):
    systems.fault("crm", "down", count=None, retry_after=0)
    file(Session, knowledge, "C0032", "access", now())
    make_worker(max_attempts=1).run_once(now())  # one attempt: the CRM's task fails for good, the others are delivered
    figures = scrape(client)
    assert figures["backoffice_outbox_tasks_failed"] == 1
    assert figures["backoffice_outbox_tasks_pending"] == 0


def test_overdue_and_soon_due_requests_by_the_ledgers_deadline_rules(client, Session, knowledge):
    # One month from receipt (Art. 12(3)): received 40 days ago is overdue, 26 days ago due within the week.
    file(Session, knowledge, "C0033", "access", now() - 40 * DAY)
    file(Session, knowledge, "C0034", "access", now() - 26 * DAY)
    file(Session, knowledge, "C0035", "access", now())
    figures = scrape(client)
    assert figures["backoffice_privacy_requests_open"] == 3
    assert figures["backoffice_privacy_requests_overdue"] == 1
    assert figures["backoffice_privacy_requests_due_within_7_days"] == 1


def test_the_handoff_queue_and_its_longest_wait(client, Session):
    assert scrape(client)["backoffice_handoff_queue_waiting"] == 0
    with Session() as s:
        for minutes, state in ((7, "waiting"), (2, "waiting"), (30, "claimed"), (60, "closed")):
            s.add(QueueEntry(id=f"Q-{uuid.uuid4().hex[:12]}", conversation_id=uuid.uuid4().hex, channel="website", language="en",
                             reason="asked_for_person", summary={}, state=state, created_at=now() - dt.timedelta(minutes=minutes)))
        s.commit()
    figures = scrape(client)
    assert figures["backoffice_handoff_queue_waiting"] == 2
    assert 7 * 60 <= figures["backoffice_handoff_queue_longest_wait_seconds"] < 8 * 60


def test_latency_is_labelled_by_route_template_never_by_the_path(client, Session, knowledge):
    filed = file(Session, knowledge, "C0036", "access", now())
    conversation = f"whatsapp-3161234{uuid.uuid4().int % 10_000:04d}"
    assert client.get(f"/api/requests/{filed.request.id}", headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}).status_code == 200
    client.get(f"/api/identity/conversations/{conversation}")  # refused without the service token: still counted
    client.get(f"/no/such/page/{conversation}")
    answer = client.get("/metrics")
    figures = samples(answer.text)
    assert figures['backoffice_http_request_duration_seconds_count{method="GET",route="/api/requests/{request_id}",status="2xx"}'] == 1
    assert figures['backoffice_http_request_duration_seconds_count{method="GET",route="unmatched",status="4xx"}'] == 1
    assert any('route="/api/identity/conversations/{conversation_id}"' in name for name in figures)
    assert filed.request.id not in answer.text and conversation not in answer.text


def test_metrics_token_when_set(ledger_url):
    token = "metrics-" + uuid.uuid4().hex
    with TestClient(create_app(settings_for(ledger_url, metrics_token=token))) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = c.get("/metrics", headers=headers)
            assert refused.status_code == 401 and "backoffice_" not in refused.text
        assert "backoffice_database_up" in scrape(c, Authorization=f"Bearer {token}")
        assert c.get("/health/ready").status_code == 200  # the probes need no token
