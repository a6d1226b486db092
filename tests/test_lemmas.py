"""The lemma tokenizer: Dutch and English word forms count as one word, what the customer typed stays."""
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.lemmas import MAX_WORD_LENGTH, LemmaTokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return LemmaTokenizer(LemmaTokenizer.get_default_config())


def lemmas(tokenizer, text):
    return [t.lemma for t in tokenizer.tokenize(Message(data={TEXT: text}), TEXT)]


@pytest.mark.parametrize("forms", [
    ("verwijder mijn gegevens", "verwijderd mijn gegevens", "verwijderen mijn gegevens"),
    ("bewaart u mijn kinderen", "bewaren u mijn kind"),
    ("deleted my accounts", "deleting my account"),
    ("sharing with companies", "shares with company"),
])
def test_word_forms_share_their_lemmas(tokenizer, forms):
    assert len({tuple(lemmas(tokenizer, text)) for text in forms}) == 1, [lemmas(tokenizer, t) for t in forms]


def test_token_text_and_offsets_stay_as_typed(tokenizer):
    text = "Hoe komt u aan mijn Adres?"
    tokens = tokenizer.tokenize(Message(data={TEXT: text}), TEXT)
    assert [t.text for t in tokens] == ["Hoe", "komt", "u", "aan", "mijn", "Adres"]
    assert all(text[t.start:t.end] == t.text for t in tokens)
    assert tokens[1].lemma == "komen"


def test_what_is_no_word_keeps_its_text(tokenizer):
    long_word = "a" * (MAX_WORD_LENGTH + 1)
    assert lemmas(tokenizer, f"code 123456 {long_word} jan@example.com") == ["code", "123456", long_word, "jan@example.com"]
