"""NLU component that tells which language a message is in, so the answer can be in the same one.

The assistant speaks Dutch and English. The website may pass its page language in the message
metadata (`{"language": "nl"}`); it decides when the text itself is too short or ambiguous to tell
("ok", "Wi-Fi?"). A message clearly in a third language is marked `other`, so the assistant can say
which languages it speaks. The detector is built once, when the model loads, not per message.
"""
from __future__ import annotations

from typing import Any

from lingua import Language, LanguageDetectorBuilder
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

ENTITY = "language"
SPOKEN = {Language.DUTCH: "nl", Language.ENGLISH: "en"}
OTHERS = [
    Language.GERMAN,
    Language.FRENCH,
    Language.SPANISH,
    Language.ITALIAN,
    Language.PORTUGUESE,
    Language.TURKISH,
    Language.POLISH,
    Language.ARABIC,
    Language.CHINESE,
    Language.RUSSIAN,
]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # a third language must be this sure (and the message this long) to count as `other`
            "other_min_confidence": 0.6,
            "other_min_words": 3,
            # Dutch or English wins when it is this much likelier than the other of the two
            "spoken_min_ratio": 1.5,
            # shorter messages ("ok", "ja", "hi") do not decide: the page or the last language does
            "min_letters": 6,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.detector = (
            LanguageDetectorBuilder.from_languages(*SPOKEN, *OTHERS).with_preloaded_language_models().build()
        )

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LanguageDetector:
        return cls(config)

    def detect(self, text: str, page_language: str | None = None) -> str | None:
        """`nl`, `en`, `other`, or None when neither the text nor the page tells."""
        fallback = page_language if page_language in ("nl", "en") else None
        if sum(ch.isalpha() for ch in text) < self.config["min_letters"]:
            return fallback
        confidences = {c.language: c.value for c in self.detector.compute_language_confidence_values(text)}
        best = max(confidences, key=lambda language: confidences[language])
        if (
            best not in SPOKEN
            and confidences[best] >= self.config["other_min_confidence"]
            and len(text.split()) >= self.config["other_min_words"]
        ):
            return "other"
        nl, en = confidences.get(Language.DUTCH, 0.0), confidences.get(Language.ENGLISH, 0.0)
        if nl >= en * self.config["spoken_min_ratio"] and nl > 0.05:
            return "nl"
        if en >= nl * self.config["spoken_min_ratio"] and en > 0.05:
            return "en"
        return fallback

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            metadata = message.get("metadata") or {}
            page_language = metadata.get("language") if isinstance(metadata, dict) else None
            language = self.detect(text, page_language)
            if language is None:
                continue
            entity = {
                "entity": ENTITY,
                "value": language,
                "start": 0,
                "end": len(text),
                "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
