"""The text catalogue, read for the assistant's side (the action server and the chat channels in the Rasa
server): every sentence a customer or a member of staff reads is in `texts/<language>.yml`, one file per
language, so a translator finds a language's texts in one file and a new language is one new file.

Each file has the same keys, by section: `common` (names both sides use), `assistant` (the action
server's sentences and the responses that were bot/domain.yml's), `channels` (what a channel says
itself), `back_office` (its e-mails and chat notices), `console` (the staff console's labels) and
`widget` (the website chat's labels). `{company}` is the company's name, the COMPANY_NAME setting,
filled in here when a file is read; every other `{name}` is a value the code fills in. The back office
reads the same files with its own loader (backend/backoffice/sentences.py).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).resolve().parent
DEFAULT_COMPANY = "Voltera"
# The languages, from the files present: the first is the one a text in every language starts with.
FIRST_LANGUAGE = "nl"
LANGUAGES: tuple[str, ...] = tuple(sorted((path.stem for path in FOLDER.glob("*.yml")),
                                          key=lambda lang: (lang != FIRST_LANGUAGE, lang)))


def company_name() -> str:
    """The company's name as customers know it (COMPANY_NAME), not its legal name (the knowledge base's)."""
    name = os.environ.get("COMPANY_NAME", "").strip() or DEFAULT_COMPANY
    if "{" in name or "}" in name:
        raise ValueError("COMPANY_NAME may not contain { or }")
    return name


def with_company(value: Any, company: str) -> Any:
    """The catalogue's texts with `{company}` filled in (a text is formatted again with its own values)."""
    if isinstance(value, str):
        return value.replace("{company}", company)
    if isinstance(value, dict):
        return {key: with_company(item, company) for key, item in value.items()}
    if isinstance(value, list):
        return [with_company(item, company) for item in value]
    return value


@lru_cache(maxsize=4)
def _catalogue(company: str) -> dict[str, dict]:
    return {lang: with_company(yaml.safe_load((FOLDER / f"{lang}.yml").read_text(encoding="utf-8")), company)
            for lang in LANGUAGES}


def catalogue() -> dict[str, dict]:
    """Every language's texts, by language, with the company's name of this process's COMPANY_NAME."""
    return _catalogue(company_name())


def text(language: str, path: str) -> Any:
    """One entry in one language, by its dotted path ("channels.too_long")."""
    found: Any = catalogue()[language]
    for key in path.split("."):
        found = found[key]
    return found


def by_language(path: str) -> dict[str, Any]:
    """One entry in every language: {"nl": ..., "en": ...}."""
    return {lang: text(lang, path) for lang in LANGUAGES}


def by_id(path: str) -> dict[str, dict[str, Any]]:
    """A section of names by id, each in every language: {id: {"nl": ..., "en": ...}}."""
    return {key: {lang: text(lang, f"{path}.{key}") for lang in LANGUAGES} for key in text(LANGUAGES[0], path)}


def in_every_language(path: str, separator: str, first: str = FIRST_LANGUAGE) -> str:
    """One text in every language after each other, `first` first, for when the reader's language is not known."""
    return separator.join(text(lang, path) for lang in sorted(LANGUAGES, key=lambda lang: lang != first))
