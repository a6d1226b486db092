"""Issue 20, "a question asked is a question answered", on the real stack through the REST channel:
the value typed after the assistant's question is taken as that value, and stopping the Wi-Fi counts
gets the register's own instruction without anyone being asked who they are.

Each test has a customer of its own (C0027, C0028, C0029).
"""
from __future__ import annotations

import pytest
from conftest import claim_customers
from rasa.shared.nlu.training_data.loading import load_data
from test_end_to_end import tracker
from test_privacy_requests import company_export, new_conversation, say, wait_for_status
from test_request_paths import filed_request, verified

from actions import rights
from actions.answers import Composer, named_companies
from bot.category_words import CategoryWords, category_words

claim_customers(__name__, "C0027", "C0028", "C0029")

ADDRESS = {
    "nl": ("mijn adres klopt niet", "nieuw adres:", "Prinsengracht 263, 1016 GV Amsterdam", "ja",
           ("Prinsengracht", "263", "1016 GV", "Amsterdam")),
    "en": ("my address is wrong", "new address:", "Keizersgracht 12, 1015 CS Amsterdam", "yes",
           ("Keizersgracht", "12", "1015 CS", "Amsterdam")),
}


@pytest.mark.parametrize("customer_id, language", [("C0027", "nl"), ("C0028", "en")])
def test_an_address_typed_without_a_prefix_after_the_question_corrects_it(assistant, customer_id, language):
    ask, question, typed, yes, parts = ADDRESS[language]
    sender = verified(assistant, customer_id, language)
    assert question in say(assistant, sender, ask)
    summary = say(assistant, sender, typed)
    assert typed in summary, summary  # the summary to confirm, not "I can only help with questions about your data"
    slots = tracker(assistant, sender)["slots"]
    assert slots["typed_value"] is None and list(slots["pending_request"]) == ["draft_id"]  # the back office holds it
    request = filed_request(assistant, say(assistant, sender, yes))
    assert request["type"] == "rectification"
    wait_for_status(assistant, request["id"], "fulfilled")
    [contact] = company_export(assistant, "crm", customer_id)["categories"]["contact_details"]
    address = contact["address"]
    assert (address["street"], address["house_number"], address["postcode"], address["city"]) == parts


def test_a_question_instead_of_the_value_is_answered_and_nothing_waits_for_a_value(assistant, published):
    sender = verified(assistant, "C0029")
    assert "new address:" in say(assistant, sender, "my address is wrong")
    purchases = next(c for c in published[-1]["categories"] if c["id"] == "purchase_history")
    assert purchases["retention"]["period"]["en"] in say(assistant, sender, "How long do you keep my purchase history?")
    slots = tracker(assistant, sender)["slots"]
    assert slots["pending_request"] is None and slots["typed_value"] is None
    assert "Filed" not in say(assistant, sender, "yes")


@pytest.mark.parametrize("language, message, instruction, verify", [
    ("nl", "ik wil niet meer gevolgd worden in de winkel", "Winkelbezoek tellen", "eerst weten dat jij het bent"),
    ("en", "I don't want to be tracked in your stores any more", "Count my store visits", "first need to know it's you"),
])
def test_stopping_the_wifi_counts_gets_the_registers_instruction_without_verification(
        assistant, language, message, instruction, verify):
    sender = new_conversation(assistant, language)
    answer = say(assistant, sender, message)
    assert instruction in answer and verify not in answer, answer
    slots = tracker(assistant, sender)["slots"]
    assert slots["answer_topic"] == "opt_out" and slots["pending_request"] is None


def test_stopping_marketing_emails_gets_the_newsletters_instruction_then_verification(assistant):
    """The newsletter is linked to the customer: its instruction, and verification to stop it here."""
    sender = new_conversation(assistant, "en")
    answer = say(assistant, sender, "I want to stop getting marketing emails")
    assert "'unsubscribe'" in answer and "first need to know it's you" in answer, answer
    assert "Count my store visits" not in answer  # not every purpose there is


# --- the pure parts, without a stack -----------------------------------------------------------------

@pytest.mark.parametrize("field, typed, value", [
    ("address", "Prinsengracht 263, 1016 GV Amsterdam",
     {"street": "Prinsengracht", "house_number": "263", "postcode": "1016 GV", "city": "Amsterdam"}),
    ("address", "ik woon nu ergens anders", None),
    ("address", '/request_correction{"correction_field": "address"}', None),  # a button, not a value
    ("address", "Kerkstraat 5, 1234 AB Utrecht " + "x" * 400, None),  # longer than any value
    ("phone", "06 12345678", "06 12345678"),
    ("phone", "wat bewaren jullie", None),
    ("email", "jan@voorbeeld.nl", "jan@voorbeeld.nl"),
    ("email", "mail me at jan@voorbeeld.nl", None),
    ("name", "Jan de Vries-Smit", "Jan de Vries-Smit"),
    ("name", "hoe lang bewaren jullie 5 jaar", None),
])
def test_a_value_typed_on_its_own_is_read_as_the_detail_asked_for(field, typed, value):
    assert rights.read_value(field, typed) == value


def test_the_detail_to_correct_is_read_from_words_or_a_button(vocabulary):
    assert rights.field_named("mijn telefoonnummer", {}, vocabulary) == "phone"
    assert rights.field_named("x", {"correction_field": ["address"]}, vocabulary) == "address"
    assert rights.field_named("geen idee", {}, vocabulary) is None


def test_the_wifi_counts_are_not_linked_to_a_customer_and_marketing_is(vocabulary):
    assert vocabulary.unlinked == ("wifi_counting",)
    assert dict(vocabulary.consent_purposes)["wifi_counting"] == "store_visitor_counting"


@pytest.mark.parametrize("language, message, purposes", [
    ("nl", "ik wil niet meer gevolgd worden in de winkel", ["wifi_counting"]),
    ("en", "I want to stop getting marketing emails", ["newsletter"]),
])
def test_an_opt_out_names_the_purpose_the_customer_means(vocabulary, language, message, purposes):
    draft = rights.draft_request("request_opt_out", message, {}, language, [], vocabulary)
    assert draft["details"]["purposes"] == purposes and draft["type"] in rights.STOP_TYPES


def test_the_registers_own_instruction_is_given_per_purpose(published):
    current = published[-1]
    answer = Composer(current, "nl").how_to_stop(["store_visitor_counting"])
    assert "Winkelbezoek tellen" in answer.text and answer.topic == "opt_out"
    assert "nieuwsbrief" not in answer.text.lower()


def test_companies_named_in_a_sharing_question_get_a_yes_or_a_no(published):
    composer = Composer(published[-1], "en")
    text = composer.answer("sharing_third_parties", question="Do you share my data with Facebook or Google?").text
    assert text.startswith("Our privacy register does not list Facebook or Google as a recipient"), text
    dutch = Composer(published[-1], "nl").answer("sharing_third_parties", question="krijgt PostNL mijn adres?").text
    assert dutch.startswith("Ja, ons privacyregister noemt PostNL als ontvanger"), dutch
    assert named_companies("metadata en googlen", []) == []  # whole words only


def test_what_you_get_in_return_leaves_out_what_the_law_requires(published):
    current = published[-1]
    answer = Composer(current, "nl").answer("why_data_used", intent="ask_benefit", all_details=True)
    text = "\n".join([answer.text, *answer.more])
    assert "Wat je ervoor terugkrijgt" in text
    for purpose in current["purposes"]:
        assert (purpose["name"]["nl"] in text) == (purpose["legal_basis"] != "legal_obligation"), purpose["id"]


@pytest.fixture(scope="module")
def category_finder():
    words = category_words(load_data("data/nlu"))
    component = CategoryWords(CategoryWords.get_default_config(), None, None, words)  # type: ignore[arg-type]
    return component


@pytest.mark.parametrize("text, category", [
    ("waarom willen jullie mijn telefonnummer", "contact_details"),
    ("waarom willen jullie mijn telefoonnummer", "contact_details"),
    ("how long do you keep my purchse history", "purchase_history"),
    ("wat is jullie naam", None),
    ("hoe lang bewaren jullie dingen", None),
])
def test_a_misspelled_category_is_still_that_category(category_finder, text, category):
    found = category_finder.category_in(text)
    assert (found[0] if found else None) == category
