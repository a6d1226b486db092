"""Every sentence a customer can read has its Dutch and its English, with the same values to fill in."""
from __future__ import annotations

import string

import pytest

from actions import sentences
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
