"""The text catalogue (text-catalogue/texts/<language>.yml): every language's file has every key, with the same values to
fill in; every id the back office serves has its name in every language; and the assistant's and the
channels' texts, rendered by their own code, carry the company's name of COMPANY_NAME and never the demo
company's. (The back office's renderers, the staff console and the widget's texts: backend/tests/test_texts.py.)"""
from __future__ import annotations

import string
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import texts
from actions import sentences
from actions.actions import respond
from actions.backoffice import BackOfficeClient, Vocabulary
from connectors import limits, website, whatsapp

OTHER_COMPANY = "Acme Energie"


def placeholders(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def leaves(entry: Any, path: str = "") -> dict[str, Any]:
    """Every text of a catalogue file by its dotted path (a list's items by their index)."""
    if isinstance(entry, dict):
        return {found: text for key, item in entry.items()
                for found, text in leaves(item, f"{path}.{key}" if path else key).items()}
    if isinstance(entry, list):
        return {found: text for index, item in enumerate(entry) for found, text in leaves(item, f"{path}[{index}]").items()}
    return {path: entry}


def test_every_language_file_has_every_text_with_the_same_placeholders():
    files = {language: leaves(texts._files()[language]) for language in texts.LANGUAGES}
    assert set(texts.LANGUAGES) >= {"nl", "en"} and texts.LANGUAGES[0] == "nl"
    first, *others = texts.LANGUAGES
    for language in others:
        assert set(files[language]) == set(files[first]), f"keys only in one of {first}.yml and {language}.yml: " \
            f"{sorted(set(files[language]) ^ set(files[first]))}"
    for path, text in files[first].items():
        for language in texts.LANGUAGES:
            said = files[language][path]
            assert isinstance(said, str) and said.strip(), f"{language}.yml {path}: not a text"
            assert placeholders(said) == placeholders(text), f"{language}.yml {path}: other placeholders than {first}.yml"


def test_months_and_examples_are_in_every_language():
    assert all(len(sentences.MONTHS[language]) == 12 for language in sentences.LANGUAGES)
    for field, examples in sentences.FIELD_EXAMPLES.items():
        assert set(examples) == set(sentences.LANGUAGES), field


def assistant_and_channel_texts() -> list[str]:
    """Every sentence and short answer of the assistant and every notice of the channels, in every
    language, each made by the code that says it."""
    said = []
    for language in texts.LANGUAGES:
        for key in texts.text(language, "assistant.sentences"):
            values = {name: f"<{name}>" for name in placeholders(texts.text(language, f"assistant.sentences.{key}"))}
            said.append(sentences.sentence(key, language, **values))
        for key in texts.text(language, "assistant.responses"):
            dispatcher = CollectingDispatcher()
            respond(dispatcher, Tracker("someone", {"language": language}, {}, [], False, None, {}, ""), key)
            said += [message["text"] for message in dispatcher.messages]
        said += [website.notice(key, language) for key in texts.text(language, "channels.website")]
        said += [limits.too_long_answer("x", language), whatsapp.choice_label(language)]
        said += [texts.text(language, f"channels.{channel}.{key}") for channel in ("telegram", "teams")
                 for key in texts.text(language, f"channels.{channel}")]
    dispatcher = CollectingDispatcher()
    respond(dispatcher, Tracker("someone", {"language": None}, {}, [], False, None, {}, ""), "greet")
    return said + [message["text"] for message in dispatcher.messages] + [whatsapp.choice_label(None)]


def test_the_assistant_and_the_channels_name_the_company_of_the_setting(monkeypatch):
    monkeypatch.setenv("COMPANY_NAME", OTHER_COMPANY)
    said = assistant_and_channel_texts()
    assert not [text for text in said if "Voltera" in text or "{company}" in text]
    named = [text for text in said if OTHER_COMPANY in text]
    assert len(named) >= 8, named  # the greetings, the handoff, the ticket's verification
    assert sentences.sentence("handing_over", "en", position=2, minutes=5).startswith(
        f"I'm handing you over to a member of {OTHER_COMPANY}'s team.")
    monkeypatch.delenv("COMPANY_NAME")
    assert "Voltera's team" in sentences.sentence("handing_over", "en", position=2, minutes=5)  # the default
    monkeypatch.setenv("COMPANY_NAME", "Acme {x}")
    with pytest.raises(ValueError, match="COMPANY_NAME"):
        sentences.sentence("handing_over", "en", position=2, minutes=5)


@pytest.fixture(scope="module")
def served(backoffice_url, stack) -> Vocabulary:
    """The ids as the back office serves them to the actions (GET /api/vocabulary)."""
    return BackOfficeClient(backoffice_url, stack.env["BACKOFFICE_SERVICE_TOKEN"]).vocabulary()


def test_every_id_the_back_office_serves_has_its_name_in_every_language(served):
    for table, name, ids in ((sentences.RIGHT_NAMES, "common.rights", served.rights),
                             (sentences.STATUS_NAMES, "assistant.statuses", served.statuses),
                             (sentences.CONSENT_NAMES, "assistant.consents", served.consents),
                             (sentences.FIELD_NAMES, "assistant.fields", served.correctable_fields),
                             (sentences.FIELD_EXAMPLES, "assistant.field_examples", served.correctable_fields)):
        missing = [i for i in ids if set(table.get(i, {})) != set(sentences.LANGUAGES)]
        assert not missing, f"served ids without a name in every language in the text catalogue {name}: {missing}"


def test_the_vocabulary_of_the_tests_without_a_back_office_is_served(served, vocabulary):
    """tests/conftest.py's copy for the pure functions' tests names no id the back office does not serve."""
    for kind in ("rights", "statuses", "consents", "direct_marketing", "correctable_fields", "address_parts"):
        assert set(getattr(vocabulary, kind)) <= set(getattr(served, kind)), kind
    assert set(vocabulary.direct_marketing) == set(served.direct_marketing) & set(vocabulary.consents)
