"""Handing the chat to a person: the customer asks for one, or the assistant did not understand twice
in a row. The back office decides (office hours, agents signed in) and keeps the queue; here the
customer is told what happens next, and the conversation pauses (`ConversationPaused`) while an agent
has it. Outside office hours the customer may leave a ticket, answered by e-mail, once verified (the
answer goes to the address the company has for them, never to one typed in the chat)."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from chatprotocol import CANCEL_HANDOFF_INTENT, HandoffReason

from .actions import backoffice, conversation_language
from .answers import INTENT_TOPICS, Composer
from .backoffice import BackOfficeError, Refused, presence_of
from .sentences import sentence

logger = logging.getLogger(__name__)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

SUMMARY_MESSAGES = 5
SUMMARY_CHARS = 300
WEEKDAYS = {"nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
            "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}


def summary(tracker: Tracker) -> dict[str, list[str]]:
    """What the agent reads first: the topics and requests recognised, and the last messages."""
    topics: list[str] = []
    requests: list[str] = []
    said: list[str] = []
    for event in tracker.events or []:
        if not isinstance(event, dict) or event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
        topic = INTENT_TOPICS.get(intent)
        if topic and topic not in topics and topic != "out_of_scope":
            topics.append(topic)
        if intent.startswith("request_") and intent not in requests:
            requests.append(intent)
        text = (event.get("text") or "").strip()
        if text and not text.startswith("/"):
            said.append(text[:SUMMARY_CHARS])
    return {"topics": topics[:15], "requests": requests[:10], "last_messages": said[-SUMMARY_MESSAGES:]}


def when(moment: str | None, language: str) -> str:
    """"Monday 09:00", in Amsterdam time, for the customer."""
    if not moment:
        return ""
    local = dt.datetime.fromisoformat(moment).astimezone(AMSTERDAM)
    return f"{WEEKDAYS[language][local.weekday()]} {local:%H:%M}"


def not_understood_twice(tracker: Tracker) -> bool:
    """The assistant's last answer was a clarifying question for a message it did not understand,
    and this message is not understood either."""
    fallbacks = 0
    for event in reversed(tracker.events or []):
        if isinstance(event, dict) and event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent != "nlu_fallback":
                return False
            fallbacks += 1
            if fallbacks == 2:
                return True
    return False


def hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, reason: HandoffReason,
              topic: str = "contact_dpo") -> list[EventType]:
    """Ask the back office to queue the conversation; pause it when queued, else offer a ticket."""
    language = conversation_language(tracker)
    client = backoffice()
    try:
        placed = client.hand_over(tracker.sender_id, reason, language, summary(tracker), presence_of(tracker))
    except (BackOfficeError, Refused) as exc:
        logger.error("hand-over failed: %s", exc)  # the conversation: bot/logs.py's reference, on the line
        dispatcher.utter_message(text=sentence("unavailable", language))
        return [SlotSet("answer_topic", topic)]
    if placed.get("queued"):
        dispatcher.utter_message(
            text=sentence("handing_over", language, position=placed["position"], minutes=placed["expected_wait_minutes"]),
            buttons=[{"title": sentence("stop_waiting_button", language), "payload": f"/{CANCEL_HANDOFF_INTENT}"}])
        return [SlotSet("answer_topic", topic), ConversationPaused()]
    opens = when(placed.get("opens_at"), language)
    answered_by = dt.date.fromisoformat(placed["ticket_answered_by"]).strftime("%d-%m-%Y")
    back = sentence("opens_at", language, when=opens) if opens else ""
    dispatcher.utter_message(
        text=sentence("nobody_now", language, opens=back, date=answered_by),
        buttons=[{"title": sentence("ticket_button", language), "payload": "/leave_ticket"}])
    try:
        composer = Composer(client.version(client.current_version_id()), language)
        dispatcher.utter_message(text=composer.answer("contact_dpo", intent="ask_human").text)
    except BackOfficeError as exc:
        logger.warning("no contact details to give: %s", exc)
    return [SlotSet("answer_topic", topic), SlotSet("pending_request", {"type": "ticket", "reason": reason.value})]


# Why the customer's message hands the chat over, by its intent, and the topic the answer belongs to.
HAND_OVER_FOR = {
    "ask_human": (HandoffReason.ASKED_FOR_PERSON, "contact_dpo"),
    "complain": (HandoffReason.COMPLAINT, "contact_dpo"),
    "speak_for_child": (HandoffReason.CHILD, "children_and_specific_audiences"),
}


class ActionHandOver(Action):
    """The customer asked for a person, has a complaint, or speaks for a child (whose rights a parent
    exercises only once the team has checked they may)."""

    def name(self) -> str:
        return "action_hand_over"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        reason, topic = HAND_OVER_FOR.get(intent, HAND_OVER_FOR["ask_human"])
        return hand_over(dispatcher, tracker, reason, topic)


class ActionStopWaiting(Action):
    """"Stop waiting" pressed when the chat is not with a person (the back office handles it while it is)."""

    def name(self) -> str:
        return "action_stop_waiting"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=sentence("not_waiting", conversation_language(tracker)))
        return []


class ActionClarify(Action):
    """Ask a short clarifying question with the likeliest topics as buttons, when NLU is unsure; the
    second time in a row, hand the chat to a person instead."""

    def name(self) -> str:
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        language = conversation_language(tracker)
        if not_understood_twice(tracker):
            return hand_over(dispatcher, tracker, HandoffReason.NOT_UNDERSTOOD)
        if tracker.get_slot("language") == "other":
            dispatcher.utter_message(text=f'{sentence("other_language", language)}\n{sentence("not_understood", language)}')
            return [SlotSet("answer_topic", None)]
        if not (tracker.latest_message.get("text") or "").strip():
            dispatcher.utter_message(text=sentence("not_understood", language))
            return [SlotSet("answer_topic", None)]
        ranking = [r.get("name") for r in tracker.latest_message.get("intent_ranking", [])]
        client = backoffice()
        try:
            composer = Composer(client.version(client.current_version_id()), language)
        except BackOfficeError as exc:
            logger.error("back office unavailable: %s", exc)
            dispatcher.utter_message(text=sentence("unavailable", language))
            return []
        answer = composer.clarify(ranking)
        dispatcher.utter_message(text=answer.text, buttons=answer.buttons)
        return [SlotSet("answer_topic", answer.topic)]
