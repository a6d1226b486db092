"""The text catalogue: every sentence a customer or a member of staff reads is in `<language>.yml` beside
this file, one file per language, so a translator finds a language's texts in one file and a new language
is one new file. Both sides of the assistant read it through this module: the action server and the chat
channels (Rasa's side) and the back office (backoffice/sentences.py).

Each file has the same keys, by section: `common` (names both sides use), `assistant` (the action
server's sentences and the responses that were bot/domain.yml's), `channels` (what a channel says
itself), `back_office` (its e-mails and chat notices), `console` (the staff console's labels) and
`widget` (the website chat's labels). `{company}` is the company's name, the COMPANY_NAME setting,
filled in when a text is read; every other `{name}` is a value the code fills in.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).resolve().parent
DEFAULT_COMPANY = "Voltera"
COMPANY = "{company}"
# The languages, from the files present: the first is the one a text in every language starts with.
FIRST_LANGUAGE = "nl"
LANGUAGES: tuple[str, ...] = tuple(sorted((path.stem for path in FOLDER.glob("*.yml")),
                                          key=lambda lang: (lang != FIRST_LANGUAGE, lang)))


def in_order(first: str = FIRST_LANGUAGE) -> list[str]:
    """The languages with `first` first: the order of a text in every language."""
    return sorted(LANGUAGES, key=lambda lang: lang != first)


@lru_cache(maxsize=1)
def _files() -> dict[str, dict]:
    return {lang: yaml.safe_load((FOLDER / f"{lang}.yml").read_text(encoding="utf-8")) for lang in LANGUAGES}


def entry(language: str, path: str) -> Any:
    """One entry (a text, or a section of them) in one language, by its dotted path ("channels.too_long"),
    as the file has it: `{company}` not filled in."""
    found: Any = _files()[language]
    for key in path.split("."):
        found = found[key]
    return found


def with_company(value: Any, company: str) -> Any:
    """An entry with `{company}` filled in (a text is formatted again with its own values)."""
    if isinstance(value, str):
        return value.replace(COMPANY, company)
    if isinstance(value, dict):
        return {key: with_company(item, company) for key, item in value.items()}
    if isinstance(value, list):
        return [with_company(item, company) for item in value]
    return value


# The assistant's side: the company's name from this process's environment.

def company_name() -> str:
    """The company's name as customers know it (COMPANY_NAME), not its legal name (the knowledge base's)."""
    name = os.environ.get("COMPANY_NAME", "").strip() or DEFAULT_COMPANY
    if "{" in name or "}" in name:
        raise ValueError("COMPANY_NAME may not contain { or }")
    return name


def text(language: str, path: str) -> Any:
    """One entry in one language with this process's company name."""
    return with_company(entry(language, path), company_name())


def catalogue() -> dict[str, dict]:
    """Every language's texts, by language, with this process's company name."""
    return {lang: with_company(_files()[lang], company_name()) for lang in LANGUAGES}


def by_language(path: str) -> dict[str, Any]:
    """One entry in every language: {"nl": ..., "en": ...}."""
    return {lang: text(lang, path) for lang in LANGUAGES}


def by_id(path: str) -> dict[str, dict[str, Any]]:
    """A section of names by id, each in every language: {id: {"nl": ..., "en": ...}}."""
    return {key: {lang: text(lang, f"{path}.{key}") for lang in LANGUAGES} for key in entry(LANGUAGES[0], path)}


def in_every_language(path: str, separator: str, first: str = FIRST_LANGUAGE) -> str:
    """One text in every language after each other, `first` first, for when the reader's language is not known."""
    return separator.join(text(lang, path) for lang in in_order(first))
