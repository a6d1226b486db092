"""The assistant's side of handing a chat to a person, on real trackers and the real back office:
what the agent's summary holds, when not understanding hands over, and what the customer is told
when nobody from the team is there."""
from __future__ import annotations

from rasa_sdk import Tracker
from test_actions import client, run  # noqa: F401  (a fixture)

from actions.handoff import ActionClarify, ActionHandOver, not_understood_twice, summary


def user(text: str, intent: str) -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.9}}, "input_channel": "rest"}


def conversation(*said: tuple[str, str], language: str = "en", sender: str = "handoff-actions") -> Tracker:
    events = [user(text, intent) for text, intent in said]
    text, intent = said[-1]
    return Tracker(sender_id=sender, slots={"language": language}, events=events, paused=False, followup_action=None,
                   active_loop={}, latest_action_name="action_listen",
                   latest_message={"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [],
                                   "intent_ranking": [{"name": "ask_security", "confidence": 0.2}]})


def test_the_summary_holds_the_topics_requests_and_last_messages():
    said = conversation(("what do you store about me?", "ask_what_data_collected"), ("delete it all", "request_deletion"),
                        ("/affirm", "affirm"), ("who sees it?", "ask_sharing_third_parties"),
                        ("I want a person", "ask_human"))
    found = summary(said)
    assert found["topics"] == ["what_data_collected", "delete_my_data", "sharing_third_parties", "contact_dpo"]
    assert found["requests"] == ["request_deletion"]
    assert found["last_messages"] == ["what do you store about me?", "delete it all", "who sees it?", "I want a person"]


def test_only_a_second_message_not_understood_in_a_row_hands_over():
    assert not not_understood_twice(conversation(("hi", "greet"), ("blorp", "nlu_fallback")))
    assert not not_understood_twice(conversation(("blorp", "nlu_fallback"), ("hi", "greet"), ("zzz", "nlu_fallback")))
    assert not_understood_twice(conversation(("blorp", "nlu_fallback"), ("zzz", "nlu_fallback")))


def test_with_nobody_there_the_customer_is_offered_a_ticket_in_their_language(client):  # noqa: F811
    messages, slots, events = run(ActionClarify(), conversation(("blorp", "nlu_fallback"), ("zzz qq", "nlu_fallback"),
                                                                language="nl", sender="handoff-twice"))
    assert "niemand van ons team" in messages[0]["text"] and "per e-mail" in messages[0]["text"]
    assert messages[0]["buttons"] == [{"title": "Laat een ticket achter", "payload": "/leave_ticket"}]
    assert slots["pending_request"] == {"type": "ticket", "reason": "not_understood"}
    assert not any(e["event"] == "pause" for e in events), "nobody to hand over to: the bot stays"

    messages, slots, _ = run(ActionHandOver(), conversation(("ik vraag dit voor mijn zoon", "speak_for_child"), language="nl",
                                                            sender="handoff-child"))
    assert slots["answer_topic"] == "children_and_specific_audiences"
    assert slots["pending_request"] == {"type": "ticket", "reason": "child"}
