"""A customer's own data in the chat, readable: each value with the register's name for it, coded values
in the register's words in the customer's language, whole values only, dates and times in Amsterdam
time in one format; and after an erasure the data view and the receipt say the same thing about what
is kept. On the real stack: the trained model through Rasa's REST channel, the action server, the back
office, the worker, the mail sink and the demo company systems."""
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from conftest import claim_customers
from stack import eventually
from test_privacy_requests import (
    REQUEST_ID,
    company_export,
    inbox,
    new_conversation,
    say,
    verify_by_email,
    wait_for_status,
)

from actions.rights import long_date
from actions.sentences import MONTHS

claim_customers(__name__, "C0040", "C0042", "C0043")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def assistant(request):
    """Every test here runs twice: on the SQLite stack and on the PostgreSQL one (conftest.py)."""
    return request.getfixturevalue(f"{request.param}_assistant")


def email_of(assistant, customer_id):
    return company_export(assistant, "crm", customer_id)["categories"]["contact_details"][0]["email"]


def shown_time(value: str, language: str) -> str:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(AMSTERDAM)
    return f"{moment.day} {MONTHS[language][moment.month - 1]} {moment.year} {moment:%H:%M}"


def test_the_data_view_shows_labelled_dutch_values_in_amsterdam_time(assistant):
    sender = new_conversation(assistant, "nl")
    say(assistant, sender, "laat mijn gegevens zien")
    shown = verify_by_email(assistant, sender, email_of(assistant, "C0040"))
    contact = company_export(assistant, "crm", "C0040")["categories"]
    person, account = contact["contact_details"][0], contact["account"][0]
    assert f"voornaam: {person['first_name']}; achternaam: {person['last_name']}" in shown
    assert f"e-mailadres: {person['email']}" in shown
    assert f"laatst gewijzigd: {shown_time(person['updated_at'], 'nl')}" in shown
    assert f"geboortedatum: {long_date(account['date_of_birth'], 'nl')}" in shown
    orders = company_export(assistant, "orders", "C0040")["categories"]
    if orders["payment_details"]:
        assert "soort: betaling" in shown and "payment" not in shown
    for english in ("newsletter", "delivered", "collected", "returned", "personalised_offers"):
        assert english not in shown, english
    assert not ISO_DATE.search(shown), ISO_DATE.search(shown)
    assert "UTC" not in shown and re.search(r"geldig tot \d{1,2} [a-z]+ \d{4} \d{2}:\d{2}", shown)
    assert "…" not in shown or all(line.endswith("; …") for line in shown.splitlines() if "…" in line)


def test_the_data_view_speaks_english_to_an_english_customer(assistant):
    sender = new_conversation(assistant, "en")
    say(assistant, sender, "show me my data")
    shown = verify_by_email(assistant, sender, email_of(assistant, "C0042"))
    person = company_export(assistant, "crm", "C0042")["categories"]["contact_details"][0]
    assert f"first name: {person['first_name']}; last name: {person['last_name']}" in shown
    assert f"last changed: {shown_time(person['updated_at'], 'en')}" in shown
    assert not ISO_DATE.search(shown) and "UTC" not in shown
    assert re.search(r"valid until \d{1,2} [A-Z][a-z]+ \d{4} \d{2}:\d{2}", shown)


def test_after_an_erasure_the_view_and_the_receipt_agree_on_what_is_kept(assistant):
    email = email_of(assistant, "C0043")
    sender = new_conversation(assistant, "nl")
    say(assistant, sender, "verwijder mijn gegevens")
    verify_by_email(assistant, sender, email)
    receipt = say(assistant, sender, "ja")
    request_id = REQUEST_ID.search(receipt).group(0)
    kept = re.search(r"blijft bewaard: (.+?)\.(?:\s|$)", receipt).group(1).split(", ")
    assert "facturen" in kept and "contactgegevens" in kept
    wait_for_status(assistant, request_id, "fulfilled")

    shown = say(assistant, sender, "laat mijn gegevens zien")
    assert "bewaren we dit nog, omdat de wet het vraagt:" in shown
    kept_part = shown.split("omdat de wet het vraagt:", 1)[1]
    nothing = next((line for line in shown.splitlines() if line.startswith("Hierover hebben we niets van je")), "")
    for name in kept:
        assert f"• {name}: " in kept_part, name
        assert name not in nothing, (name, nothing)

    # The e-mail receipt of the erasure reached the customer's address, in Dutch.
    mails = eventually(lambda: [m for m in inbox(assistant, email) if request_id in (m.get("subject") or "")],
                       30, f"the e-mail receipt of {request_id}")
    assert "Verzoeknummer: " + request_id in mails[0]["text"] and "Soort verzoek: verwijdering" in mails[0]["text"]
