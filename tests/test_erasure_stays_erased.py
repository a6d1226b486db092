"""An erasure filed in the chat stays erased while the customer keeps talking, through every real
process (Rasa with the trained model, the action server, the back office and its worker, the company
systems), on SQLite and on PostgreSQL.

The customer files an erasure and goes on asking questions in the same conversation while the worker
deletes the transcript. Afterwards neither Rasa's tracker (its HTTP API) nor the tracker store's rows
hold an event from before the erasure, also after one more turn, and every company system holds only
what the summary said is kept.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests
from conftest import claim_customers
from sqlalchemy import create_engine, text
from test_end_to_end import tracker
from test_privacy_requests import REQUEST_ID, backoffice, company_export, new_conversation, say, verify_by_email, wait_for_status

[CUSTOMER] = claim_customers(__name__, "C0031")  # this module's own customer: no other module uses it


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def assistant(request):
    return request.getfixturevalue(f"{request.param}_assistant")


def tracker_db_url(env: dict) -> str:
    if env["TRACKER_DB_DIALECT"] == "sqlite":
        return f"sqlite:///{env['TRACKER_DB']}"
    return f"postgresql://postgres@{env['TRACKER_DB_HOST']}:5432/{env['TRACKER_DB']}"


def stored(assistant, conversation_id: str) -> tuple[list, float]:
    """The tracker store's rows of the conversation (type, timestamp, data) and its tombstone."""
    engine = create_engine(tracker_db_url(assistant.env))
    try:
        with engine.connect() as db:
            rows = db.execute(text("SELECT type_name, timestamp, data FROM events WHERE sender_id = :s ORDER BY id"),
                              {"s": conversation_id}).fetchall()
            erased_at = db.execute(text("SELECT erased_at FROM erased_conversations WHERE sender_id = :s"),
                                   {"s": conversation_id}).scalar()
    finally:
        engine.dispose()
    return rows, erased_at


def assert_only_what_the_summary_named_is_kept(assistant, summary: str, fulfilled: dict) -> None:
    """Every company system's export of the customer holds only categories the summary said are kept."""
    promised = {kept["category"] for kept in fulfilled["kept_after_erasure"]}
    names = {c["id"]: c["name"] for c in backoffice(assistant, "/api/knowledge/versions/current?lang=en")["categories"]}
    for category in promised:
        assert names[category].lower() in summary.lower(), f"the summary does not say that {category} is kept"
    headers = {"Authorization": f"Bearer {assistant.env['COMPANY_SYSTEMS_TOKEN']}"}
    systems = requests.get(f"{assistant.env['COMPANY_SYSTEMS_URL']}/systems", headers=headers, timeout=10).json()["systems"]
    assert [system["system"] for system in systems] == ["crm", "orders", "loyalty", "marketing", "wifi", "service"]
    for system in systems:
        left = {c for c, records in company_export(assistant, system["system"], CUSTOMER)["categories"].items() if records}
        assert left <= promised, f"{system['system']} still holds {sorted(left - promised)} after the erasure"


def test_the_conversation_that_filed_an_erasure_holds_nothing_from_before_it(assistant):
    email = company_export(assistant, "crm", CUSTOMER)["categories"]["contact_details"][0]["email"]
    sender = new_conversation(assistant, "en")
    verify_by_email(assistant, sender, email)
    summary = say(assistant, sender, "please delete all my data")
    assert "erasure" in summary.lower()
    receipt = say(assistant, sender, "yes")
    filed = REQUEST_ID.search(receipt)
    assert filed, f"no receipt: {summary!r} -> {receipt!r}"
    request_id = filed.group(0)

    done = threading.Event()
    turns: list[tuple[float, float, str]] = []  # (sent, answered, answer), in Unix seconds as the tombstone
    failures: list[BaseException] = []

    def keep_talking() -> None:
        try:
            while not done.is_set():
                sent = time.time()
                answer = say(assistant, sender, "how long do you keep my purchase history?")
                turns.append((sent, time.time(), answer))
        except BaseException as exc:  # raised in the test below
            failures.append(exc)

    talker = threading.Thread(target=keep_talking, daemon=True)
    talker.start()
    try:
        fulfilled = wait_for_status(assistant, request_id, "fulfilled")
    finally:
        done.set()
        talker.join(timeout=120)
    if failures:
        raise failures[0]
    assert not talker.is_alive(), "the last turn never ended"
    assert turns and all(answer for _, _, answer in turns), "the conversation kept getting answers while it was erased"

    rows, erased_at = stored(assistant, sender)
    assert erased_at is not None
    # The race this test is about: a turn that loaded the conversation before the erasure and saved after it.
    assert any(sent < erased_at < answered for sent, answered, _ in turns), \
        f"no turn ran across the erasure at {erased_at}: {[(sent, answered) for sent, answered, _ in turns]}"
    assert all(timestamp > erased_at for _, timestamp, _ in rows)
    written = " ".join(data for _, _, data in rows)
    for before in (email, "please delete all my data", request_id):
        assert before not in written
    events = tracker(assistant, sender)["events"]
    assert all(event["timestamp"] > erased_at for event in events)
    assert not [e for e in events if e.get("event") == "user" and e.get("text") in ("please delete all my data", email)]

    assert_only_what_the_summary_named_is_kept(assistant, summary, fulfilled)

    say(assistant, sender, "hello")  # one more turn: still nothing from before
    rows, _ = stored(assistant, sender)
    assert rows and all(timestamp > erased_at for _, timestamp, _ in rows)
    assert all(event["timestamp"] > erased_at for event in tracker(assistant, sender)["events"])
