"""Composing answers from the knowledge base, in both languages."""
import pytest

from actions.answers import INTENT_TOPICS, TOPICS, Composer


@pytest.fixture(scope="module")
def current(published):
    return published[-1]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_an_answer_naming_the_version(current, topic, language):
    answer = Composer(current, language).answer(topic)
    assert answer.topic == topic
    assert current["version"]["id"] in answer.text.splitlines()[-1]
    assert ("versie" if language == "nl" else "version") in answer.text.splitlines()[-1]


def test_every_intent_maps_to_a_topic_of_the_taxonomy():
    assert set(INTENT_TOPICS.values()) == set(TOPICS)


def test_overview_lists_every_category_in_dutch(current):
    text = Composer(current, "nl").answer("what_data_collected").text
    for category in current["categories"]:
        assert category["name"]["nl"] in text
    assert "gegevens" in text


def test_retention_of_one_category_gives_period_and_reason(current):
    category = next(c for c in current["categories"] if c["id"] == "purchase_history")
    text = Composer(current, "en").answer("retention", "purchase_history").text
    assert category["retention"]["period"]["en"] in text
    assert category["retention"]["reason"]["en"] in text
    assert "purchase history" in text


def test_retention_overview_lists_every_period(current):
    text = Composer(current, "nl").answer("retention").text
    for category in current["categories"]:
        assert category["retention"]["period"]["nl"] in text


def test_something_not_collected_is_said_plainly(current):
    gps = next(c for c in current["not_collected"] if c["id"] == "gps_location")
    assert Composer(current, "en").answer("what_data_collected", "gps_location").text.startswith(gps["statement"]["en"])


def test_purposes_name_legal_basis_and_automated_decisions(current):
    text = Composer(current, "en").answer("why_data_used").text
    assert "legal basis: your consent" in text and "legal basis: contract" in text
    profiling = next(p for p in current["purposes"] if p["automated_decision"]["applies"])
    assert profiling["automated_decision"]["logic"]["en"] in text


def test_benefit_question_answers_what_the_customer_gets(current):
    text = Composer(current, "nl").answer("why_data_used", intent="ask_benefit").text
    assert "Wat je ervoor terugkrijgt" in text
    assert current["purposes"][0]["benefit"]["nl"] in text


def test_sharing_names_recipients_and_safeguards_outside_the_eu(current):
    text = Composer(current, "en").answer("sharing_third_parties").text
    abroad = [r for p in current["purposes"] for r in p["recipients"] if r["outside_eu"]]
    assert abroad
    for recipient in abroad:
        assert recipient["name"] in text and recipient["safeguard"]["en"] in text


def test_erasure_names_what_must_be_kept_and_why(current):
    text = Composer(current, "en").answer("delete_my_data").text
    kept = [c for c in current["categories"] if c.get("kept_after_erasure")]
    assert kept
    for category in kept:
        assert category["kept_after_erasure"]["en"] in text


def test_what_changed_comes_from_the_changelog(current):
    text = Composer(current, "nl").answer("policy_changes").text
    for entry in current["version"]["changelog"]:
        assert entry["text"]["nl"] in text


def test_returning_customer_notice_lists_changes_since_their_version(published):
    old, new = published[0], published[-1]
    text = Composer(new, "en").changes_since([new], old["version"]["id"])
    assert old["version"]["id"] in text
    for entry in new["version"]["changelog"]:
        assert entry["text"]["en"] in text


def test_clarifying_question_offers_likely_topics_as_buttons(current):
    answer = Composer(current, "nl").clarify(["nlu_fallback", "ask_retention", "ask_why_data_used", "out_of_scope", "ask_security"])
    assert [b["payload"] for b in answer.buttons] == ["/ask_retention", "/ask_why_data_used", "/ask_security"]
    assert answer.buttons[0]["title"] == "Hoe lang jullie ze bewaren"


def test_human_request_gives_the_contacts(current):
    text = Composer(current, "en").answer("contact_dpo", intent="ask_human").text
    assert current["company"]["dpo"]["email"] in text
    assert current["company"]["customer_service"]["phone"] in text


def test_unknown_language_falls_back_to_english(current):
    assert Composer(current, "fr").answer("security").text.startswith(current["topics"]["topics"]["security"]["en"])
