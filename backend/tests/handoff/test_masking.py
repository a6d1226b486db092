"""What staff may read of a transcript: everything the customer said, except their credentials."""
from __future__ import annotations

import pytest

from backoffice.handoff.rules import masked, masked_messages

HIDDEN = "[hidden]"


@pytest.mark.parametrize("typed, shown", [
    ("482913", HIDDEN),
    ("my code is 482 913.", f"my code is {HIDDEN}."),
    ("code: 482-913", f"code: {HIDDEN}"),
    ("4 8 2 9 1 3", HIDDEN),  # the verification reads it without the spaces
    ("http://localhost:8123/exports/0Hq3xN7b-K2mZpVd9sWcRt4YuEa1LfGo6jXiBh5nTkA.csv",
     f"http://localhost:8123/exports/{HIDDEN}"),
    ("https://shop.example/account?token=abc&page=2", f"https://shop.example/account?token={HIDDEN}&page=2"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDMDAwMSJ9.c2ln", HIDDEN),
    ("session 9f86d081884c7d659a2feaa0c55ad015", f"session {HIDDEN}"),
])
def test_codes_links_and_tokens_are_hidden(typed, shown):
    assert masked(typed) == shown


@pytest.mark.parametrize("said", [
    "Hoe lang bewaren jullie mijn facturen?",
    "order 42, invoice 2026-0113, call 020 123 4567 or 06-12345678",
    "my postcode is 1012 AB and my customer number 1234567",
    "arbeidsongeschiktheidsverzekeringsmaatschappijen",  # long, but a word: no digit
    "on 31-01-2026 at 10:15",
])
def test_everything_else_is_left_as_typed(said):
    assert masked(said) == said


def test_a_transcript_is_masked_message_by_message_and_long_input_stays_cheap():
    messages: list[dict] = [{"from": "customer", "text": "123456", "at": None}, {"from": "assistant", "text": "thanks"}, {"from": "x"}]
    assert masked_messages(messages) == [{"from": "customer", "text": HIDDEN, "at": None}, {"from": "assistant", "text": "thanks"},
                                         {"from": "x"}]
    # patterns that backtrack would take minutes here; these run through once
    for hostile in ("a1" * 50_000, "1 " * 50_000, "eyJ" + "a" * 100_000, "/exports/" * 10_000):
        assert len(masked(hostile)) > 0
