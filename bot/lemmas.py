"""Tokenizer that gives each word its Dutch or English dictionary form (lemma).

"verwijderd", "verwijder" and "verwijderen" then count as one word for the classifier, as do
"kinderen" and "kind", "deleted" and "delete": the few examples per topic cover more of the ways
customers write. The lemmas come from `simplemma`, whose dictionaries ship inside the package
(nothing is downloaded at run time). The token text itself is kept, so entities and the character
n-grams still see what the customer typed.
"""
from __future__ import annotations

from typing import Any

import simplemma
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

# Dutch first: most customers write Dutch, and a word in both dictionaries gets its Dutch form
# in every message, in training and when answering alike.
LANGUAGES = ("nl", "en")
# a token longer than this is no word (a pasted link or code): it keeps its text
MAX_WORD_LENGTH = 40


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class LemmaTokenizer(WhitespaceTokenizer):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        lemma("gegevens")  # loads the dictionaries when the model loads, not at the first customer's message

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LemmaTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        for token in tokens:
            token.lemma = lemma(token.text)
        return tokens


def lemma(word: str) -> str:
    """The dictionary form of a word, lower case; the word itself when no dictionary knows it."""
    lowered = word.lower()
    if len(lowered) > MAX_WORD_LENGTH or not any(ch.isalpha() for ch in lowered):
        return lowered
    return simplemma.lemmatize(lowered, lang=LANGUAGES).lower()
