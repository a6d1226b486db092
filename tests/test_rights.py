"""Drafting, summarising and reporting privacy requests, and recognising typed values (no processes)."""
import pytest

from actions import rights
from actions.answers import Composer
from actions.sentences import sentence
from bot.typed_values import recognise, recognise_correction


@pytest.fixture(scope="module")
def current(published):
    return published[-1]


def held(version):
    return [c["id"] for c in version["categories"] if c.get("systems")]


@pytest.mark.parametrize("text, expected", [
    ("jan.jansen@example.com", ("inform_email", "jan.jansen@example.com")),
    ("mijn e-mailadres is jan@example.nl", ("inform_email", "jan@example.nl")),
    ("482913", ("inform_code", "482913")),
    ("de code is 482 913", ("inform_code", "482913")),
    ("my code is 482-913.", ("inform_code", "482913")),
])
def test_typed_values_are_recognised_by_their_shape(text, expected):
    assert recognise(text)[:2] == expected


@pytest.mark.parametrize("text", [
    "show me all the data you hold on piet@example.nl and his orders please",  # a sentence, not an address
    "write to a@b.nl and c@d.nl", "I ordered 482913 things", "R-2026-0042", "0612345678", "",
])
def test_sentences_are_not_typed_values(text):
    assert recognise(text) is None


@pytest.mark.parametrize("text, expected", [
    ("new address: Kerkstraat 5, 1234 AB Utrecht", ("address", "Kerkstraat 5, 1234 AB Utrecht")),
    ("mijn nieuwe telefoonnummer is 06 12345678", ("phone", "06 12345678")),
    ("nieuw e-mailadres: jan@example.nl", ("email", "jan@example.nl")),
    ("I want to change my address", None),
])
def test_corrections_are_recognised(text, expected):
    assert recognise_correction(text) == expected


def test_erasure_draft_covers_named_categories_only_if_a_system_holds_them(current, vocabulary):
    draft = rights.draft_request("request_deletion", "verwijder mijn winkelbezoeken",
                                 {"data_category": ["store_visits", "id_document"]}, "nl", held(current), vocabulary)
    assert draft["type"] == "erasure" and draft["categories"] == ["store_visits"] and "missing" not in draft
    everything = rights.draft_request("request_deletion", "verwijder mijn gegevens", {}, "nl", held(current), vocabulary)
    assert everything["categories"] is None and everything["client_request_id"] != draft["client_request_id"]


@pytest.mark.parametrize("text, entities, right, purposes", [
    ("stop the newsletter", {}, "objection_direct_marketing", ["newsletter"]),
    ("no more personalised offers or marketing mails", {}, "objection_direct_marketing", ["newsletter", "personalised_offers"]),
    ("stop counting my phone on the wifi", {}, "opt_out", ["wifi_counting"]),
    ("ik trek mijn toestemming voor de nieuwsbrief in", {}, "withdraw_consent", ["newsletter"]),
    ("", {"purpose": ["all_marketing"]}, "objection_direct_marketing", ["newsletter", "personalised_offers"]),
])
def test_opt_out_right_follows_what_is_stopped(current, vocabulary, text, entities, right, purposes):
    draft = rights.draft_request("request_opt_out", text, entities, "en", held(current), vocabulary)
    assert draft["type"] == right and draft["details"]["purposes"] == purposes and "missing" not in draft


def test_opt_out_without_a_purpose_asks_which(current, vocabulary):
    draft = rights.draft_request("request_opt_out", "I want to opt out", {}, "en", held(current), vocabulary)
    assert draft["missing"] == "purpose"
    assert {b["payload"] for b in rights.purpose_buttons("en", vocabulary)} >= {'/request_opt_out{"purpose": "wifi_counting"}'}


def test_correction_asks_for_field_then_value(current, vocabulary):
    unnamed = rights.draft_request("request_correction", "I want to correct my data", {}, "en", held(current), vocabulary)
    assert unnamed["missing"] == "field"
    draft = rights.draft_request("request_correction", "my address is wrong", {}, "en", held(current), vocabulary)
    assert draft["missing"] == "value" and draft["details"]["field"] == "address"
    incomplete = rights.draft_request("request_correction", "new address: Dorpsstraat 1",
                                      {"correction_field": ["address"], "correction_value": ["Dorpsstraat 1"]}, "en",
                                      held(current), vocabulary)
    assert incomplete["missing"] == "value"  # the CRM needs street, number, postcode and city
    done = rights.draft_request("request_correction", "new address: Dorpsstraat 1a, 1234ab Utrecht",
                                {"correction_field": ["address"], "correction_value": ["Dorpsstraat 1a, 1234ab Utrecht"]},
                                "en", held(current), vocabulary)
    assert "missing" not in done and done["details"]["value"] == {
        "street": "Dorpsstraat", "house_number": "1a", "postcode": "1234 AB", "city": "Utrecht"}
    assert "Dorpsstraat 1a, 1234 AB Utrecht" in rights.summary(done, Composer(current, "en"), held(current))


@pytest.mark.parametrize("text, parts", [
    ("Kerkstraat 5, 1234 AB Utrecht", ("Kerkstraat", "5", "1234 AB", "Utrecht")),
    ("Laan van Meerdervoort 120-3 2517AK Den Haag", ("Laan van Meerdervoort", "120-3", "2517 AK", "Den Haag")),
    ("Kerkstraat, Utrecht", None),
])
def test_addresses_are_split_into_the_parts_the_crm_stores(text, parts):
    found = rights.parse_address(text)
    assert (found and (found["street"], found["house_number"], found["postcode"], found["city"])) == parts


@pytest.mark.parametrize("language", ["nl", "en"])
def test_erasure_summary_names_what_is_kept_and_why(current, vocabulary, language):
    draft = rights.draft_request("request_deletion", "", {}, language, held(current), vocabulary)
    text = rights.summary(draft, Composer(current, language), held(current))
    invoices = next(c for c in current["categories"] if c["id"] == "invoices")
    assert invoices["kept_after_erasure"][language] in text
    assert ("art. 17" if language == "nl" else "Art. 17") in text
    assert text.endswith(sentence("summary_question", language))


def test_receipt_has_the_id_due_date_and_what_took_effect():
    filed = {"id": "REQ-2026-ABCD", "type": "objection_direct_marketing", "due_on": "2026-12-29", "created": True,
             "kept_after_erasure": []}
    draft = {"details": {"purposes": ["newsletter"]}}
    text = rights.receipt(filed, draft, "en")
    assert "REQ-2026-ABCD" in text and "29 December 2026" in text and "taken effect already" in text
    again = rights.receipt({**filed, "created": False}, draft, "nl")
    assert "niet nog eens" in again


def test_status_report_says_fulfilled_and_progress():
    requests = [
        {"id": "R-2", "type": "erasure", "status": "in_progress", "open": True, "due_on": "2027-02-28",
         "extended": False, "needs_attention": True, "tasks": [{"state": "done"}, {"state": "failed"}]},
        {"id": "R-1", "type": "erasure", "status": "fulfilled", "open": False, "due_on": "2026-12-29",
         "tasks": [{"state": "done", "completed_at": "2026-11-30T10:00:00+00:00"}]},
    ]
    text = rights.status_report(requests, "en")
    assert "R-2, erasure" in text and "1 of 2 systems done; due by 28 February 2027" in text
    assert "R-1" in text and "fulfilled on 30 November 2026" in text and "privacy team" in text
    assert rights.status_report([], "nl") == sentence("no_requests", "nl")


def test_long_date_handles_leap_years():
    assert rights.long_date("2028-02-29", "nl") == "29 februari 2028"


def test_what_we_hold_nothing_of_is_named_in_the_customers_words_not_by_id():
    data = {"categories": [], "empty_categories": ["store_visits", "loyalty"], "knowledge_version": "2026-09",
            "category_names": {"store_visits": "store visits", "loyalty": "loyalty programme"}}
    text = rights.my_data_report(data, None, "en")
    assert "We hold nothing about you in: store visits, loyalty programme." in text
    assert "store_visits" not in text


def test_each_record_is_shown_on_its_own_line_and_the_link_expires_in_amsterdam_time():
    data = {"categories": [{"label": "contactgegevens", "records": 1, "preview": ["voornaam: Daan; achternaam: de Haan"]}]}
    links = {"expires_at": "2026-12-07T23:27:00+00:00", "json_url": "https://x/a.json", "csv_url": "https://x/a.csv"}
    text = rights.my_data_report(data, links, "nl")
    assert "contactgegevens (1 gegeven(s)):\n  – voornaam: Daan; achternaam: de Haan" in text
    assert "geldig tot 8 december 2026 00:27" in text and "UTC" not in text  # 23:27 UTC is 00:27 the next day in Amsterdam
    summer = rights.my_data_report({"categories": []}, {**links, "expires_at": "2026-07-01T10:00:00Z"}, "en")
    assert "valid until 1 July 2026 12:00" in summer


def test_after_an_erasure_what_is_kept_is_said_not_nothing():
    data = {"categories": [], "empty_categories": ["store_visits"], "category_names": {"store_visits": "winkelbezoeken"},
            "kept_after_erasure": [{"id": "invoices", "label": "facturen", "reason": "Facturen moeten we 7 jaar bewaren."}]}
    text = rights.my_data_report(data, None, "nl")
    assert "bewaren we dit nog, omdat de wet het vraagt:\n• facturen: Facturen moeten we 7 jaar bewaren." in text
    assert "Hierover hebben we niets van je: winkelbezoeken." in text


@pytest.mark.parametrize("text, entities, expected", [
    ("fraudecontrole", {}, "fraud_prevention"),
    ("de fraudecheck op mijn betalingen", {}, "fraud_prevention"),
    ("the fraud checks on my payments", {}, "fraud_prevention"),
    ("klantenservice", {}, "customer_service"),
    ("de nieuwsbrief", {}, "newsletter"),
    ("/request_opt_out", {"purpose": ["customer_service"]}, "customer_service"),
    ("/request_opt_out", {"purpose": ["all_marketing"]}, "all_marketing"),
    ("wat is het weer morgen", {}, None),
    ("", {"purpose": ["order_fulfilment"]}, None),  # on a contract: nothing to object to or withdraw
])
def test_the_answer_to_what_to_stop_is_read_as_a_purpose(current, vocabulary, text, entities, expected):
    assert rights.named_purpose(text, entities, vocabulary, rights.objection_words(current)) == expected


def test_an_objection_to_a_processing_on_legitimate_interest_is_weighed_not_immediate(current, vocabulary):
    objectable = rights.objection_words(current)
    assert set(objectable) == {p["id"] for p in current["purposes"] if p["legal_basis"] == "legitimate_interest"}
    text = "ik maak bezwaar tegen de fraudecontrole"
    draft = rights.draft_request("request_opt_out", text, {}, "nl", held(current), vocabulary, objectable)
    assert draft["type"] == "objection" and draft["details"] == {"language": "nl", "purpose": "fraud_prevention"}
    marketing = rights.draft_request("request_opt_out", "stop the newsletter", {}, "en", held(current), vocabulary, objectable)
    assert marketing["type"] == "objection_direct_marketing"  # still absolute, at once
    summary = rights.summary(draft, Composer(current, "nl"), held(current))
    assert "Waartegen: fraude voorkomen" in summary and "privacyteam weegt" in summary and "direct in" not in summary
    titles = [b["title"] for b in rights.purpose_buttons("en", vocabulary, current)]
    assert "Object: preventing fraud" in titles and "Object: customer service" in titles and "All marketing" in titles
    filed = {"id": "REQ-2026-X", "type": "objection", "due_on": "2026-02-28", "created": True}
    receipt = rights.receipt(filed, draft, "nl", {"fraud_prevention": "fraude voorkomen"})
    assert "REQ-2026-X" in receipt and "beslist uiterlijk 28 februari 2026 over je bezwaar tegen fraude voorkomen" in receipt
    waiting = {"id": "REQ-2026-X", "type": "objection", "status": "verified", "open": True, "due_on": "2026-02-28", "tasks": []}
    assert "wacht op het besluit van ons privacyteam" in rights.status_report([waiting], "nl")
