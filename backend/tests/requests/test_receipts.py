"""The e-mail receipt of a filed request: through the real mail sink, from the real back office, to
the address the real company systems have; a mail server that is down never loses the request."""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from backoffice.requests.service.receipts import long_date
from backoffice.requests.tables import AuditEntry
from backoffice.sentences import words

from ..identity.conftest import (  # noqa: F401 (fixtures)
    SERVICE,
    clock,
    company,
    company_process,
    free_port,
    make_settings,
    sink,
    sink_process,
)
from .conftest import eventually

ROUNDS = 10  # of the race below

SUBJECT = {lang: words(lang, "back_office.receipt_email.subject") for lang in ("nl", "en")}


def audit_actions(db_url: str, request_id: str) -> list[tuple[str, str | None]]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        found = [(e.action, e.reason) for e in session.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id)
                                                                .order_by(AuditEntry.id))]
    engine.dispose()
    return found


def file(client: TestClient, customer: str, kind: str, language: str | None = None) -> dict:
    details = {"language": language} if language else {}
    response = client.post("/api/requests", headers=SERVICE, json={
        "customer_id": customer, "type": kind, "details": details, "client_request_id": f"receipt-{uuid.uuid4()}"})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_filed_request_sends_an_e_mail_receipt_in_the_customers_language(db_url, company, sink, clock):
    with TestClient(create_app(make_settings(db_url, company, sink), clock=clock)) as client:
        english = file(client, "C0003", "access", "en")
        dutch = file(client, "C0004", "erasure")
        sent_en = sink.wait_for(company.email_of("C0003"), subject=SUBJECT["en"].format(request=english["id"]))[0]["text"]
        sent_nl = sink.wait_for(company.email_of("C0004"), subject=SUBJECT["nl"].format(request=dutch["id"]))[0]["text"]
    assert f"Request number: {english['id']}" in sent_en and "access to and a copy of your data (GDPR Art. 15)" in sent_en
    assert f"Completed by: {long_date(dt.date.fromisoformat(english['due_on']), 'en')}" in sent_en and "privacy@voltera.nl" in sent_en
    assert f"Verzoeknummer: {dutch['id']}" in sent_nl and "verwijdering van je gegevens (AVG art. 17)" in sent_nl
    assert f"Uiterlijk afgehandeld op: {long_date(dt.date.fromisoformat(dutch['due_on']), 'nl')}" in sent_nl
    assert "waar staat mijn verzoek?" in sent_nl
    assert [a for a, _ in audit_actions(db_url, english["id"])].count("receipt_sent") == 1


def test_a_receipt_that_cannot_go_out_is_recorded_and_sent_when_the_mail_server_is_back(db_url, company, sink, clock, caplog):
    """The request is filed whatever the mail does; the failure is on the request's audit trail the
    privacy team reads and in the log, and the receipt goes out once the mail server answers again."""
    down = make_settings(db_url, company, sink, smtp_port=free_port())
    with caplog.at_level("WARNING"), TestClient(create_app(down, clock=clock)) as client:
        filed = file(client, "C0005", "restriction", "en")
        receipts = client.app.state.receipts  # type: ignore[attr-defined]
        assert receipts.sweep() == 0
        assert client.get(f"/api/requests/{filed['id']}", headers=SERVICE).json()["id"] == filed["id"]
        # the back office's own sweep may hold the request (this sweep then leaves it): its line comes when it is done
        actions = eventually(lambda: audit_actions(db_url, filed["id"]), 30, "receipt_not_sent on the request's trail",
                             until=lambda found: "receipt_not_sent" in [a for a, _ in found])
        assert [a for a, _ in actions].count("receipt_not_sent") == 1 and "receipt_sent" not in [a for a, _ in actions]
        assert any(filed["id"] in r.getMessage() and "could not go out" in r.getMessage() for r in caplog.records)
        receipts.smtp = dataclasses.replace(receipts.smtp, port=sink.port)
        receipts.sweep()
        sent = sink.wait_for(company.email_of("C0005"), subject=SUBJECT["en"].format(request=filed["id"]))
        assert receipts.sweep() == 0  # sent once
    assert len(sent) == 1 and filed["id"] in sent[0]["text"]
    assert [a for a, _ in audit_actions(db_url, filed["id"])].count("receipt_sent") == 1


def test_two_back_offices_failing_to_send_one_receipt_at_once_record_it_once(db_url, company, sink, clock):
    """Each back office sweeps the receipts; with the mail server down, two may fail on one request in
    the same moment. Both are released together to record it, ROUNDS times: the request's row lock
    makes the second read the first's line (without it, the trail has two)."""
    down = make_settings(db_url, company, sink, smtp_port=free_port())
    back_offices = [create_app(down, clock=clock) for _ in range(2)]  # not started: no sweep of their own runs
    for _ in range(ROUNDS):
        filed = file(TestClient(back_offices[0]), "C0006", "access", "en")
        together = threading.Barrier(2, timeout=30)
        failed: list[str] = []

        def record(receipts, request_id=filed["id"], together=together, failed=failed) -> None:
            try:
                together.wait()
                receipts._not_sent(request_id, "ConnectionRefusedError: the mail server is down", clock())
            except Exception as exc:  # reported below: an exception in a thread would otherwise pass silently
                failed.append(repr(exc))

        threads = [threading.Thread(target=record, args=(app.state.receipts,)) for app in back_offices]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failed == []
        assert [a for a, _ in audit_actions(db_url, filed["id"])].count("receipt_not_sent") == 1
