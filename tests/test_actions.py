"""The custom actions on real Tracker objects, against the real back office process."""
import asyncio

import pytest
import requests
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAnswerDataQuestion, ActionClarify, ActionDefaultFallback, ActionSessionStart, use_backoffice
from actions.backoffice import BackOfficeClient


@pytest.fixture
def client(backoffice_url, stack):
    client = BackOfficeClient(backoffice_url, stack.env["BACKOFFICE_SERVICE_TOKEN"])
    use_backoffice(client)
    return client


def tracker(text, intent, slots=None, entities=(), sender="test-user", ranking=()):
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": list(entities),
            "intent_ranking": [{"name": n, "confidence": 0.1} for n in ranking],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}, events


def test_dutch_retention_answer_records_topic_and_version(client, published):
    current = published[-1]
    category = {"entity": "data_category", "value": "purchase_history"}
    messages, slots, _ = run(
        ActionAnswerDataQuestion(),
        tracker("hoe lang bewaren jullie mijn aankoopgeschiedenis?", "ask_retention", {"language": "nl"}, [category], sender="c-nl"),
    )
    assert len(messages) == 1
    text = messages[0]["text"]
    purchase = next(c for c in current["categories"] if c["id"] == "purchase_history")
    assert purchase["retention"]["period"]["nl"] in text and f"versie {current['version']['id']}" in text
    assert slots == {"kb_version": current["version"]["id"], "kb_version_seen": current["version"]["id"], "answer_topic": "retention"}
    recorded = requests.get(
        f"{client.base_url}/api/conversations/c-nl/answers", headers={"Authorization": client.session.headers["Authorization"]}, timeout=5
    ).json()["answers"]
    assert recorded[-1]["topic"] == "retention" and recorded[-1]["language"] == "nl"


def test_returning_customer_is_told_once_what_changed(client, published):
    old, current = published[0], published[-1]
    t = tracker("what do you use my data for?", "ask_why_data_used", {"language": "en", "kb_version_seen": old["version"]["id"]})
    messages, slots, _ = run(ActionAnswerDataQuestion(), t)
    assert len(messages) == 2
    assert f"Since your last visit (version {old['version']['id']})" in messages[0]["text"]
    assert current["version"]["changelog"][0]["text"]["en"] in messages[0]["text"]
    assert slots["kb_version_seen"] == current["version"]["id"]
    again, _, _ = run(ActionAnswerDataQuestion(), tracker("and why?", "ask_why_data_used", {"language": "en", **slots}))
    assert len(again) == 1


def test_new_session_tells_a_returning_customer_and_carries_slots(client, published):
    old = published[0]["version"]["id"]
    messages, slots, events = run(ActionSessionStart(), tracker("", "greet", {"language": "nl", "kb_version_seen": old, "answer_topic": "retention"}))
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    assert "Sinds je vorige bezoek" in messages[0]["text"]
    assert slots["language"] == "nl" and "answer_topic" not in slots


def test_a_customer_writing_another_language_is_told_which_we_speak(client):
    messages, slots, _ = run(ActionAnswerDataQuestion(), tracker("Quelles données avez-vous?", "ask_what_data_collected", {"language": "other"}))
    assert "Dutch" in messages[0]["text"] and slots["answer_topic"] == "what_data_collected"


def test_clarify_offers_buttons(client):
    messages, slots, _ = run(ActionClarify(), tracker("data?", "nlu_fallback", {"language": "en"}, ranking=["nlu_fallback", "ask_security", "ask_retention"]))
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_security", "/ask_retention"]
    assert slots["answer_topic"] == "clarify"


def test_clarify_on_an_empty_message_says_what_the_assistant_can_do(client):
    messages, slots, _ = run(ActionClarify(), tracker("  ", "nlu_fallback", {"language": "nl"}))
    assert "persoonsgegevens" in messages[0]["text"] and not messages[0].get("buttons")


def test_clarify_in_another_language_says_which_languages_we_speak(client):
    messages, _, _ = run(ActionClarify(), tracker("Bonjour, quelles données?", "nlu_fallback", {"language": "other"}))
    assert "I speak English and Dutch" in messages[0]["text"] and not messages[0].get("buttons")


def test_fallback_says_what_the_assistant_can_do(client):
    messages, _, events = run(ActionDefaultFallback(), tracker('/intent{"x":"y"}', "intent", {"language": "nl"}))
    assert "persoonsgegevens" in messages[0]["text"]
    assert events[-1]["event"] == "rewind"


def test_back_office_down_gives_a_clear_answer():
    use_backoffice(BackOfficeClient("http://localhost:9", "x", timeout=0.5))
    messages, slots, _ = run(ActionAnswerDataQuestion(), tracker("what do you collect?", "ask_what_data_collected", {"language": "en"}))
    assert "can't reach our privacy register" in messages[0]["text"]
    assert slots == {"answer_topic": None}


def test_published_versions_are_fetched_once(client, published):
    current = published[-1]["version"]["id"]
    first = client.version(current)
    assert client.version(current) is first
