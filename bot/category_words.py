"""NLU component that finds the data category a question names, also when it is misspelled.

DIET finds "telefoonnummer" as the category contact details, but a typo ("telefonnummer") is a word
it never saw, and the answer then lists everything instead of what was asked. This component learns
the words for each category from the training data's synonyms and annotated examples, and when a
message has no known category it looks for a word (or two words) within one or two letters of one
of them. Only words of at least `min_chars` letters are compared, so "naam" never becomes "maan".

Linear in the message: at most `max_chars` of it are read, each word once.
"""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

ENTITY = "data_category"
WORDS_FILE = "category_words.json"
WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class CategoryWords(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # how alike a typed word and a category's word must be (difflib's ratio; one letter in eight)
            "cutoff": 0.88,
            "min_chars": 7,
            "max_chars": 500,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 words: dict[str, str] | None = None) -> None:
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.words = words or {}  # a category's word (lower case) -> the category's id

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> CategoryWords:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> CategoryWords:
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((Path(directory) / WORDS_FILE).read_text())
        except (ValueError, FileNotFoundError):
            words = {}
        return cls(config, model_storage, resource, words)

    def train(self, training_data: TrainingData) -> Resource:
        self.words = category_words(training_data)
        with self.model_storage.write_to(self.resource) as directory:
            (Path(directory) / WORDS_FILE).write_text(json.dumps(self.words, sort_keys=True))
        return self.resource

    def process(self, messages: list[Message]) -> list[Message]:
        categories = set(self.words.values())
        for message in messages:
            entities = message.get(ENTITIES, [])
            named = [e for e in entities if e.get("entity") == ENTITY]
            if any(e.get("value") in categories for e in named):
                continue
            found = self.category_in(message.get(TEXT) or "")
            if found is None:
                continue
            category, start, end = found
            kept = [e for e in entities if e.get("entity") != ENTITY]
            kept.append({"entity": ENTITY, "value": category, "start": start, "end": end,
                         "confidence_entity": 1.0, "extractor": type(self).__name__})
            message.set(ENTITIES, kept, add_to_output=True)
        return messages

    def category_in(self, text: str) -> tuple[str, int, int] | None:
        """The first category a word (or two words) of the text spells, nearly: (id, start, end)."""
        known = [w for w in self.words if len(w) >= self.config["min_chars"]]
        words = list(WORD.finditer(text[: self.config["max_chars"]]))
        candidates = [(m.group(0), m.start(), m.end()) for m in words]
        candidates += [(f"{a.group(0)} {b.group(0)}", a.start(), b.end()) for a, b in zip(words, words[1:], strict=False)]
        for typed, start, end in candidates:
            if len(typed) < self.config["min_chars"]:
                continue
            close = difflib.get_close_matches(typed.lower(), known, n=1, cutoff=self.config["cutoff"])
            if close:
                return self.words[close[0]], start, end
        return None


def category_words(training_data: TrainingData) -> dict[str, str]:
    """Every word the training data uses for a category: its synonyms and its annotated examples."""
    words: dict[str, str] = {}
    for example in training_data.entity_examples:
        text = example.get(TEXT) or ""
        for entity in example.get(ENTITIES, []):
            if entity.get("entity") == ENTITY and isinstance(entity.get("value"), str):
                words[text[entity["start"]:entity["end"]].lower()] = entity["value"]
    categories = set(words.values())
    words.update({k.lower(): v for k, v in training_data.entity_synonyms.items() if v in categories})
    return words
