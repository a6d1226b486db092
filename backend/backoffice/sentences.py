"""The back office's texts, from the text catalogue (the `texts` package, text-catalogue/texts/<language>.yml,
which the assistant's side reads too). The back office writes from its sections `common` (month and
request names), `back_office` (the e-mails of identity verification, receipts and objection decisions; the
words of the answer to "what do you hold about me"; the chat notices of a handoff; the agents' canned
replies) and `console` (the staff console's labels).

`{company}` in a text is the company's name, the COMPANY_NAME setting, filled in by `Texts`; every other
`{name}` is a value the code fills in. A text that never names the company can be read without one
(`words`)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from texts import COMPANY, FIRST_LANGUAGE, LANGUAGES, entry, in_order, with_company

__all__ = ["FIRST_LANGUAGE", "LANGUAGES", "Texts", "in_every_language", "texts", "words"]


def words(language: str, path: str) -> Any:
    """An entry that does not name the company (a name, a label, a month), by its dotted path."""
    found = entry(language, path)
    if COMPANY in str(found):
        raise LookupError(f"{path} names the company: read it through Texts")
    return found


def in_every_language(path: str, separator: str) -> str:
    """An entry that does not name the company in every language after each other, for a reader whose
    language is not known."""
    return separator.join(words(lang, path) for lang in in_order())


class Texts:
    """The catalogue with one company's name (COMPANY_NAME) filled in."""

    def __init__(self, company: str) -> None:
        self.company = company

    def entry(self, language: str, path: str) -> Any:
        """One entry (a text, or a section of them) in one language, by its dotted path."""
        return with_company(entry(language, path), self.company)

    def __call__(self, language: str, path: str, **values: Any) -> str:
        """One text in one language with its values filled in."""
        return str(self.entry(language, path)).format(**values)

    def in_every_language(self, path: str, separator: str, first: str = FIRST_LANGUAGE, **values: Any) -> str:
        """One text in every language after each other, `first` first: for a reader whose language is not known."""
        return separator.join(self(lang, path, **values) for lang in in_order(first))


@lru_cache(maxsize=4)
def texts(company: str) -> Texts:
    return Texts(company)
