"""The assistant's custom actions: thin, they read the conversation, ask the back office, word the answer."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

import texts

from .answers import DETAIL_ENTITY, INTENT_TOPICS, Composer
from .backoffice import BackOfficeClient, BackOfficeError
from .sentences import LANGUAGES, sentence

logger = logging.getLogger(__name__)

_client: BackOfficeClient | None = None


def backoffice() -> BackOfficeClient:
    """One client per action server process, so its cache of published versions is shared."""
    global _client
    if _client is None:
        _client = BackOfficeClient.from_env()
    return _client


DEFAULT_LANGUAGE = "en"  # a conversation's language until it is known


def conversation_language(tracker: Tracker) -> str:
    language = tracker.get_slot("language")
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def notice_changes(tracker: Tracker, dispatcher: CollectingDispatcher, language: str) -> list[EventType]:
    """Tell a returning customer, once, what changed since the version they were last answered from."""
    client = backoffice()
    current = client.current_version_id()
    seen = tracker.get_slot("kb_version_seen")
    if not seen or seen == current:
        return []
    listing = client.versions()
    published = sorted(
        (v for v in listing["versions"] if v["status"] == "published"), key=lambda v: v["effective_date"]
    )
    ids = [v["id"] for v in published]
    if seen in ids and current in ids and ids.index(seen) < ids.index(current):
        newer = [client.version(vid) for vid in ids[ids.index(seen) + 1 : ids.index(current) + 1]]
        dispatcher.utter_message(text=Composer(client.version(current), language).changes_since(newer, seen))
    return [SlotSet("kb_version_seen", current)]


class ActionAnswerDataQuestion(Action):
    """Answer a question about personal data from the current knowledge-base version."""

    def name(self) -> str:
        return "action_answer_data_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return answer_from_knowledge(dispatcher, tracker, INTENT_TOPICS.get(intent or "", "out_of_scope"), intent)


def answer_from_knowledge(dispatcher: CollectingDispatcher, tracker: Tracker, topic: str, intent: str | None) -> list[EventType]:
    """Answer a topic from the current version, tell a returning customer what changed, record the version.
    The first answer is short; the customer's "all details" button sends the rest."""
    language = conversation_language(tracker)
    category = next(tracker.get_latest_entity_values("data_category"), None)
    all_details = next(tracker.get_latest_entity_values(DETAIL_ENTITY), None) == "all"
    client = backoffice()
    try:
        events = notice_changes(tracker, dispatcher, language)
        version_id = client.current_version_id()
        composer = Composer(client.version(version_id), language)
    except BackOfficeError as exc:
        logger.error("back office unavailable: %s", exc)
        dispatcher.utter_message(text=sentence("unavailable", language))
        return [SlotSet("answer_topic", None)]

    if tracker.get_slot("language") == "other":
        dispatcher.utter_message(text=sentence("other_language", language))
    answer = composer.answer(topic, category, intent, all_details=all_details,
                             question=tracker.latest_message.get("text") or "")
    dispatcher.utter_message(text=answer.text, buttons=answer.buttons or None)
    for more in answer.more:
        dispatcher.utter_message(text=more)
    client.record_answer(tracker.sender_id, answer.version, answer.topic, language)
    return events + [
        SlotSet("kb_version", answer.version),
        SlotSet("kb_version_seen", answer.version),
        SlotSet("answer_topic", answer.topic),
    ]


class ActionSessionStart(Action):
    """Start a session as Rasa does, carrying slots over, and tell a returning customer what changed."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        carried = [
            SlotSet(key, value)
            for key, value in tracker.current_slot_values().items()
            if value is not None and key != "answer_topic"
        ]
        events: list[EventType] = [SessionStarted(), *carried]
        try:
            events += notice_changes(tracker, dispatcher, conversation_language(tracker))
        except BackOfficeError as exc:
            logger.warning("could not check for knowledge-base changes: %s", exc)
        return events + [ActionExecuted("action_listen")]


class ActionDefaultFallback(Action):
    """Say plainly what the assistant can help with when no rule fits (e.g. a hand-typed `/intent`)."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=sentence("not_understood", conversation_language(tracker)))
        return [UserUtteranceReverted()]


def respond(dispatcher: CollectingDispatcher, tracker: Tracker, key: str) -> list[EventType]:
    """A short fixed answer from the text catalogue (`assistant.responses`) in the conversation's language;
    a greeting before the language is known is said in every language, the default first."""
    if key == "greet" and tracker.get_slot("language") not in LANGUAGES:
        greeting = texts.in_every_language("assistant.responses.greet_any_language", "\n", first=DEFAULT_LANGUAGE)
        dispatcher.utter_message(text=greeting)
    else:
        dispatcher.utter_message(text=texts.text(conversation_language(tracker), f"assistant.responses.{key}"))
    return []


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return respond(dispatcher, tracker, "greet")


class ActionGoodbye(Action):
    def name(self) -> str:
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return respond(dispatcher, tracker, "goodbye")


class ActionThanks(Action):
    """The answer to a thank-you."""

    def name(self) -> str:
        return "action_thanks"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return respond(dispatcher, tracker, "thanks")


class ActionIAmABot(Action):
    """The answer to "are you a bot?": yes, and a person can be asked for."""

    def name(self) -> str:
        return "action_iamabot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return respond(dispatcher, tracker, "iamabot")
