"""A verified customer sees their own data in the chat, and why (Art. 15), on SQLite and PostgreSQL,
with the real company systems and a tracker store written the way Rasa writes it."""
from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session as OrmSession

from backoffice import catalogue
from backoffice.my_data.tables import ExportLink
from backoffice.sentences import words

from .conftest import SERVICE, bind, local, make_settings, new_conversation, routes


def my_data(client, conversation_id, **params):
    return client.get(f"/api/conversations/{conversation_id}/my-data", params=params, headers=SERVICE)


def test_shows_the_verified_customers_data_with_purposes_legal_basis_and_retention(client, clock, tracker, company, kb):
    conversation = new_conversation()
    bind(client, clock, conversation, "C0001")
    tracker.say(conversation, ("user", "What do you know about me?"), ("bot", "Let me look that up for you."))

    response = my_data(client, conversation, language="en")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    version = kb.current()
    assert (data["customer_id"], data["knowledge_version"], data["language"]) == ("C0001", version.version.id, "en")

    # The categories with records, in the knowledge base's order; every other category is listed as empty
    # or as one no connected system can speak for.
    held = [c["id"] for c in data["categories"]]
    assert held == [c.id for c in version.categories if c.id in held]
    assert sorted(held + data["empty_categories"] + data["not_in_connected_systems"]) == sorted(c.id for c in version.categories)
    held_by_no_system = [c.id for c in version.categories if c.id not in catalogue.load().categories]
    assert data["not_in_connected_systems"] == held_by_no_system == ["website_usage"]
    # ... each with its name in the customer's language, for the assistant to say instead of the id.
    assert data["category_names"] == {c.id: c.name.en for c in version.categories}
    assert data["category_names"]["store_visits"] == "store visits (Wi-Fi counting)"

    contact = company.contact("C0001")
    details = next(c for c in data["categories"] if c["id"] == "contact_details")
    category = version.category("contact_details")
    assert details["label"] == category.name.en == "contact details"
    assert details["records"] == 1 and details["records_by_system"] == {"crm": 1}
    assert contact["email"] in details["preview"][0] and contact["first_name"] in details["preview"][0]
    assert f"first name: {contact['first_name']}" in details["preview"][0]
    assert f"e-mail address: {contact['email']}" in details["preview"][0]
    # Whole values only: a long record ends after its last whole value, with "; …".
    assert all("…" not in line or line.endswith("; …") for c in data["categories"] for line in c["preview"])
    assert {"id": "order_fulfilment", "label": "handling your orders", "legal_basis": "performance of a contract",
            "legal_basis_explained": version.purposes[0].legal_basis_explained.en} in details["purposes"]
    assert [p["id"] for p in details["purposes"]] == [p.id for p in version.purposes_for("contact_details")]
    assert {p["legal_basis"] for p in details["purposes"]} >= {"performance of a contract", "consent", "legal obligation"}
    assert details["retention"] == category.retention.period.en
    assert details["source"] == category.source.en
    assert details["kept_after_erasure"] == category.kept_after_erasure.en
    assert "PostNL" in details["recipients"] and len(details["recipients"]) == len(set(details["recipients"]))

    # The chats with this assistant are customer service contacts too (the knowledge base says so).
    service = next(c for c in data["categories"] if c["id"] == "customer_service")
    assert service["records_by_system"]["assistant"] == 1
    assert any(line.startswith("Conversation with the chat assistant on 31 January 2026, 2 messages") for line in service["preview"])
    assert data["conversations"] == {"count": 1, "messages": 2, "shared_left_out": 0}

    # Art. 15's general facts, from the knowledge base.
    assert data["complaint"]["authority"] == version.company.authority.name.en
    assert "Autoriteit Persoonsgegevens" in data["complaint"]["authority"]
    assert data["dpo"]["email"] == version.company.dpo.email
    assert set(data["rights"]) == set(version.topics.rights)
    assert "personalised_offers" in [d["purpose"] for d in data["automated_decisions"]]
    assert all(d["logic"] for d in data["automated_decisions"])

    dutch = my_data(client, conversation, language="nl").json()
    details = next(c for c in dutch["categories"] if c["id"] == "contact_details")
    assert details["label"] == "contactgegevens" and details["retention"] == category.retention.period.nl
    assert "uitvoering van een overeenkomst" in {p["legal_basis"] for p in details["purposes"]}
    assert any(line.startswith("Gesprek met de chatassistent") for c in dutch["categories"] for line in c["preview"])
    # Labelled values in the register's Dutch words, dates and times in Amsterdam time, no ISO dates.
    previews = {c["id"]: "\n".join(c["preview"]) for c in dutch["categories"]}
    updated = dt.datetime.fromisoformat(contact["updated_at"].replace("Z", "+00:00")).astimezone(ZoneInfo("Europe/Amsterdam"))
    assert f"voornaam: {contact['first_name']}; achternaam: {contact['last_name']}" in previews["contact_details"]
    changed = f"{updated.day} {words('nl', 'common.months')[updated.month - 1]} {updated.year} {updated:%H:%M}"
    assert f"laatst gewijzigd: {changed}" in previews["contact_details"]
    born = dt.date.fromisoformat(company.export("crm", "C0001")["categories"]["account"][0]["date_of_birth"])
    assert f"geboortedatum: {born.day} {words('nl', 'common.months')[born.month - 1]} {born.year}" in previews["account"]
    assert "waarvoor: nieuwsbrief" in previews["marketing_preferences"] and "newsletter" not in previews["marketing_preferences"]
    assert "betaalwijze: " in previews["payment_details"] and "soort: betaling" in previews["payment_details"]
    assert not any(re.search(r"\b\d{4}-\d{2}-\d{2}\b", line) for line in previews.values())
    assert my_data(client, conversation, language="de").status_code == 422


def test_a_conversation_that_is_not_verified_gets_403_and_nothing_else(client, clock, tracker, db_url):
    conversation = new_conversation()
    tracker.say(conversation, ("user", "Show me everything about C0001"), ("bot", "Please verify first."))
    for params in ({}, {"customer_id": "C0001"}):
        response = my_data(client, conversation, **params)
        assert response.status_code == 403
        assert set(response.json()) == {"reason", "detail"} and response.json()["reason"] == "not_verified"
    refused = client.post(f"/api/conversations/{conversation}/exports", headers=SERVICE)
    assert refused.status_code == 403 and refused.json()["reason"] == "not_verified"
    assert my_data(client, conversation, language="en").headers["cache-control"] == "no-store"
    # The service token is required before anything else.
    assert client.get(f"/api/conversations/{conversation}/my-data").status_code == 401
    assert client.post(f"/api/conversations/{conversation}/exports", headers={"Authorization": "Bearer forged"}).status_code == 401

    # Verified, then the binding runs out: refused again. And after a log-out too.
    bind(client, clock, conversation, "C0002")
    assert my_data(client, conversation).status_code == 200
    clock.advance(minutes=61)
    assert my_data(client, conversation).json()["reason"] == "not_verified"
    bind(client, clock, conversation, "C0002")
    assert client.delete(f"/api/identity/conversations/{conversation}", headers=SERVICE).status_code == 200
    assert my_data(client, conversation).status_code == 403
    engine = create_engine(db_url)
    with OrmSession(engine) as s:
        assert s.scalar(select(func.count()).select_from(ExportLink)) == 0  # no link was made for anyone
    engine.dispose()


def test_a_conversation_of_customer_a_never_shows_customer_b(client, clock, tracker, company):
    a, b = new_conversation(), new_conversation()
    bind(client, clock, a, "C0001")
    bind(client, clock, b, "C0002")
    tracker.say(a, ("user", "secret of A: my parcel"), ("bot", "answer to A"))
    tracker.say(b, ("user", "secret of B: my complaint"), ("bot", "answer to B"))
    other = company.contact("C0002")

    for params in ({}, {"customer_id": "C0002"}):  # an id passed along is ignored: the binding decides
        data = my_data(client, a, language="en", **params).json()
        assert data["customer_id"] == "C0001"
        text = json.dumps(data, ensure_ascii=False)
        assert other["email"] not in text and other["last_name"] not in text and "C0002" not in text
        assert data["conversations"] == {"count": 1, "messages": 2, "shared_left_out": 0}

    link = client.post(f"/api/conversations/{a}/exports", headers=SERVICE).json()
    export = client.get(local(link["json_url"]))
    assert export.status_code == 200
    assert "secret of A" in export.text and "answer to A" in export.text
    assert "secret of B" not in export.text and other["email"] not in export.text and "C0002" not in export.text

    # One device, two customers one after the other: the conversation is neither one's alone, so it
    # is in neither export, and each is told a conversation was left out.
    shared = new_conversation()
    tracker.say(shared, ("user", "first customer on the shop's tablet"), ("bot", "hello"))
    bind(client, clock, shared, "C0003")
    clock.advance(minutes=61)
    bind(client, clock, shared, "C0004")
    for customer in ("C0003", "C0004"):
        mine = new_conversation()
        bind(client, clock, mine, customer)
        data = my_data(client, mine).json()
        assert data["customer_id"] == customer
        assert data["conversations"] == {"count": 0, "messages": 0, "shared_left_out": 1}
        link = client.post(f"/api/conversations/{mine}/exports", headers=SERVICE).json()
        assert "shop's tablet" not in client.get(local(link["csv_url"])).text


def test_a_system_that_cannot_answer_gives_503_naming_it_never_a_partial_answer(db_url, company, tracker, kb, clock):
    settings = make_settings(db_url, company, tracker.url, my_data_timeout_seconds=1.0)
    with TestClient(routes(settings, kb, clock)) as client:
        conversation = new_conversation()
        bind(client, clock, conversation, "C0001")
        link = client.post(f"/api/conversations/{conversation}/exports", headers=SERVICE).json()

        company.fault("loyalty", "down", count=None, retry_after=0)
        response = my_data(client, conversation)
        assert response.status_code == 503
        body = response.json()
        assert body["reason"] == "system_unavailable" and body["system"] == "loyalty"
        assert body["detail"].startswith("the loyalty system answered with an error (503)") and "incomplete" in body["detail"]
        assert "categories" not in body
        download = client.get(local(link["json_url"]))
        assert download.status_code == 503 and download.json()["system"] == "loyalty"

        company.fault("loyalty", "ok")
        company.fault("wifi", "slow", delay=3.0, count=1)  # longer than the 1 s the back office waits
        slow = my_data(client, conversation)
        assert slow.status_code == 503 and slow.json()["system"] == "wifi" and "in time" in slow.json()["detail"]

        assert my_data(client, conversation).status_code == 200  # back to normal

    # The assistant's own conversation store counts as a system too.
    broken = make_settings(db_url, company, "postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    with TestClient(routes(broken, kb, clock)) as client:
        conversation = new_conversation()
        bind(client, clock, conversation, "C0001")
        response = my_data(client, conversation)
        assert response.status_code == 503 and response.json()["system"] == "assistant"
        assert response.json()["detail"].startswith("the assistant's own conversation store cannot be read")


def test_a_tracker_store_rasa_has_not_made_yet_reads_as_no_conversations(db_url, company, kb, clock, tmp_path):
    # SQLite: no file yet (and none is made); PostgreSQL: a database without Rasa's table.
    missing = tmp_path / "not-yet" / "rasa-tracker.db"
    tracker_url = f"sqlite:///{missing}" if db_url.startswith("sqlite") else db_url
    settings = make_settings(db_url, company, tracker_url)
    with TestClient(routes(settings, kb, clock)) as client:
        conversation = new_conversation()
        bind(client, clock, conversation, "C0001")
        data = my_data(client, conversation).json()
        assert data["conversations"] == {"count": 0, "messages": 0, "shared_left_out": 0}
        assert "assistant" not in json.dumps([c["records_by_system"] for c in data["categories"]])
    assert not missing.exists()
