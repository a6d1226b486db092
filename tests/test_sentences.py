"""Every sentence a customer can read has its Dutch and its English, with the same values to fill in,
and every id the back office serves has its name in both."""
from __future__ import annotations

import string

import pytest

from actions import sentences
from actions.backoffice import BackOfficeClient, Vocabulary
from connectors import sentences as channel_sentences

WORDINGS = {
    "SENTENCES": sentences.SENTENCES, "RIGHT_NAMES": sentences.RIGHT_NAMES, "CONSENT_NAMES": sentences.CONSENT_NAMES,
    "FIELD_NAMES": sentences.FIELD_NAMES, "STATUS_NAMES": sentences.STATUS_NAMES, "TOPIC_LABELS": sentences.TOPIC_LABELS,
    "LEGAL_BASES": sentences.LEGAL_BASES, "channel NOTICES": channel_sentences.NOTICES,
    "channel TOO_LONG": {"too_long": channel_sentences.TOO_LONG},
}


def placeholders(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("table", WORDINGS)
def test_every_sentence_is_in_both_languages_with_the_same_placeholders(table):
    for key, wording in WORDINGS[table].items():
        assert set(wording) == set(sentences.LANGUAGES), f"{table}[{key!r}]"
        assert all(wording[language].strip() for language in sentences.LANGUAGES), f"{table}[{key!r}]"
        assert placeholders(wording["nl"]) == placeholders(wording["en"]), f"{table}[{key!r}]"


def test_months_and_examples_are_in_both_languages():
    assert all(len(sentences.MONTHS[language]) == 12 for language in sentences.LANGUAGES)
    for field, examples in sentences.FIELD_EXAMPLES.items():
        assert set(examples) == set(sentences.LANGUAGES), field
    assert channel_sentences.LANGUAGES == sentences.LANGUAGES


@pytest.fixture(scope="module")
def served(backoffice_url, stack) -> Vocabulary:
    """The ids as the back office serves them to the actions (GET /api/vocabulary)."""
    return BackOfficeClient(backoffice_url, stack.env["BACKOFFICE_SERVICE_TOKEN"]).vocabulary()


def test_every_id_the_back_office_serves_has_its_name_in_both_languages(served):
    for table, name, ids in ((sentences.RIGHT_NAMES, "RIGHT_NAMES", served.rights),
                             (sentences.STATUS_NAMES, "STATUS_NAMES", served.statuses),
                             (sentences.CONSENT_NAMES, "CONSENT_NAMES", served.consents),
                             (sentences.FIELD_NAMES, "FIELD_NAMES", served.correctable_fields),
                             (sentences.FIELD_EXAMPLES, "FIELD_EXAMPLES", served.correctable_fields)):
        missing = [i for i in ids if set(table.get(i, {})) != set(sentences.LANGUAGES)]
        assert not missing, f"served ids without a name in both languages in actions/sentences.py {name}: {missing}"


def test_the_vocabulary_of_the_tests_without_a_back_office_is_served(served, vocabulary):
    """tests/conftest.py's copy for the pure functions' tests names no id the back office does not serve."""
    for kind in ("rights", "statuses", "consents", "direct_marketing", "correctable_fields", "address_parts"):
        assert set(getattr(vocabulary, kind)) <= set(getattr(served, kind)), kind
    assert set(vocabulary.direct_marketing) == set(served.direct_marketing) & set(vocabulary.consents)
