"""NLU component that recognises values the customer types for the assistant: data, not language.

- an e-mail address to verify with ("jan@example.nl") -> `inform_email`, entity `email`;
- a one-time code ("482 913") -> `inform_code`, entity `code`;
- a corrected detail ("new address: Kerkstraat 5, Utrecht", "mijn nieuwe telefoonnummer is 06...")
  -> `request_correction`, entities `correction_field` and `correction_value`.

A classifier trained on sentences guesses badly at these, and the language detector cannot tell
their language, so they are recognised by their shape, with full confidence. This decides nothing
about identity: the back office checks the address and the code, and files only for the customer
the conversation was verified as.

What an e-mail address and a code look like is defined once for the Rasa side, in
bot/value_shapes.py. Every pattern runs over what a customer typed, so each stays linear in the
text's length: an address match starts only where a run of address characters starts (a pattern
free to start anywhere in a 100,000-character word tried every position of it, about 20 s per
message), and a message longer than any typed value can be is not matched at all.
"""
from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.value_shapes import CODE, EMAIL

MAX_WORDS_AROUND_EMAIL = 4
# The longest message that can be a typed value: an address (at most 254 characters) with a few words,
# or a correction (a value of at most 300 characters after "my new address is").
MAX_TYPED_VALUE_CHARS = 400
FIELD_NAMES = {
    "address": "address", "adres": "address", "e-mail": "email", "email": "email", "e-mail address": "email",
    "email address": "email", "e-mailadres": "email", "emailadres": "email", "phone": "phone", "phone number": "phone",
    "telefoonnummer": "phone", "telefoon": "phone", "name": "name", "naam": "name",
}
CORRECTION = re.compile(
    r"^\s*(?:my |mijn )?(?:new|nieuwe?|correct|juiste)\s+(" + "|".join(sorted(map(re.escape, FIELD_NAMES), key=len, reverse=True))
    + r")\s*(?:is|:|=|moet zijn|should be)\s*(.{1,300}?)\s*$",
    re.IGNORECASE,
)


def recognise_correction(text: str) -> tuple[str, str] | None:
    """(field, new value) for "new address: ..." and the like, else None."""
    if len(text) > MAX_TYPED_VALUE_CHARS:
        return None
    found = CORRECTION.match(text)
    return (FIELD_NAMES[found.group(1).lower()], found.group(2)) if found else None


def recognise(text: str) -> tuple[str, str, int, int] | None:
    """(intent, value, start, end) when the message is an e-mail address or a code, else None."""
    text = text.strip()
    if len(text) > MAX_TYPED_VALUE_CHARS or recognise_correction(text):
        return None
    code = CODE.match(text)
    if code:
        return "inform_code", code.group(1) + code.group(2), code.start(1), code.end(2)
    emails = list(EMAIL.finditer(text))
    if len(emails) == 1:
        found = emails[0]
        rest = (text[: found.start()] + " " + text[found.end():]).split()
        if len(rest) <= MAX_WORDS_AROUND_EMAIL:
            return "inform_email", found.group(0), found.start(), found.end()
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class TypedValueClassifier(GraphComponent):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> TypedValueClassifier:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            correction = recognise_correction(text)
            if correction is not None:
                field, value = correction
                self._set(message, "request_correction", [("correction_field", field), ("correction_value", value)])
                continue
            found = recognise(text)
            if found is None:
                continue
            intent, value, _start, _end = found
            self._set(message, intent, [("email" if intent == "inform_email" else "code", value)])
        return messages

    def _set(self, message: Message, intent: str, values: list[tuple[str, str]]) -> None:
        # A typed value says nothing about the language (keep the conversation's) or a data category.
        entities = [e for e in message.get(ENTITIES, [])
                    if e.get("entity") not in ("language", "data_category", *(name for name, _ in values))]
        entities += [{"entity": name, "value": value, "confidence_entity": 1.0, "extractor": type(self).__name__}
                     for name, value in values]
        message.set(ENTITIES, entities, add_to_output=True)
        message.set(INTENT, {"name": intent, "confidence": 1.0}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 1.0}], add_to_output=True)
