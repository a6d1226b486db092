"""The linear second opinion: trained on examples, saved in the model and loaded again, blended with DIET."""
import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import sentence_encoder
from bot.linear_intents import LinearIntentClassifier

EXAMPLES = {
    "request_deletion": ["verwijder mijn gegevens", "wis mijn account", "delete my data", "remove my account"],
    "ask_retention": ["hoe lang bewaren jullie mijn gegevens", "wat is de bewaartermijn", "how long do you keep my data"],
    "out_of_scope": ["wanneer wordt mijn pakket bezorgd", "wat kost een laptop", "where is my parcel"],
}


def diet_says(text, ranking, language=None):
    """A message as DIET leaves it: its intent and ranking set, and the language the detector found."""
    message = Message(data={TEXT: text})
    if language:
        message.set(ENTITIES, [{"entity": "language", "value": language, "extractor": "LanguageDetector"}])
    message.set(INTENT, {"name": ranking[0][0], "confidence": ranking[0][1]})
    message.set(INTENT_RANKING_KEY, [{"name": name, "confidence": confidence} for name, confidence in ranking])
    return message


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    resource = Resource("linear_intents")
    config = LinearIntentClassifier.get_default_config()
    component = LinearIntentClassifier.create(config, storage, resource, execution_context=None)
    component.train(TrainingData([Message(data={TEXT: text, INTENT: intent})
                                  for intent, texts in EXAMPLES.items() for text in texts]))
    return LinearIntentClassifier.load(config, storage, resource, execution_context=None)


def test_a_saved_model_loads_and_ranks_every_intent(trained):
    scores = trained.scores("hoe lang worden mijn gegevens bewaard")
    assert set(scores) == set(EXAMPLES)
    assert max(scores, key=scores.get) == "ask_retention"
    assert sum(scores.values()) == pytest.approx(1.0)


def test_a_word_form_never_seen_counts_through_its_lemma_and_ngrams(trained):
    # "verwijderd" and "gegevensbewaring" are in no example
    for text, intent in [("is alles verwijderd?", "request_deletion"), ("vraag over gegevensbewaring", "ask_retention")]:
        scores = trained.scores(text)
        assert max(scores, key=scores.get) == intent


def test_when_diet_is_unsure_the_linear_model_decides(trained):
    unsure = [("out_of_scope", 0.4), ("ask_retention", 0.35), ("request_deletion", 0.25)]
    [message] = trained.process([diet_says("hoe lang bewaren jullie dat", unsure)])
    assert message.get(INTENT)["name"] == "ask_retention"
    ranking = message.get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking][0] == "ask_retention"
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_when_both_agree_the_intent_stays_and_is_surer_than_the_runner_up(trained):
    [message] = trained.process([diet_says("verwijder alles", [("request_deletion", 0.9), ("ask_retention", 0.1)])])
    ranking = message.get(INTENT_RANKING_KEY)
    assert ranking[0]["name"] == "request_deletion"
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.5


def test_each_language_has_its_own_share(trained):
    # as if configured so: the linear model decides Dutch intents, DIET English ones
    per_language = LinearIntentClassifier(dict(trained.config, weights={"nl": 1.0, "en": 0.0}),
                                          trained.model_storage, trained.resource, trained.model)
    sure = [("out_of_scope", 1.0), ("ask_retention", 0.0), ("request_deletion", 0.0)]
    [dutch] = per_language.process([diet_says("hoe lang bewaren jullie dat", sure, "nl")])
    assert dutch.get(INTENT)["name"] == "ask_retention"
    [english] = per_language.process([diet_says("how long do you keep that", sure, "en")])
    assert english.get(INTENT)["name"] == "out_of_scope"


def test_a_message_no_classifier_ranked_is_left_alone(trained):
    # an empty message or one in a third language: later components decide
    message = Message(data={TEXT: ""})
    [message] = trained.process([message])
    assert message.get(INTENT) is None


def test_without_a_trained_model_diet_stands_alone(tmp_path):
    storage = LocalModelStorage(tmp_path)
    component = LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage, Resource("never_trained"),
                                            execution_context=None)
    [message] = component.process([diet_says("wat kost dit", [("out_of_scope", 0.8), ("ask_retention", 0.2)])])
    assert message.get(INTENT) == {"name": "out_of_scope", "confidence": 0.8}


def test_the_sentence_encoder_gives_one_unit_vector_per_text_and_similar_meanings_lie_close():
    vectors = sentence_encoder.encode(["welke gegevens verzamelen jullie over mij", "which data do you collect about me",
                                       "wanneer gaat de winkel open"])
    assert vectors.shape == (3, 512)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3  # the same question in two languages


def test_only_a_language_named_for_the_encoder_gets_the_model_that_reads_it(trained, monkeypatch):
    assert set(trained.model["encoded"]) == {"en"}
    read: list[list[str]] = []
    real_encode = sentence_encoder.encode
    monkeypatch.setattr(sentence_encoder, "encode", lambda texts: read.append(texts) or real_encode(texts))
    unsure = [("out_of_scope", 0.4), ("ask_retention", 0.35), ("request_deletion", 0.25)]
    [dutch] = trained.process([diet_says("hoe lang bewaren jullie dat", unsure, "nl")])
    assert read == []  # a Dutch message never pays for the encoder
    [english] = trained.process([diet_says("for how long do you keep my data", unsure, "en")])
    assert read == [["for how long do you keep my data"]]
    assert english.get(INTENT)["name"] == "ask_retention"
    assert sum(r["confidence"] for r in english.get(INTENT_RANKING_KEY)) == pytest.approx(1.0)


def test_a_model_that_reads_the_encoder_loads_its_weights_with_it(trained):
    sentence_encoder._encoder.cache_clear()
    LinearIntentClassifier.load(trained.config, trained.model_storage, trained.resource, execution_context=None)
    assert sentence_encoder._encoder.cache_info().currsize == 1  # ready before any customer's message
