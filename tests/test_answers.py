"""Composing answers from the knowledge base, in both languages."""
import pytest

from actions.answers import FIRST_ANSWER_LIMIT, INTENT_TOPICS, NOT_FROM_THE_REGISTER, TOPICS, Composer
from actions.sentences import sentence


@pytest.fixture(scope="module")
def current(published):
    return published[-1]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("topic", [t for t in TOPICS if t != "out_of_scope"])
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


def test_retention_overview_names_every_category_and_the_details_every_period(current):
    first = Composer(current, "nl").answer("retention")
    details = all_text(Composer(current, "nl").answer("retention", all_details=True))
    for category in current["categories"]:
        assert category["name"]["nl"] in first.text
        assert category["retention"]["period"]["nl"] in details


def test_something_not_collected_is_said_plainly(current):
    gps = next(c for c in current["not_collected"] if c["id"] == "gps_location")
    assert Composer(current, "en").answer("what_data_collected", "gps_location").text.startswith(gps["statement"]["en"])


def test_purposes_name_legal_basis_and_automated_decisions(current):
    text = Composer(current, "en").answer("why_data_used").text
    assert "legal basis" in text and "(your consent" in text and "(contract)" in text
    assert "automated decision" in text
    profiling = next(p for p in current["purposes"] if p["automated_decision"]["applies"])
    why_used = all_text(Composer(current, "en").answer("why_data_used", all_details=True))
    assert profiling["automated_decision"]["logic"]["en"] in why_used


def test_benefit_question_answers_what_the_customer_gets(current):
    text = Composer(current, "nl").answer("why_data_used", intent="ask_benefit").text
    assert "Wat je ervoor terugkrijgt" in text
    details = all_text(Composer(current, "nl").answer("why_data_used", intent="ask_benefit", all_details=True))
    assert current["purposes"][0]["benefit"]["nl"] in details


def test_sharing_names_recipients_and_offers_the_ones_outside_the_eu(current):
    answer = Composer(current, "en").answer("sharing_third_parties")
    abroad = [r for p in current["purposes"] for r in p["recipients"] if r["outside_eu"]]
    assert abroad
    assert "/ask_international_transfers" in [b["payload"] for b in answer.buttons]
    transfers = Composer(current, "en").answer("international_transfers").text
    details = all_text(Composer(current, "en").answer("international_transfers", all_details=True))
    for recipient in abroad:
        assert recipient["name"] in answer.text and first_sentence(recipient["safeguard"]["en"]) in transfers
        assert recipient["safeguard"]["en"] in details


def test_sharing_of_one_category_names_only_its_recipients(current):
    text = Composer(current, "en").answer("sharing_third_parties", "website_usage").text
    analytics = {r["name"] for p in current["purposes"] if "website_usage" in p["categories"] for r in p["recipients"]}
    others = {r["name"] for p in current["purposes"] for r in p["recipients"]} - analytics
    assert analytics and others
    assert all(name in text for name in analytics)
    assert not any(name in text for name in others)


def test_erasure_names_what_must_be_kept_and_why(current):
    first = Composer(current, "en").answer("delete_my_data")
    details = all_text(Composer(current, "en").answer("delete_my_data", all_details=True))
    kept = [c for c in current["categories"] if c.get("kept_after_erasure")]
    assert kept
    for category in kept:
        assert category["name"]["en"] in first.text
        assert category["kept_after_erasure"]["en"] in details
    assert any(b["payload"].startswith("/ask_retention") for b in first.buttons)


def test_what_changed_comes_from_the_changelog(current):
    first = Composer(current, "nl").answer("policy_changes").text
    details = all_text(Composer(current, "nl").answer("policy_changes", all_details=True))
    for entry in current["version"]["changelog"]:
        assert first_sentence(entry["text"]["nl"]) in first
        assert entry["text"]["nl"] in details


def all_text(answer):
    """Every message of an answer as one text (a long paragraph may go over two messages)."""
    return " ".join(" ".join([answer.text, *answer.more]).split())


def first_sentence(text):
    return text.split(". ")[0]


def categories_asked(kb):
    return [None] + [c["id"] for c in kb["categories"]] + [c["id"] for c in kb["not_collected"]]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("topic", TOPICS)
def test_every_first_answer_fits_a_chat_and_every_detail_stays_reachable(published, topic, language):
    """Issue 10: no first answer over 600 characters, in every version, for every category and intent;
    what was left out is behind a button, and the "all details" answer says everything in short messages."""
    for kb in published:
        for category in categories_asked(kb):
            for intent in [i for i, t in INTENT_TOPICS.items() if t == topic]:
                answer = Composer(kb, language).answer(topic, category, intent)
                assert len(answer.text) <= FIRST_ANSWER_LIMIT, (kb["version"]["id"], category, intent, answer.text)
                cited = topic not in NOT_FROM_THE_REGISTER
                assert (kb["version"]["id"] in answer.text.splitlines()[-1]) is cited
                full = Composer(kb, language).answer(topic, category, intent, all_details=True)
                assert all(len(message) <= FIRST_ANSWER_LIMIT for message in [full.text, *full.more])
                assert (kb["version"]["id"] in [full.text, *full.more][-1].splitlines()[-1]) is cited
                if len(all_text(full)) > len(answer.text) and intent.startswith("ask_"):
                    assert any("answer_detail" in b["payload"] for b in answer.buttons), (category, intent)


def test_returning_customer_notice_lists_changes_since_their_version(published):
    old, new = published[0], published[-1]
    text = Composer(new, "en").changes_since([new], old["version"]["id"])
    assert old["version"]["id"] in text and len(text) <= FIRST_ANSWER_LIMIT
    for entry in new["version"]["changelog"]:
        assert first_sentence(entry["text"]["en"]) in text


def test_clarifying_question_offers_likely_topics_as_buttons(current):
    answer = Composer(current, "nl").clarify(["nlu_fallback", "ask_retention", "ask_why_data_used", "out_of_scope",
                                              "ask_security"])
    assert [b["payload"] for b in answer.buttons] == ["/ask_retention", "/ask_why_data_used", "/ask_security"]
    assert answer.buttons[0]["title"] == "Hoe lang jullie ze bewaren"


def test_human_request_gives_the_contacts(current):
    text = Composer(current, "en").answer("contact_dpo", intent="ask_human").text
    assert current["company"]["dpo"]["email"] in text
    assert current["company"]["customer_service"]["phone"] in text


def test_unknown_language_falls_back_to_english(current):
    assert Composer(current, "fr").answer("security").text.startswith(current["topics"]["topics"]["security"]["en"])


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_off_topic_answer_cites_no_register(current, language):
    """The pointer for a question we cannot help with says nothing from the register, so it names no version."""
    answer = Composer(current, language).answer("out_of_scope")
    assert answer.text == current["topics"]["topics"]["out_of_scope"][language]
    assert current["version"]["id"] not in answer.text


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_company_name_ending_a_sentence_gets_one_full_stop(current, language):
    """ "Verantwoordelijk voor je gegevens is Voltera B.V." ends there, not in "B.V..", in either language."""
    assert current["company"]["name"].endswith(".")
    text = Composer(current, language).answer("contact_dpo").text
    assert current["company"]["name"] in text and ".." not in text


def test_a_value_ending_a_sentence_replaces_the_full_stop_after_it():
    assert sentence("not_filed", "en", detail="the register is closed.") == \
        "Filing did not work: the register is closed. Nothing was filed."
    assert sentence("not_filed", "nl", detail="is het 3.5?") == "Het indienen is niet gelukt: is het 3.5? Er is niets ingediend."
    assert sentence("used_for", "en", purposes="orders, v1.2") == "We use it for: orders, v1.2."
