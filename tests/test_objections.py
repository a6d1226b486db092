"""Objections to a processing on legitimate interest (GDPR Art. 21(1)), end to end on the real stack: the
trained model through Rasa's REST channel, the action server, the back office, the outbox worker, the
mail sink and the demo company systems. Filed in the chat (Dutch and English) or by an agent, an
objection waits for the privacy team; upheld, only that processing stops in the systems that carry it;
refused, the customer is told why, with the Autoriteit Persoonsgegevens to complain to."""
import uuid

import pytest
from conftest import FORM_TOKEN, claim_customers, privacy_officer
from stack import eventually
from test_agent_handoff import Console
from test_end_to_end import rest
from test_privacy_requests import (
    REQUEST_ID,
    backoffice,
    company_export,
    inbox,
    latest_code,
    new_conversation,
    say,
    verify_by_email,
    wait_for_status,
)

CUSTOMERS = claim_customers(__name__, "C0017", "C0018", "C0019")
SYSTEMS = ("crm", "orders", "loyalty", "marketing", "wifi", "service")


@pytest.fixture(scope="module")
def customers(assistant):
    """This module's customers with the e-mail address the CRM holds for them."""
    return {c: {"email": company_export(assistant, "crm", c)["categories"]["contact_details"][0]["email"]} for c in CUSTOMERS}


def stopped(assistant, customer_id):
    """Per system, the processings it stopped for the customer; and that nothing was restricted anywhere."""
    exports = {system: company_export(assistant, system, customer_id) for system in SYSTEMS}
    assert all(e["restricted"] == [] for e in exports.values()), "an objection is never a blanket restriction"
    return {system: [s["purpose"] for s in e["stopped_processing"]] for system, e in exports.items()}


def decision_mail(assistant, email, marker):
    return eventually(lambda: [m for m in inbox(assistant, email) if marker in m["subject"]], 30,
                      f"the decision mailed to {email}", until=bool, interval=0.5)[0]


def awaiting(assistant, request_id):
    """Filed, and waiting for the privacy team: verified, and no system has been told anything."""
    filed = backoffice(assistant, f"/api/requests/{request_id}")
    assert filed["type"] == "objection" and filed["status"] == "verified" and filed["tasks"] == []
    assert any("awaiting the privacy team's decision" in r for r in filed["needs_attention"])
    return filed


def test_dutch_objection_to_fraud_checks_named_in_the_chat_is_upheld_and_only_that_stops(assistant, customers):
    customer = customers["C0017"]
    sender = new_conversation(assistant, "nl")
    say(assistant, sender, "ik wil me afmelden")
    before = len(inbox(assistant, customer["email"]))
    say(assistant, sender, customer["email"])
    eventually(lambda: inbox(assistant, customer["email"]), 20, "the code", until=lambda found: len(found) > before, interval=0.5)
    code, _ = latest_code(assistant, customer["email"])
    verified = rest(assistant, code, sender)[1]
    # after verification, what to stop is asked as the form's question, with the register's processings to object to
    assert "Waarmee wil je dat we stoppen?" in "\n".join(m.get("text", "") for m in verified)
    offered = [b["title"] for m in verified for b in m.get("buttons", [])]
    assert "Bezwaar: fraude voorkomen" in offered and "Bezwaar: klantenservice" in offered and "Alle marketing" in offered

    summary = say(assistant, sender, "fraudecontrole")  # the next message is taken as the answer
    assert "Waartegen: fraude voorkomen" in summary and "privacyteam weegt" in summary and "Zal ik het indienen?" in summary
    receipt = say(assistant, sender, "ja")
    request_id = REQUEST_ID.search(receipt).group(0)
    assert "Ingediend" in receipt and "beslist uiterlijk" in receipt
    filed = awaiting(assistant, request_id)
    assert filed["purpose"] == "fraud_prevention" and filed["customer_id"] == "C0017"
    assert "wacht op het besluit" in say(assistant, sender, "wat is de status van mijn verzoek?")
    assert stopped(assistant, "C0017") == {s: [] for s in SYSTEMS}

    officer = privacy_officer(assistant)
    url = f"{assistant.env['BACKOFFICE_URL']}/api/privacy/requests/{request_id}/decision"
    decided = officer.post(url, json={"decision": "uphold"}, timeout=10)
    assert decided.status_code == 200, decided.text
    told_to_stop = [(t["system"], t["operation"]) for t in decided.json()["tasks"]]
    assert told_to_stop == [("crm", "stop_processing"), ("orders", "stop_processing")]
    wait_for_status(assistant, request_id, "fulfilled")
    assert stopped(assistant, "C0017") == {"crm": ["fraud_prevention"], "orders": ["fraud_prevention"], "loyalty": [],
                                           "marketing": [], "wifi": [], "service": []}
    told = decision_mail(assistant, customer["email"], request_id)
    assert "Besluit over je bezwaar" in told["subject"] and "toegewezen" in told["text"] and "fraude voorkomen" in told["text"]
    assert "Autoriteit Persoonsgegevens" in told["text"]
    assert officer.post(url, json={"decision": "refuse", "reason": "te laat"}, timeout=10).status_code == 409  # decided once


def test_english_objection_is_refused_on_the_request_page_and_the_customer_told_why(assistant, customers):
    customer = customers["C0018"]
    sender = new_conversation(assistant, "en")
    verify_by_email(assistant, sender, customer["email"])
    asked = rest(assistant, "I want to opt out", sender)[1]
    assert "What would you like us to stop?" in "\n".join(m.get("text", "") for m in asked)
    assert "Object: preventing fraud" in [b["title"] for m in asked for b in m.get("buttons", [])]
    summary = say(assistant, sender, "the fraud checks on my payments")
    assert "Against: preventing fraud" in summary and "Shall I file it?" in summary
    receipt = say(assistant, sender, "yes")
    request_id = REQUEST_ID.search(receipt).group(0)
    assert "privacy team decides" in receipt
    awaiting(assistant, request_id)

    officer = privacy_officer(assistant)
    page = officer.get(f"{assistant.env['BACKOFFICE_URL']}/console/privacy/requests/{request_id}", timeout=10)
    assert "Decide this objection" in page.text and "fraud_prevention" in page.text
    reason = "Card fraud against your account was reported twice this year; the checks protect you and other customers."
    form = {"csrf_token": FORM_TOKEN.search(page.text).group(1), "decision": "refuse", "reason": reason}
    posted = officer.post(f"{assistant.env['BACKOFFICE_URL']}/console/privacy/requests/{request_id}/decision", data=form,
                          headers={"X-CSRF-Token": None}, allow_redirects=False, timeout=10)
    assert posted.status_code == 303, posted.text
    refused = backoffice(assistant, f"/api/requests/{request_id}")
    assert refused["status"] == "denied" and refused["denial_reason"] == reason and refused["tasks"] == []
    assert stopped(assistant, "C0018") == {s: [] for s in SYSTEMS}
    told = decision_mail(assistant, customer["email"], request_id)
    assert "Decision on your objection" in told["subject"] and "refused" in told["text"] and reason in told["text"]
    assert "Autoriteit Persoonsgegevens" in told["text"] and "autoriteitpersoonsgegevens.nl" in told["text"]
    assert f"denied: {reason}" in say(assistant, sender, "what is the status of my request?")


def test_an_agents_objection_waits_for_the_privacy_team_with_its_note_and_is_upheld(assistant, customers):
    customer = customers["C0019"]
    carla = Console(assistant, "Carla")
    carla.queue()  # an agent with the queue open is available
    try:
        sender = new_conversation(assistant, "nl")
        verify_by_email(assistant, sender, customer["email"])
        opening = f"vraag over mijn gesprekken {uuid.uuid4().hex[:8]}"
        say(assistant, sender, opening)
        say(assistant, sender, "ik wil een medewerker spreken")
        entry = eventually(lambda: carla.entry_saying(opening), 20, "the conversation in the queue")
        assert carla.do(entry["id"], "claim").status_code == 200
        note = "Klant wil niet dat haar servicegesprekken bewaard blijven; ze vindt dat te veel."
        filed = carla.do(entry["id"], "requests", type="objection", categories=None, client_request_id=uuid.uuid4().hex,
                         details={"purpose": "customer_service", "note": note})
        assert filed.status_code == 201, filed.text
        request_id = filed.json()["request"]
        view = awaiting(assistant, request_id)
        assert view["note"] == note and view["purpose"] == "customer_service"
        assert carla.do(entry["id"], "requests", type="objection", categories=None, client_request_id=uuid.uuid4().hex,
                        details={"note": note}).status_code == 422, "an objection names its processing"
    finally:
        carla.sign_out()

    officer = privacy_officer(assistant)
    page = officer.get(f"{assistant.env['BACKOFFICE_URL']}/console/privacy/requests/{request_id}", timeout=10)
    assert note in page.text and "Decide this objection" in page.text
    audit = officer.get(f"{assistant.env['BACKOFFICE_URL']}/api/privacy/requests/{request_id}", timeout=10).json()["audit"]
    assert audit[0]["actor"].startswith("agent:")
    decided = officer.post(f"{assistant.env['BACKOFFICE_URL']}/api/privacy/requests/{request_id}/decision",
                           json={"decision": "uphold"}, timeout=10)
    assert decided.status_code == 200, decided.text
    wait_for_status(assistant, request_id, "fulfilled")
    assert stopped(assistant, "C0019") == {"crm": ["customer_service"], "orders": ["customer_service"], "loyalty": [],
                                           "marketing": [], "wifi": [], "service": ["customer_service"]}
    told = decision_mail(assistant, customer["email"], request_id)
    assert "Besluit over je bezwaar" in told["subject"] and "klantenservice" in told["text"]
    page = officer.get(f"{assistant.env['BACKOFFICE_URL']}/console/privacy/requests/{request_id}", timeout=10)
    assert note in page.text and "upheld" in page.text and "Decide this objection" not in page.text
    assert "assistant holds this processing&#39;s data but cannot be told to stop it" in page.text  # the chats: by hand
