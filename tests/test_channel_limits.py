"""What every chat channel lets through (connectors/limits.py) and how the REST channel reads a body
(connectors/rest.py), on their own; through the running assistant in test_end_to_end.py,
test_website_channel.py and test_channel_fuzz.py."""
from __future__ import annotations

import json
import os
import sys

import pytest
import requests
from dotenv import dotenv_values
from stack import ROOT, Process, free_port, serving

from connectors import limits
from connectors.limits import (
    MAX_MESSAGE_CHARS,
    MAX_METADATA_BYTES,
    Refused,
    client_metadata,
    is_sender_id,
    is_too_long,
    message_language,
    too_long_answer,
    well_formed_text,
    without_credentials,
)
from connectors.rest import TokenRestInput

TOO_LONG_EN = "Your message is too long for me: at most 2,000 characters."
TOO_LONG_NL = "Je bericht is te lang voor mij: maximaal 2.000 tekens."


def test_the_default_limit_is_2000_characters():
    assert MAX_MESSAGE_CHARS == 2_000
    assert not is_too_long("a" * 2_000) and is_too_long("a" * 2_001)


@pytest.mark.parametrize("text, page, expected", [
    ("x" * 100_000, "nl", [TOO_LONG_NL]),
    ("x" * 100_000, "en-GB", [TOO_LONG_EN]),
    ("Welke gegevens hebben jullie van mij en hoe lang bewaren jullie die? " * 100, None, [TOO_LONG_NL]),
    ("Which data do you keep about me and for how long do you keep it? " * 100, None, [TOO_LONG_EN]),
    ("x" * 100_000, None, [TOO_LONG_NL, TOO_LONG_EN]),
    ("😀 " * 5_000, {"not": "a language"}, [TOO_LONG_NL, TOO_LONG_EN]),
])
def test_too_long_is_told_in_the_customers_language_else_in_both(text, page, expected):
    answer = too_long_answer(text, page)
    for part in expected:
        assert part in answer
    assert (TOO_LONG_EN in answer) == (TOO_LONG_EN in expected) and (TOO_LONG_NL in answer) == (TOO_LONG_NL in expected)


def test_the_language_guess_reads_only_the_start():
    assert message_language("Welke gegevens hebben jullie van mij? " + "x" * 1_000_000) == "nl"


@pytest.mark.parametrize("value, text", [
    ("hallo", "hallo"), ("\ud800 hallo \udfff", "\ufffd hallo \ufffd"), ("\ud83d\ude00", "😀"), ("\x00 ok", "\x00 ok"),
    (None, ""), (5, ""), (["hi"], ""),
])
def test_message_text_reaches_the_nlu_well_formed(value, text):
    assert well_formed_text(value) == text


@pytest.mark.parametrize("sender", ["e2e-0123abcd", "0" * 32 + "." + "f" * 32, "+31612345678", "29:1AbC-dEf_g=", "a" * 128])
def test_plain_sender_ids_are_taken(sender):
    assert is_sender_id(sender)


@pytest.mark.parametrize("sender", ["", "a/b", "../tracker", ".", "..", "a b", "a?b", "a#b", "a%2Fb", "é", "a" * 129,
                                    "a\n", 5, None])
def test_other_sender_ids_are_not(sender):
    assert not is_sender_id(sender)


def test_metadata_keeps_the_page_but_no_reserved_key_or_credential():
    sent = {"language": "nl", "_connection": "forged", "_source": "forged", "page": {"path": "/", "token": "t"},
            "session_token": "jwt", "api_key": "k"}
    assert client_metadata(sent) == {"language": "nl", "page": {"path": "/"}}
    assert client_metadata(None) == {}


@pytest.mark.parametrize("metadata, status", [
    ([1, 2], 400), ("nl", 400), (5, 400),
    ({"blob": "x" * MAX_METADATA_BYTES}, 413),
])
def test_metadata_that_is_not_a_small_object_is_refused(metadata, status):
    with pytest.raises(Refused) as refused:
        client_metadata(metadata)
    assert refused.value.status == status and refused.value.reason


def test_metadata_nested_too_deep_for_json_is_refused_not_a_crash():
    nested: list = []
    for _ in range(5_000):
        nested = [nested]
    with pytest.raises(Refused):
        client_metadata({"deep": nested})


def test_credentials_are_stripped_from_metadata_at_any_depth():
    metadata = {"language": "nl", "session_token": "t", "Token": "t", "nested": {"Authorization": "Bearer x", "apiKey": "k",
                "items": [{"refresh_token": "r", "keep": 1}]}, "jwt": "j", "client_secret": "s", "note": "a token-free value"}
    assert without_credentials(metadata) == {"language": "nl", "nested": {"items": [{"keep": 1}]}, "note": "a token-free value"}


@pytest.mark.parametrize("body, status, reason", [
    (b"", 400, "empty"),
    (b"   \n", 400, "empty"),
    (b"{not json", 400, "not JSON"),
    (b"\xff\xfe\x00", 400, "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "not JSON"),
    (b'["hello"]', 400, "JSON object"),
    (b'"hello"', 400, "JSON object"),
    (b'{"sender": "a"}', 400, "'message'"),
    (b'{"sender": "a", "message": 5}', 400, "'message'"),
    (b'{"message": "hi"}', 400, "'sender'"),
    (b'{"sender": ["a"], "message": "hi"}', 400, "'sender'"),
    (b'{"sender": "a/b", "message": "hi"}', 400, "'sender' must be"),
    (b'{"sender": "a", "message": "hi", "metadata": "nl"}', 400, "metadata"),
    (b'{"sender": "a", "message": "hi", "metadata": [1]}', 400, "metadata"),
    (json.dumps({"sender": "a", "message": "hi", "metadata": {"x": "y" * 9_000}}).encode(), 413, "metadata"),
    (b" " * (limits.MAX_REQUEST_BYTES + 1), 413, "body"),
])
def test_a_malformed_rest_body_is_refused_with_the_reason(body, status, reason):
    with pytest.raises(Refused) as refused:
        TokenRestInput._read(body)
    assert refused.value.status == status and reason in refused.value.reason


def test_a_rest_body_gives_sender_message_and_kept_metadata():
    body = json.dumps({"sender": "e2e-1", "message": "hallo", "input_channel": "website",
                       "metadata": {"language": "nl", "_connection": "c" * 32, "password": "p"}}).encode()
    assert TokenRestInput._read(body) == ("e2e-1", "hallo", {"language": "nl"})


def test_the_rest_token_is_off_when_empty_and_long_when_set():
    assert TokenRestInput.from_credentials({"token": ""}).token == ""
    assert TokenRestInput.from_credentials(None).token == ""
    with pytest.raises(ValueError):
        TokenRestInput(token="short")
    assert TokenRestInput(token="t" * 32).token == "t" * 32


SERVE_THE_REST_CHANNEL_ALONE = """
import sys
from sanic import Sanic
from connectors.rest import TokenRestInput

async def no_assistant(message):
    raise AssertionError("a message went past the channel")

app = Sanic("rest_channel_alone")
app.blueprint(TokenRestInput(token=sys.argv[2]).blueprint(no_assistant), url_prefix="/webhooks/rest")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
"""


def test_the_rest_channel_is_off_without_a_token_as_make_run_starts_it(tmp_path):
    assert dotenv_values(ROOT / ".env.example")["REST_CHANNEL_TOKEN"] == ""
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/rest"
    channel = Process("rest channel", [sys.executable, "-c", SERVE_THE_REST_CHANNEL_ALONE, str(port), ""], ROOT, dict(os.environ),
                      tmp_path / "rest-channel.log", port, f"{url}/")
    with serving(channel, timeout=120):
        health = requests.get(f"{url}/", timeout=2)
        assert health.json() == {"status": "off"}
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
            for answer in (requests.post(f"{url}/webhook", json={"sender": "a", "message": "hello"}, headers=headers, timeout=10),
                           requests.get(f"{url}/webhook/messages", params={"sender": "a"}, headers=headers, timeout=10)):
                # As an address that does not exist: no setting named (the log says what turns it on).
                assert answer.status_code == 404 and "Not Found" in answer.text and "REST_CHANNEL_TOKEN" not in answer.text


# --- the client's address behind proxies (connectors/proxies.py) --------------------------------------

BALANCERS = "10.0.0.0/8, 192.0.2.7"


@pytest.mark.parametrize("peer, forwarded_for, forwarded, trusted, client", [
    # No trusted proxy (the default): the peer, whatever a header says.
    ("203.0.113.9", "198.51.100.1", None, "", "203.0.113.9"),
    ("127.0.0.1", None, "for=198.51.100.1", "", "127.0.0.1"),
    # A peer that is not one of the trusted proxies: its headers are its own words.
    ("203.0.113.9", "198.51.100.1", "for=198.51.100.2", BALANCERS, "203.0.113.9"),
    # A trusted proxy: the first hop from the right that no trusted proxy is.
    ("10.1.2.3", "198.51.100.1", None, BALANCERS, "198.51.100.1"),
    ("10.1.2.3", "6.6.6.6, 198.51.100.1", None, BALANCERS, "198.51.100.1"),  # the client's own claim is left of it
    ("10.1.2.3", "6.6.6.6, 198.51.100.1, 192.0.2.7", None, BALANCERS, "198.51.100.1"),  # two proxies in a row
    ("10.1.2.3", "10.9.9.9, 10.8.8.8", None, BALANCERS, "10.9.9.9"),  # all trusted: the first
    ("10.1.2.3", "198.51.100.1:4711", None, BALANCERS, "198.51.100.1"),
    ("::ffff:10.1.2.3", "::ffff:198.51.100.1", None, BALANCERS, "198.51.100.1"),
    ("10.1.2.3", "[2001:db8::1]:80", None, BALANCERS, "2001:db8::1"),
    ("10.1.2.3", "unknown", None, BALANCERS, "10.1.2.3"),  # not an address: the proxy's own
    ("10.1.2.3", "", None, BALANCERS, "10.1.2.3"),
    # Forwarded (RFC 7239), read only without X-Forwarded-For.
    ("10.1.2.3", None, 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https', BALANCERS, "2001:db8:cafe::17"),
    ("10.1.2.3", None, "For=198.51.100.1;by=10.1.2.3", BALANCERS, "198.51.100.1"),
    ("10.1.2.3", None, "for=_hidden", BALANCERS, "10.1.2.3"),
    ("10.1.2.3", "198.51.100.1", "for=6.6.6.6", BALANCERS, "198.51.100.1"),
])
def test_the_client_address_comes_from_a_forwarding_header_only_through_a_trusted_proxy(peer, forwarded_for, forwarded,
                                                                                      trusted, client):
    from connectors.proxies import client_address, trusted_proxies

    assert client_address(peer, forwarded_for, forwarded, trusted_proxies(trusted)) == client


def test_a_long_forwarding_header_is_read_from_its_right_end_without_the_hop_cut_in_two():
    from connectors.proxies import client_address, trusted_proxies

    trusted = trusted_proxies(BALANCERS)
    assert client_address("10.1.2.3", "6.6.6.6," * 5_000 + "198.51.100.1", None, trusted) == "198.51.100.1"
    assert client_address("10.1.2.3", "6.6.6.6," * 5_000 + "10.0.0.1," * 300 + "10.0.0.2", None, trusted) == "10.0.0.1"
    cut = "198.51.100.1" + " " * 2_029 + ",10.0.0.2"  # 2,050 characters: what is read starts with "8.51.100.1"
    assert client_address("10.1.2.3", cut, None, trusted) == "10.0.0.2"


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default():
    from connectors.proxies import TRUSTED_PROXIES, trusted_proxies

    assert dotenv_values(ROOT / ".env.example").get("TRUSTED_PROXIES", "") == ""
    if not os.environ.get("TRUSTED_PROXIES"):
        assert TRUSTED_PROXIES == ()
    assert [str(n) for n in trusted_proxies(" 10.0.0.0/8,192.0.2.7 ,, ::1")] == ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]
    for wrong in ("10.0.0.0/33", "proxy.internal", "10.0.0.1-10.0.0.9"):
        with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
            trusted_proxies(wrong)
