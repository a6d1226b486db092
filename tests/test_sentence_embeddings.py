"""The sentence-embedding featurizer: one multilingual vector per message, the same in training and
when answering, and a Dutch question lands nearer its English meaning than an unrelated one."""
import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.sentence_embeddings import SentenceEmbeddingFeaturizer


@pytest.fixture(scope="module")
def featurizer():
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "batch_size": 2}
    return SentenceEmbeddingFeaturizer(config, ExecutionContext(None, None, "sentence_embeddings"))


def sentence_vector(message: Message) -> np.ndarray:
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is None
    return sentence.features[0]


def test_training_and_answering_give_the_same_vector(featurizer):
    texts = ["Hoe lang bewaren jullie mijn gegevens?", "delete my account", "wifi in de winkel"]
    training = TrainingData([Message(data={TEXT: t}) for t in texts])
    featurizer.process_training_data(training)
    answering = featurizer.process([Message(data={TEXT: t}) for t in texts])
    for trained, answered in zip(training.training_examples, answering):
        vector = sentence_vector(trained)
        assert vector.shape == (384,)
        assert np.allclose(vector, sentence_vector(answered), atol=1e-5)
        assert abs(np.linalg.norm(vector) - 1) < 1e-3


def test_a_dutch_question_is_near_its_english_meaning(featurizer):
    nl, en, other = featurizer.embed(
        ["Hoe lang bewaren jullie mijn gegevens?", "How long do you keep my data?", "Wanneer wordt mijn pakket bezorgd?"]
    )
    assert float(nl @ en) > float(nl @ other)


def test_empty_and_very_long_messages(featurizer):
    assert featurizer.process([Message(data={TEXT: ""})])[0].get_dense_features(TEXT) == (None, None)
    assert featurizer.embed(["gegevens " * 2000]).shape == (1, 384)
