"""The answer to the assistant's question for a value, taken as that value before anything else.

When the assistant asks which detail to correct or its new value, the form typed_value_form takes the
customer's next message, whatever the NLU made of it ("Prinsengracht 263, 1016 GV Amsterdam" is no
question about data), and action_take_value carries on with what was asked. What was asked waits in
pending_request as an unconfirmed draft (`missing` says what it lacks); the summary the customer
confirms is stored in the back office, as every other request's is. A new kind of value needs a
reader in `READERS` and a question that ends with `ask_for_value`.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import rights
from .actions import answer_from_knowledge, backoffice
from .answers import INTENT_TOPICS
from .backoffice import Vocabulary
from .customer_actions import CustomerAction, ask_to_confirm, entity_values
from .sentences import FIELD_EXAMPLES, FIELD_NAMES, sentence

Draft = dict[str, Any]
Reader = Callable[[Draft, str, dict[str, list[str]], Vocabulary], bool]


def read_field(draft: Draft, typed: str, entities: dict[str, list[str]], vocabulary: Vocabulary) -> bool:
    """Which detail to correct; its value too when the customer typed "new address: ..." at once."""
    field = rights.field_named(typed, entities, vocabulary)
    if not field:
        return False
    draft["details"]["field"] = field
    draft["missing"] = "value"
    read_value(draft, typed, entities, vocabulary)
    return True


def read_value(draft: Draft, typed: str, entities: dict[str, list[str]], vocabulary: Vocabulary) -> bool:
    """The new value of the detail asked for, typed with or without "new address:" before it."""
    field = draft["details"].get("field")
    if field not in vocabulary.correctable_fields:
        return False
    value = rights.read_value(field, next(iter(entities.get("correction_value", [])), typed))
    if value is None:
        return False
    draft["details"]["value"] = value
    draft.pop("missing", None)
    return True


READERS: dict[str, Reader] = {"field": read_field, "value": read_value}


class ActionTakeValue(CustomerAction):
    """Carry on with what the customer typed after the assistant asked for a value (typed_value_form)."""

    def name(self) -> str:
        return "action_take_value"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> list[EventType]:
        typed = tracker.get_slot("typed_value")
        pending = tracker.get_slot("pending_request")
        events: list[EventType] = [SlotSet("typed_value", None)]
        missing = pending.get("missing") if isinstance(pending, dict) else None
        reader = READERS.get(missing) if isinstance(missing, str) else None
        if reader is None or not isinstance(typed, str) or not isinstance(pending.get("details"), dict):
            dispatcher.utter_message(text=sentence("verified_next", language))
            return events + [SlotSet("pending_request", None)]
        draft = copy.deepcopy(pending)
        if reader(draft, typed, entity_values(tracker), backoffice().vocabulary()):
            return events + ask_to_confirm(dispatcher, tracker, draft, language)
        return events + not_read(dispatcher, tracker, pending, language)


def not_read(dispatcher: CollectingDispatcher, tracker: Tracker, pending: Draft, language: str) -> list[EventType]:
    """The message was not the value asked for: a question is answered, a "no" drops the request, and
    anything else hears how to type the value. Nothing waits for a value any more."""
    intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
    done: list[EventType] = [SlotSet("pending_request", None)]
    if intent == "deny":
        dispatcher.utter_message(text=sentence("canceled", language))
        return done
    if intent.startswith("ask_") and intent in INTENT_TOPICS:
        return answer_from_knowledge(dispatcher, tracker, INTENT_TOPICS[intent], intent) + done
    field = pending["details"].get("field")
    if pending.get("missing") == "value" and field in FIELD_EXAMPLES:
        word, example = FIELD_EXAMPLES[field][language]
        dispatcher.utter_message(text=sentence("value_not_read", language, field=FIELD_NAMES[field][language],
                                               word=word, example=example))
    else:
        dispatcher.utter_message(text=sentence("field_not_read", language))
    return done
