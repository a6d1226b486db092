"""Marketing preferences (effective at once) and rectification in the CRM."""

from .conftest import AUTH


def put_preferences(client, customer, body, key):
    return client.put(f"/systems/marketing/customers/{customer}/preferences", json=body, headers={**AUTH, "Idempotency-Key": key})


def preferences(client, customer) -> dict:
    export = client.get(f"/systems/marketing/customers/{customer}/export", headers=AUTH).json()
    return {r["purpose"]: r for r in export["categories"]["marketing_preferences"]}


def test_objection_takes_effect_at_once(client):
    assert preferences(client, "C0001")["newsletter"]["granted"] is True
    response = put_preferences(client, "C0001", {"newsletter": False, "personalised_offers": False}, "obj-1")
    assert response.status_code == 200
    body = response.json()["preferences"]
    assert body["newsletter"]["granted"] is False and body["personalised_offers"]["granted"] is False
    assert body["wifi_counting"]["granted"] is True, "untouched"
    now = preferences(client, "C0001")  # the very next read
    assert now["newsletter"]["granted"] is False and now["newsletter"]["changed_at"] == body["newsletter"]["changed_at"]
    assert now["newsletter"]["source"] == "privacy request"


def test_preferences_are_idempotent(client, Session):
    from sqlalchemy import func, select

    from companysystems.db import ActionLog

    first = put_preferences(client, "C0002", {"wifi_counting": True}, "pref-2")
    second = put_preferences(client, "C0002", {"wifi_counting": True}, "pref-2")
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    assert first.json()["preferences"]["newsletter"] == {"granted": False, "changed_at": None}, "never given means not granted"
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(ActionLog).where(ActionLog.operation == "preferences")) == 1


def test_bad_preferences(client):
    assert put_preferences(client, "C0001", {}, "pref-3").status_code == 422
    assert put_preferences(client, "C0001", {"sms": True}, "pref-4").status_code == 422
    assert put_preferences(client, "C0001", {"newsletter": "maybe"}, "pref-5").status_code == 422
    assert client.put(
        "/systems/crm/customers/C0001/preferences", json={"newsletter": False}, headers={**AUTH, "Idempotency-Key": "p"}
    ).status_code in (404, 405)


def rectify(client, customer, field, value, key):
    return client.post(
        f"/systems/crm/customers/{customer}/rectify",
        json={"field": field, "value": value},
        headers={**AUTH, "Idempotency-Key": key},
    )


def contact(client, customer) -> dict:
    return client.get(f"/systems/crm/customers/{customer}/export", headers=AUTH).json()["categories"]["contact_details"][0]


def test_rectify_email(client):
    old = contact(client, "C0001")["email"]
    response = rectify(client, "C0001", "email", "Noor.Nieuw@Example.nl", "rect-1")
    assert response.status_code == 200 and response.json()["value"] == "noor.nieuw@example.nl"
    assert client.get("/systems/crm/customers/lookup", params={"email": "noor.nieuw@example.nl"}, headers=AUTH).json() == {
        "customer_id": "C0001"
    }
    assert contact(client, "C0001")["email"] == "noor.nieuw@example.nl"
    # The login name is the account's own; the old address still finds the account.
    assert client.get("/systems/crm/customers/lookup", params={"email": old}, headers=AUTH).json() == {"customer_id": "C0001"}


def test_rectify_name_address_phone(client):
    assert rectify(client, "C0005", "name", "Anne Marie van der Berg", "rect-2").json()["value"] == {
        "first_name": "Anne",
        "last_name": "Marie van der Berg",
    }
    assert (
        rectify(client, "C0005", "name", {"first_name": "Anne Marie", "last_name": "van der Berg"}, "rect-3").status_code == 200
    )
    address = {"street": "Oudegracht", "house_number": "12a", "postcode": "3511ab", "city": "Utrecht"}
    assert rectify(client, "C0005", "address", address, "rect-4").json()["value"]["postcode"] == "3511 AB"
    assert rectify(client, "C0005", "phone", "+31 6 1234 5678", "rect-5").status_code == 200
    now = contact(client, "C0005")
    assert (now["first_name"], now["last_name"], now["address"]["street"], now["address"]["country"], now["phone"]) == (
        "Anne Marie",
        "van der Berg",
        "Oudegracht",
        "NL",
        "+31 6 1234 5678",
    )


def test_bad_rectifications(client):
    other = contact(client, "C0002")["email"]
    assert rectify(client, "C0001", "email", other, "rect-6").status_code == 409
    assert rectify(client, "C0001", "email", "not-an-email", "rect-7").status_code == 422
    assert (
        rectify(
            client, "C0001", "address", {"street": "X", "house_number": "1", "postcode": "12345", "city": "Y"}, "rect-8"
        ).status_code
        == 422
    )
    assert rectify(client, "C0001", "date_of_birth", "1990-01-01", "rect-9").status_code == 422
    assert rectify(client, "C0001", "phone", "call me", "rect-10").status_code == 422
    assert client.post(
        "/systems/orders/customers/C0001/rectify", json={"field": "name", "value": "X"}, headers={**AUTH, "Idempotency-Key": "r"}
    ).status_code in (404, 405)
    client.post(
        "/systems/crm/customers/C0003/erase",
        json={"categories": ["contact_details"]},
        headers={**AUTH, "Idempotency-Key": "rect-11"},
    )
    assert rectify(client, "C0003", "phone", "+31 6 1234 5678", "rect-12").status_code == 409


def stop(client, system, customer, body, key):
    url = f"/systems/{system}/customers/{customer}/stop_processing"
    return client.post(url, json=body, headers={**AUTH, "Idempotency-Key": key})


def test_an_upheld_objection_stops_that_processing_only(client):
    """Art. 21(1): the named purpose stops for the categories it uses here; nothing is restricted or erased."""
    before = client.get("/systems/orders/customers/C0003/export", headers=AUTH).json()
    body = {"purpose": "fraud_prevention", "categories": ["payment_details", "purchase_history"]}
    first = stop(client, "orders", "C0003", body, "stop-1")
    assert first.status_code == 200, first.text
    assert first.json()["stopped_processing"]["purpose"] == "fraud_prevention"
    assert stop(client, "orders", "C0003", body, "stop-1").headers["idempotent-replayed"] == "true"
    after = client.get("/systems/orders/customers/C0003/export", headers=AUTH).json()
    assert after["stopped_processing"] == [{"purpose": "fraud_prevention", "categories": ["purchase_history", "payment_details"],
                                           "since": first.json()["stopped_processing"]["since"]}]
    assert after["restricted"] == [] and after["categories"] == before["categories"], "the data stays, only that use stops"
    assert client.get("/systems/crm/customers/C0003/export", headers=AUTH).json()["stopped_processing"] == []


def test_bad_stops(client):
    assert stop(client, "orders", "C0003", {"purpose": "Fraud!"}, "stop-bad-1").status_code == 422
    assert stop(client, "orders", "C0003", {"purpose": "fraud_prevention", "categories": ["contact_details"]},
                "stop-bad-2").status_code == 422  # the CRM holds that, not orders
    assert stop(client, "orders", "C9999", {"purpose": "fraud_prevention"}, "stop-bad-3").status_code == 404
