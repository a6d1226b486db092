"""The contract's read side, authentication and errors, over HTTP."""

import pytest

from companysystems.data_operations import FIELDS, OPERATIONS, PREFERENCES, RECTIFIABLE, SYSTEMS

from .conftest import AUTH


def test_health_needs_no_token(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_catalogue_names_each_systems_categories(client):
    body = client.get("/systems", headers=AUTH).json()
    assert {s["system"]: s["categories"] for s in body["systems"]} == {k: list(v) for k, v in SYSTEMS.items()}


def test_catalogue_names_each_systems_operations(client):
    """The back office checks its own system catalogue against this answer when it starts."""
    catalogue = {s["system"]: s for s in client.get("/systems", headers=AUTH).json()["systems"]}
    assert {name: s["operations"] for name, s in catalogue.items()} == {k: list(v) for k, v in OPERATIONS.items()}
    assert catalogue["crm"] == {
        "system": "crm",
        "categories": ["contact_details", "account"],
        "operations": ["lookup", "export", "erase", "restrict", "rectify", "stop_processing"],
        "rectifiable_fields": list(RECTIFIABLE["crm"]),
        "preferences": [],
        "fields": {category: list(FIELDS[category]) for category in ("contact_details", "account")},
    }
    assert catalogue["marketing"]["operations"] == ["export", "erase", "restrict", "preferences", "stop_processing"]
    assert catalogue["marketing"]["preferences"] == list(PREFERENCES)
    for name, system in catalogue.items():
        assert {"export", "erase", "restrict", "stop_processing"} <= set(system["operations"]), name
        assert bool(system["rectifiable_fields"]) == ("rectify" in system["operations"]), name
        assert bool(system["preferences"]) == ("preferences" in system["operations"]), name


def test_the_fields_listed_are_the_fields_every_export_holds(client):
    """`GET /systems` lists per category the fields its exports hold, and the back office checks those
    against the register at start: over every seeded customer, each field listed is exported and
    nothing is exported that is not listed."""
    listed = {s["system"]: s["fields"] for s in client.get("/systems", headers=AUTH).json()["systems"]}
    exported: dict[str, set[str]] = {category: set() for category in FIELDS}
    for number in range(1, 10_000):
        answers = [client.get(f"/systems/{system}/customers/C{number:04d}/export", headers=AUTH) for system in SYSTEMS]
        if all(answer.status_code == 404 for answer in answers):
            break
        for answer in answers:
            for category, records in answer.json().get("categories", {}).items():
                for record in records:
                    exported[category] |= set(record)
    assert {category: set(fields) for s in listed.values() for category, fields in s.items()} == exported


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic dGVzdDp0ZXN0"}, {"Authorization": "test-systems-token"}],
)
def test_token_required(client, headers):
    calls = [
        ("GET", "/systems", None),
        ("GET", "/systems/crm/customers/lookup?email=x@example.nl", None),
        ("GET", "/systems/orders/customers/C0001/export", None),
        ("POST", "/systems/orders/customers/C0001/erase", {}),
        ("POST", "/systems/loyalty/customers/C0001/restrict", {}),
        ("POST", "/systems/crm/customers/C0001/rectify", {"field": "phone", "value": "+31 6 1111 2222"}),
        ("PUT", "/systems/marketing/customers/C0001/preferences", {"newsletter": False}),
    ]
    for method, path, body in calls:
        response = client.request(method, path, json=body, headers={**headers, "Idempotency-Key": "k"})
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    # Nothing happened.
    consents = client.get("/systems/marketing/customers/C0001/export", headers=AUTH).json()["categories"]["marketing_preferences"]
    assert consents[0]["granted"] is True


def test_lookup_by_email(client):
    email = client.get("/systems/crm/customers/C0007/export", headers=AUTH).json()["categories"]["contact_details"][0]["email"]
    assert client.get("/systems/crm/customers/lookup", params={"email": email}, headers=AUTH).json() == {"customer_id": "C0007"}
    assert client.get("/systems/crm/customers/lookup", params={"email": f"  {email.upper()} "}, headers=AUTH).json() == {
        "customer_id": "C0007"
    }
    assert client.get("/systems/crm/customers/lookup", params={"email": "nobody@example.nl"}, headers=AUTH).status_code == 404
    assert client.get("/systems/orders/customers/lookup", params={"email": email}, headers=AUTH).status_code == 404  # crm only


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_export_per_system(client, system):
    body = client.get(f"/systems/{system}/customers/C0001/export", headers=AUTH).json()
    assert body["system"] == system and body["customer_id"] == "C0001" and body["restricted"] == []
    assert list(body["categories"]) == list(SYSTEMS[system])
    assert all(isinstance(records, list) and records for records in body["categories"].values())


def test_export_records_are_machine_readable(client):
    orders = client.get("/systems/orders/customers/C0001/export", headers=AUTH).json()["categories"]
    order = orders["purchase_history"][0]
    assert order["currency"] == "EUR" and isinstance(order["total_cents"], int) and order["lines"][0]["sku"].startswith("VLT-")
    assert order["ordered_at"].endswith("Z")
    invoice = orders["invoices"][0]
    assert {"invoice_number", "issued_at", "billing_name", "billing_address", "lines", "vat_cents", "retained_until"} <= set(
        invoice
    )
    kinds = {p["kind"] for p in orders["payment_details"]}
    assert kinds == {"payment", "refund_account"}
    refund = next(p for p in orders["payment_details"] if p["kind"] == "refund_account")
    assert refund["iban"].startswith("NL")
    loyalty = client.get("/systems/loyalty/customers/C0001/export", headers=AUTH).json()["categories"]["loyalty"][0]
    assert loyalty["points_balance"] == sum(t["points"] for t in loyalty["transactions"])
    visits = client.get("/systems/wifi/customers/C0001/export", headers=AUTH).json()["categories"]["store_visits"]
    device = next(v for v in visits if v["kind"] == "device")
    assert all(len(v["mac_hash"]) == 64 for v in visits) and any(
        v["kind"] == "visit" and v["mac_hash"] == device["mac_hash"] for v in visits
    )
    service = client.get("/systems/service/customers/C0001/export", headers=AUTH).json()["categories"]["customer_service"]
    assert all(t["notes"] for t in service)


def test_customer_without_data_in_a_system_gets_empty_lists(client):
    body = client.get("/systems/loyalty/customers/C0002/export", headers=AUTH).json()
    assert body["categories"] == {"loyalty": [], "profile_segments": []}


def test_unknown_customer_is_404_everywhere(client):
    headers = {**AUTH, "Idempotency-Key": "unknown-1"}
    for system in SYSTEMS:
        assert client.get(f"/systems/{system}/customers/C9999/export", headers=AUTH).status_code == 404
        assert (
            client.post(f"/systems/{system}/customers/C9999/erase", json={"categories": None}, headers=headers).status_code == 404
        )
        assert (
            client.post(f"/systems/{system}/customers/C9999/restrict", json={"categories": None}, headers=headers).status_code
            == 404
        )
    assert (
        client.post(
            "/systems/crm/customers/C9999/rectify", json={"field": "phone", "value": "+31 6 1111 2222"}, headers=headers
        ).status_code
        == 404
    )
    response = client.put("/systems/marketing/customers/C9999/preferences", json={"newsletter": False}, headers=headers)
    assert response.status_code == 404 and response.json() == {"detail": "no customer 'C9999'"}
    # A 404 stores nothing: the key is still free for a real customer.
    assert client.post("/systems/crm/customers/C0001/erase", json={"categories": ["account"]}, headers=headers).status_code == 200


def test_unknown_system_and_wrong_category(client):
    assert client.get("/systems/billing/customers/C0001/export", headers=AUTH).status_code == 404
    response = client.post(
        "/systems/crm/customers/C0001/erase", json={"categories": ["invoices"]}, headers={**AUTH, "Idempotency-Key": "k"}
    )
    assert response.status_code == 422 and "invoices" in response.text
    assert (
        client.post(
            "/systems/crm/customers/C0001/erase", json={"categories": [], "x": 1}, headers={**AUTH, "Idempotency-Key": "k"}
        ).status_code
        == 422
    )
