"""Erasure: exactly once per idempotency key, and what tax law makes us keep is kept and said."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from companysystems.data_operations import SYSTEMS, retained_until
from companysystems.db import ActionLog, IdempotencyRecord, Order, StoreVisit

from .conftest import AUTH


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def actions(Session, **where) -> int:
    with Session() as s:
        return s.scalar(select(func.count()).select_from(ActionLog).filter_by(**where))


def erase(client, system, customer, key, categories=None):
    return client.post(
        f"/systems/{system}/customers/{customer}/erase", json={"categories": categories}, headers={**AUTH, "Idempotency-Key": key}
    )


def test_same_key_twice_runs_once_and_answers_the_same(client, Session):
    first = erase(client, "orders", "C0001", "req-1:orders")
    second = erase(client, "orders", "C0001", "req-1:orders")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert (first.headers["idempotent-replayed"], second.headers["idempotent-replayed"]) == ("false", "true")
    assert actions(Session, system="orders", customer_id="C0001", operation="erase") == 1


def test_key_reused_for_another_request_is_refused(client, Session):
    assert erase(client, "crm", "C0004", "req-2", ["account"]).status_code == 200
    other = erase(client, "crm", "C0004", "req-2", ["contact_details"])
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    assert erase(client, "crm", "C0005", "req-2", ["account"]).status_code == 422
    assert actions(Session) == 1
    assert client.get("/systems/crm/customers/C0004/export", headers=AUTH).json()["categories"]["contact_details"], (
        "contact details untouched"
    )


def test_keys_are_per_system(client, Session):
    assert erase(client, "crm", "C0001", "req-3", ["account"]).json()["erased"] == {"account": 1}
    assert erase(client, "loyalty", "C0001", "req-3", ["loyalty"]).json()["erased"] == {"loyalty": 1}
    assert actions(Session) == 2


def test_idempotency_key_is_required(client, Session):
    response = client.post("/systems/service/customers/C0001/erase", json={"categories": None}, headers=AUTH)
    assert response.status_code == 422 and "Idempotency-Key" in response.text
    assert actions(Session) == 0
    assert client.get("/systems/service/customers/C0001/export", headers=AUTH).json()["categories"]["customer_service"]


def test_concurrent_retries_with_one_key_run_once(systems, Session):
    """A worker that timed out and retried while the first call still runs: one action, one answer."""
    results, errors = [], []

    def call() -> None:
        try:
            results.append(systems.erase("service", "C0001", None, "req-race"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len({str(r.result) for r in results}) == 1 and [r.replayed for r in results].count(False) == 1
    assert actions(Session, operation="erase") == 1
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_young_invoices_are_kept_with_the_reason(client):
    before = client.get("/systems/orders/customers/C0001/export", headers=AUTH).json()["categories"]["invoices"]
    young = [i for i in before if dt.date.fromisoformat(i["retained_until"]) > today()]
    old = [i for i in before if i not in young]
    assert young and old, "C0001 has invoices on both sides of 7 years"

    body = erase(client, "orders", "C0001", "req-4", ["invoices"]).json()
    assert body["status"] == "done" and body["erased"] == {"invoices": len(old)}
    [kept] = body["kept"]
    assert kept["category"] == "invoices" and kept["count"] == len(young)
    assert "7 years" in kept["reason"] and "52 AWR" in kept["reason"]
    assert kept["retained_until"] == max(i["retained_until"] for i in young)

    after = client.get("/systems/orders/customers/C0001/export", headers=AUTH).json()["categories"]
    assert [i["invoice_number"] for i in after["invoices"]] == [i["invoice_number"] for i in young]
    assert len(after["purchase_history"]) == len(before), "only invoices were asked for"


def test_orders_are_anonymised_where_no_invoice_needs_them(client, Session):
    before = client.get("/systems/orders/customers/C0001/export", headers=AUTH).json()["categories"]
    body = erase(client, "orders", "C0001", "req-5").json()
    needed = {i["order_number"] for i in before["invoices"] if dt.date.fromisoformat(i["retained_until"]) > today()}
    assert body["erased"]["purchase_history"] == len(before["purchase_history"]) - len(needed)
    kept = {k["category"]: k for k in body["kept"]}
    assert kept["purchase_history"]["count"] == len(needed) and set(kept) == {"invoices", "purchase_history", "payment_details"}

    after = client.get("/systems/orders/customers/C0001/export", headers=AUTH).json()["categories"]
    assert {o["order_number"] for o in after["purchase_history"]} == needed
    assert all(o["delivery_name"] is None and o["delivery_address"] is None for o in after["purchase_history"])
    assert all(p["kind"] == "payment" for p in after["payment_details"]), "the refund IBAN is gone"
    with Session() as s:
        unlinked = s.scalars(
            select(Order).where(
                Order.order_number.in_([o["order_number"] for o in before["purchase_history"]]), Order.customer_id.is_(None)
            )
        ).all()
    assert len(unlinked) == len(before["purchase_history"]) - len(needed)
    assert all(o.anonymised_at is not None and o.delivery_address is None for o in unlinked)


@pytest.mark.parametrize("customer", ["C0001", "C0002", "C0003", "C0010", "C0023", "C0042"])
def test_everything_exported_is_erased_or_kept(client, customer):
    """Per category: records erased + records kept (with a reason) = records the export listed."""
    for system, categories in SYSTEMS.items():
        before = client.get(f"/systems/{system}/customers/{customer}/export", headers=AUTH).json()["categories"]
        body = erase(client, system, customer, f"all:{system}:{customer}").json()
        kept = {k["category"]: k["count"] for k in body["kept"]}
        assert list(body["erased"]) == list(categories)
        for category in categories:
            assert body["erased"][category] + kept.get(category, 0) == len(before[category]), (system, category)
        after = client.get(f"/systems/{system}/customers/{customer}/export", headers=AUTH).json()["categories"]
        for category in categories:
            assert len(after[category]) == kept.get(category, 0), (system, category)


def test_after_erasure_the_customer_is_not_found_by_email_and_a_new_erase_is_harmless(client):
    email = client.get("/systems/crm/customers/C0001/export", headers=AUTH).json()["categories"]["contact_details"][0]["email"]
    assert erase(client, "crm", "C0001", "req-6").json()["erased"] == {"contact_details": 1, "account": 1}
    assert client.get("/systems/crm/customers/lookup", params={"email": email}, headers=AUTH).status_code == 404
    again = erase(client, "crm", "C0001", "req-7")
    assert again.status_code == 200 and again.json()["erased"] == {"contact_details": 0, "account": 0}


def test_wifi_erasure_keeps_other_visitors(client, Session):
    with Session() as s:
        total = s.scalar(select(func.count()).select_from(StoreVisit))
    visits = [
        v
        for v in client.get("/systems/wifi/customers/C0001/export", headers=AUTH).json()["categories"]["store_visits"]
        if v["kind"] == "visit"
    ]
    erase(client, "wifi", "C0001", "req-8")
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(StoreVisit)) == total - len(visits)


def test_restrict_marks_and_is_idempotent(client, Session):
    headers = {**AUTH, "Idempotency-Key": "req-9"}
    first = client.post("/systems/loyalty/customers/C0001/restrict", json={"categories": ["profile_segments"]}, headers=headers)
    second = client.post("/systems/loyalty/customers/C0001/restrict", json={"categories": ["profile_segments"]}, headers=headers)
    assert first.json() == second.json() and first.json()["restricted"][0]["category"] == "profile_segments"
    assert actions(Session, operation="restrict") == 1
    export = client.get("/systems/loyalty/customers/C0001/export", headers=AUTH).json()
    assert export["restricted"] == first.json()["restricted"] and export["categories"]["profile_segments"], (
        "restricted data is stored, still exported"
    )
    # A second request (new key) for all categories keeps the first date.
    both = client.post("/systems/loyalty/customers/C0001/restrict", json={}, headers={**AUTH, "Idempotency-Key": "req-10"}).json()
    assert [r["category"] for r in both["restricted"]] == ["loyalty", "profile_segments"]
    assert both["restricted"][1]["since"] == first.json()["restricted"][0]["since"]
    # Once erased, nothing is left to restrict.
    erase(client, "loyalty", "C0001", "req-11", ["profile_segments"])
    assert [r["category"] for r in client.get("/systems/loyalty/customers/C0001/export", headers=AUTH).json()["restricted"]] == [
        "loyalty"
    ]


def test_retention_date_of_a_leap_day():
    assert retained_until(dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)) == dt.date(2031, 2, 28)
