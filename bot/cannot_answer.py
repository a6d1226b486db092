"""NLU component that marks a message the assistant cannot answer as not understood.

That is an empty message, or one that `bot.language.LanguageDetector` found to be in a language
the assistant does not speak. A classifier still predicts some intent for those (often a small-talk
one); the customer should instead hear which languages it speaks and what it can help with.
"""
from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CannotAnswerClassifier(GraphComponent):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> CannotAnswerClassifier:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            other_language = any(
                e.get("entity") == "language" and e.get("value") == "other" for e in message.get(ENTITIES, [])
            )
            if other_language or not (message.get(TEXT) or "").strip():
                message.set(INTENT, {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": 1.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages
