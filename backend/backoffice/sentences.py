"""The back office's reader of the text catalogue: `texts/<language>.yml` at the project root, one file per
language, holds every sentence a customer or a member of staff reads (the assistant's side reads the same
files with texts/__init__.py). The back office writes from its sections `common` (month and request
names), `back_office` (the e-mails of identity verification, receipts and objection decisions; the words
of the answer to "what do you hold about me"; the chat notices of a handoff; the agents' canned replies)
and `console` (the staff console's labels).

`{company}` in a text is the company's name, the COMPANY_NAME setting, filled in by `Texts`; every other
`{name}` is a value the code fills in. A text that never names the company can be read without one
(`words`)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).resolve().parents[2] / "texts"
# The languages, from the files present: the first is the one a text in every language starts with.
FIRST_LANGUAGE = "nl"
LANGUAGES: tuple[str, ...] = tuple(sorted((path.stem for path in FOLDER.glob("*.yml")), key=lambda lang: (lang != FIRST_LANGUAGE, lang)))
COMPANY = "{company}"


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict]:
    return {lang: yaml.safe_load((FOLDER / f"{lang}.yml").read_text(encoding="utf-8")) for lang in LANGUAGES}


def _entry(language: str, path: str) -> Any:
    found: Any = _catalogue()[language]
    for key in path.split("."):
        found = found[key]
    return found


def _with_company(value: Any, company: str) -> Any:
    if isinstance(value, str):
        return value.replace(COMPANY, company)
    if isinstance(value, dict):
        return {key: _with_company(item, company) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_company(item, company) for item in value]
    return value


def words(language: str, path: str) -> Any:
    """An entry that does not name the company (a name, a label, a month), by its dotted path."""
    found = _entry(language, path)
    if COMPANY in str(found):
        raise LookupError(f"{path} names the company: read it through Texts")
    return found


def in_every_language(path: str, separator: str) -> str:
    """An entry that does not name the company in every language after each other, for a reader whose
    language is not known."""
    return separator.join(words(lang, path) for lang in LANGUAGES)


class Texts:
    """The catalogue with one company's name (COMPANY_NAME) filled in."""

    def __init__(self, company: str) -> None:
        self.company = company

    def entry(self, language: str, path: str) -> Any:
        """One entry (a text, or a section of them) in one language, by its dotted path."""
        return _with_company(_entry(language, path), self.company)

    def __call__(self, language: str, path: str, **values: Any) -> str:
        """One text in one language with its values filled in."""
        return str(self.entry(language, path)).format(**values)

    def in_every_language(self, path: str, separator: str, first: str = FIRST_LANGUAGE, **values: Any) -> str:
        """One text in every language after each other, `first` first: for a reader whose language is not known."""
        order = sorted(LANGUAGES, key=lambda lang: lang != first)
        return separator.join(self(lang, path, **values) for lang in order)


@lru_cache(maxsize=4)
def texts(company: str) -> Texts:
    return Texts(company)

