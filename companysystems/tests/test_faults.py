"""Fault injection for the product's reliability tests: only with COMPANY_SYSTEMS_FAULTS=1."""

import time

from sqlalchemy import func, select

from companysystems.app import create_app
from companysystems.config import Settings
from companysystems.db import ActionLog

from .conftest import AUTH, TOKEN


def fault(client, system, **body):
    return client.post(f"/_faults/{system}", json=body, headers=AUTH)


def export(client, system="crm"):
    return client.get(f"/systems/{system}/customers/C0001/export", headers=AUTH)


def test_not_mounted_without_the_flag(client):
    assert fault(client, "crm", mode="down").status_code == 404
    assert client.get("/_faults", headers=AUTH).status_code == 404
    assert export(client).status_code == 200


def test_flag_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPANY_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("COMPANY_SYSTEMS_FAULTS", "0")
    assert Settings.from_env().faults is False
    monkeypatch.setenv("COMPANY_SYSTEMS_FAULTS", "1")
    assert Settings.from_env().faults is True
    monkeypatch.delenv("COMPANY_SYSTEMS_FAULTS")
    assert Settings.from_env().faults is False


def test_faults_need_the_token(faulty_client):
    assert faulty_client.post("/_faults/crm", json={"mode": "down"}).status_code == 401
    assert export(faulty_client).status_code == 200


def test_down_for_the_next_n_calls_of_one_system(faulty_client):
    assert fault(faulty_client, "crm", mode="down", count=2, retry_after=3).status_code == 200
    for _ in range(2):
        assert export(faulty_client, "orders").status_code == 200, "other systems are not affected"
        response = export(faulty_client)
        assert response.status_code == 503 and response.headers["retry-after"] == "3"
    assert export(faulty_client).status_code == 200
    assert faulty_client.get("/healthz").status_code == 200


def test_429_with_retry_after(faulty_client):
    fault(faulty_client, "orders", mode="429", retry_after=7)
    response = export(faulty_client, "orders")
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert export(faulty_client, "orders").status_code == 200


def test_slow_then_answers(faulty_client):
    fault(faulty_client, "loyalty", mode="slow", delay=0.4)
    start = time.monotonic()
    assert export(faulty_client, "loyalty").status_code == 200
    assert time.monotonic() - start >= 0.4  # it waited before answering
    assert "loyalty" not in faulty_client.get("/_faults", headers=AUTH).json()  # for that one call only
    assert export(faulty_client, "loyalty").status_code == 200


def test_until_ok(faulty_client):
    fault(faulty_client, "wifi", mode="down", count=None)
    assert [export(faulty_client, "wifi").status_code for _ in range(5)] == [503] * 5
    assert faulty_client.get("/_faults", headers=AUTH).json()["wifi"]["mode"] == "down"
    fault(faulty_client, "wifi", mode="ok")
    assert export(faulty_client, "wifi").status_code == 200


def test_a_refused_call_does_nothing_and_its_retry_runs_once(faulty_client, Session):
    fault(faulty_client, "service", mode="down")
    headers = {**AUTH, "Idempotency-Key": "retry-1"}
    assert faulty_client.post("/systems/service/customers/C0001/erase", json={}, headers=headers).status_code == 503
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(ActionLog)) == 0
    fault(faulty_client, "service", mode="slow", delay=0.05)
    first = faulty_client.post("/systems/service/customers/C0001/erase", json={}, headers=headers)
    second = faulty_client.post("/systems/service/customers/C0001/erase", json={}, headers=headers)
    assert first.status_code == 200 and first.json() == second.json()
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(ActionLog)) == 1


def test_bad_fault_requests(faulty_client):
    assert fault(faulty_client, "billing", mode="down").status_code == 422
    assert fault(faulty_client, "crm", mode="explode").status_code == 422
    assert fault(faulty_client, "crm", mode="down", count=0).status_code == 422


def test_documented_contract_is_the_same_with_faults_on(database_url):
    plain = create_app(Settings(database_url=database_url, token=TOKEN)).openapi()
    assert create_app(Settings(database_url=database_url, token=TOKEN, faults=True)).openapi() == plain
