"""What an e-mail address and a one-time code look like on the Rasa side: the one definition the NLU
(bot/typed_values.py) and the actions (actions/customer_actions.py) share. The back office checks
both again on its side; nothing here decides who a customer is.

Each pattern runs over what a customer typed, so each stays linear in the text's length
(tests/test_typed_values.py runs them over 100,000-character hostile texts).
"""
from __future__ import annotations

import re

# An address typed to be sent a code: letters, digits and ._%+'- before the "@", a domain with a
# top-level part of two letters or more after it. It starts only where such a run starts, so it never
# tries every position of a long word.
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+'-])[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A one-time code: six digits ("123456", "123 456", "123-456"), optionally after a few words
# ("my code is", "de code is: ").
CODE = re.compile(r"^(?:[^\d@]{0,25}?[:\s])?(\d{3})[\s-]?(\d{3})[.!]?$")
# What follows an e-mail address's "@" somewhere: a dot and a letter or digit (the ".nl" of "example.nl").
DOT_AND_WORD = re.compile(r"\.\w")


def names_an_email_address(text: str) -> bool:
    """Does the message name something that looks like an e-mail address ("a@b.c" too)? Looser than
    `EMAIL` on purpose: it only decides whether to say that the assistant shows no one else's data.

    Word by word, in one pass: the pattern `\\S+@\\S+\\.\\w+` it replaces took cubic time (a minute
    for 5,000 "@" in a row)."""
    for word in text.split():
        at = word.find("@", 1)
        if at != -1 and DOT_AND_WORD.search(word, at + 2):
            return True
    return False
