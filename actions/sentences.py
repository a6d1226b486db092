"""The action server's sentences, from the text catalogue (text-catalogue/texts/<language>.yml, section `assistant`):
`sentence` fills one in, in the customer's language; the tables below give the names of the ids the back
office serves (`GET /api/vocabulary`: rights, request statuses, consents, correctable fields) and of the
knowledge base's topics and legal bases, by id and language. tests/test_sentences.py checks that every
language file has every entry, with the same values to fill in, and every served id a name.

The other texts a customer reads have their own sections of the same catalogue (text-catalogue/texts/__init__.py): the
responses that were bot/domain.yml's (`assistant.responses`, said by actions/actions.py), what the chat
channels answer themselves (`channels`), and the back office's e-mails and chat notices (`back_office`).
The company's own texts about its data are the knowledge base's (knowledge/<version>/*.yml).
"""
from __future__ import annotations

from string import Formatter
from typing import Any

import texts

LANGUAGES = texts.LANGUAGES

Wording = dict[str, str]

# Every sentence by key and language, with this process's company name (COMPANY_NAME).
SENTENCES: dict[str, Wording] = texts.by_id("assistant.sentences")
# The names of the ids the back office serves (GET /api/vocabulary), by id.
RIGHT_NAMES: dict[str, Wording] = texts.by_id("common.rights")
CONSENT_NAMES: dict[str, Wording] = texts.by_id("assistant.consents")
FIELD_NAMES: dict[str, Wording] = texts.by_id("assistant.fields")
STATUS_NAMES: dict[str, Wording] = texts.by_id("assistant.statuses")
# How to type a corrected detail: the word after "new" and an example, per field.
FIELD_EXAMPLES: dict[str, dict[str, tuple[str, str]]] = {
    field: {lang: (example["word"], example["example"]) for lang, example in by_lang.items()}
    for field, by_lang in texts.by_id("assistant.field_examples").items()
}
# The knowledge base's topics (short labels for the buttons of a clarifying question) and legal bases, by id.
TOPIC_LABELS: dict[str, Wording] = texts.by_id("assistant.topics")
LEGAL_BASES: dict[str, Wording] = texts.by_id("assistant.legal_bases")
MONTHS: dict[str, tuple[str, ...]] = {lang: tuple(months) for lang, months in texts.by_language("common.months").items()}


SENTENCE_ENDS = (".", "!", "?")


def sentence(key: str, language: str, **values: Any) -> str:
    """The sentence in the customer's language, with its `{values}` filled in (and `{company}`, COMPANY_NAME).
    A value that ends a sentence itself (a legal name "... B.V.", a register text ending in a full stop)
    takes the place of the full stop after it."""
    composed: list[str] = []
    for literal, name, spec, conversion in _FORMATTER.parse(texts.text(language, f"assistant.sentences.{key}")):
        if literal.startswith(".") and composed and composed[-1].endswith(SENTENCE_ENDS):
            literal = literal[1:]
        composed.append(literal)
        if name is not None:
            value = _FORMATTER.convert_field(_FORMATTER.get_field(name, (), values)[0], conversion)
            composed.append(_FORMATTER.format_field(value, spec or ""))
    return "".join(composed)


_FORMATTER = Formatter()
