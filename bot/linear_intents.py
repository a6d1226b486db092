"""A second opinion on the intent: a linear classifier over lemmas and character n-grams.

DIET learns each intent from a few hundred examples and its guess on a question unlike them swings
with its random start. A linear support-vector machine over the same words (their lemmas) and the
character n-grams of what was typed generalises differently: it weighs every word it saw, and trains
in about a second. How much each counts depends on the language `bot.language.LanguageDetector`
found: on real English questions the blend of both does best, on real Dutch ones the linear model
(docs/evaluation.md gives each). For English a second linear model also reads the multilingual
sentence encoder's vector of the message (bot/sentence_encoder.py), which carries the meaning of
wordings no example has; for Dutch that model did worse, so Dutch messages never pay for the
encoder. Both rankings sum to 1, so the fallback threshold and the clarifying buttons of
`FallbackClassifier` keep their meaning.
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from bot import language, sentence_encoder
from bot.lemmas import lemma

logger = logging.getLogger(__name__)
MODEL_FILE = "linear_intents.joblib"
# a word: letters and digits, with inner apostrophes or hyphens ("e-mail", "m'n"); punctuation dropped
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # the linear model's share of the blend per language (DIET has the rest), and when no
            # language was found (a short message on a page that named none)
            "weights": {"nl": 1.0, "en": 0.6},
            "weight": 0.5,
            # support-vector margin: higher fits the examples more closely
            "C": 1.0,
            # scores become a ranking through a softmax of this sharpness
            "sharpness": 5.0,
            "max_ngram": 5,
            # per language, the weight of the sentence encoder's 512 numbers beside the word and the
            # character features (each of length 1): a language named here gets the model with them
            "sentence_encoder_weights": {"en": 2.0},
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: dict[str, Any] | None = None) -> None:
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.model = model

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(Path(directory) / MODEL_FILE)
        except ValueError:
            logger.warning("LinearIntentClassifier has no trained model: DIET's intent stands alone")
            model = None
        if model and model.get("encoded"):
            sentence_encoder.encode(["ready"])  # its weights load with the model, not at a customer's first message
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        if len({m.get(INTENT) for m in examples}) < 3:  # sklearn ranks two intents by one margin, not two
            return self.resource
        self.model = fit([m.get(TEXT) for m in examples], [m.get(INTENT) for m in examples], self.config)
        with self.model_storage.write_to(self.resource) as directory:
            joblib.dump(self.model, Path(directory) / MODEL_FILE)
        return self.resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        for message in messages:
            text = message.get(TEXT) or ""
            ranking = message.get(INTENT_RANKING_KEY)
            if not text.strip() or not ranking:
                continue
            found = language_of(message)
            weight = self.config["weights"].get(found, self.config["weight"])
            blended = blend({r[INTENT_NAME_KEY]: r[PREDICTED_CONFIDENCE_KEY] for r in ranking},
                            self.scores(text, found), weight)
            top = sorted(blended.items(), key=lambda kv: -kv[1])[:LABEL_RANKING_LENGTH]
            ranked = [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence} for name, confidence in top]
            message.set(INTENT, ranked[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranked, add_to_output=True)
        return messages

    def scores(self, text: str, found_language: str | None = None) -> dict[str, float]:
        assert self.model is not None
        return scores(self.model, text, self.config["sharpness"], found_language)


def fit(texts: list[str], intents: list[str], config: dict[str, Any]) -> dict[str, Any]:
    """The model over words and characters, and per language of `sentence_encoder_weights` one that
    also reads the sentence encoder's vector (all examples of every language train each)."""
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    characters = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, config["max_ngram"]), sublinear_tf=True)
    features = hstack([words.fit_transform([lemmas(t) for t in texts]),
                       characters.fit_transform([t.lower() for t in texts])]).tocsr()
    model: dict[str, Any] = {"words": words, "characters": characters, "svm": LinearSVC(C=config["C"]).fit(features, intents),
                             "encoded": {}}
    weights = {lang: float(w) for lang, w in (config.get("sentence_encoder_weights") or {}).items() if w}
    if weights:
        vectors = sentence_encoder.encode(texts)
        for lang, weight in weights.items():
            with_vectors = hstack([features, csr_matrix(weight * vectors)]).tocsr()
            model["encoded"][lang] = {"weight": weight, "svm": LinearSVC(C=config["C"]).fit(with_vectors, intents)}
    return model


def scores(model: dict[str, Any], text: str, sharpness: float, found_language: str | None = None) -> dict[str, float]:
    """The linear model's ranking of every intent, summing to 1 (with the sentence encoder's vector
    when the message's language has a model that reads it)."""
    features = hstack([model["words"].transform([lemmas(text)]), model["characters"].transform([text.lower()])])
    encoded = model.get("encoded", {}).get(found_language)
    if encoded:
        features = hstack([features, csr_matrix(encoded["weight"] * sentence_encoder.encode([text]))])
        margins = encoded["svm"].decision_function(features.tocsr())[0]
    else:
        margins = model["svm"].decision_function(features)[0]
    best = max(margins)
    exps = [math.exp(sharpness * (m - best)) for m in margins]
    total = sum(exps)
    return {str(name): e / total for name, e in zip(model["svm"].classes_, exps, strict=True)}


def blend(diet: dict[str, float], linear: dict[str, float], weight: float) -> dict[str, float]:
    return {name: (1 - weight) * diet.get(name, 0.0) + weight * linear.get(name, 0.0) for name in set(diet) | set(linear)}


def language_of(message: Message) -> str | None:
    return next((e[ENTITY_ATTRIBUTE_VALUE] for e in message.get(ENTITIES, [])
                 if e.get(ENTITY_ATTRIBUTE_TYPE) == language.ENTITY), None)


def lemmas(text: str) -> str:
    return " ".join(lemma(word) for word in WORD.findall(text))
