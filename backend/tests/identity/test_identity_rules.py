"""The rules of identity verification, without web or database: codes, their hashes, tries and locks; session tokens."""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import warnings
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from backoffice.identity import rules

SECRET = "rules-test-otp-secret"
TOKEN_SECRET = "rules-test-session-secret-0123456789abcdef"
NOW = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)


# --- one-time codes ------------------------------------------------------------------------------


def test_codes_are_six_random_digits():
    codes = [rules.new_code() for _ in range(2000)]
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert len(set(codes)) > 1900  # a million possibilities: repeats are rare
    assert any(c.startswith("0") for c in codes)  # leading zeros are kept, not dropped
    assert len({c[0] for c in codes}) == 10


def test_a_code_is_stored_as_a_keyed_salted_hash():
    issued = rules.issue_code(NOW, SECRET)
    state = issued.state
    assert issued.code not in state.code_hash and re.fullmatch(r"[0-9a-f]{64}", state.code_hash)
    assert state.expires_at == NOW + dt.timedelta(minutes=10)
    assert rules.code_matches(issued.code, state.salt, state.code_hash, SECRET)
    assert not rules.code_matches(issued.code, state.salt, state.code_hash, "another-secret")  # the server secret is part of it
    assert not rules.code_matches(issued.code, "other-salt", state.code_hash, SECRET)  # and the salt
    # The same code under two salts gives two hashes: equal codes cannot be spotted in the table.
    assert rules.hash_code("123456", "a", SECRET) != rules.hash_code("123456", "b", SECRET)
    with pytest.raises(ValueError):
        rules.hash_code("123456", "a", "")


def test_typed_codes_are_normalised_and_malformed_ones_never_match():
    state = rules.issue_code(NOW, SECRET)
    code = state.code
    spaced = f"{code[:3]} {code[3:]}"
    assert rules.code_matches(spaced, state.state.salt, state.state.code_hash, SECRET)
    assert rules.code_matches(f" {code[:3]}-{code[3:]} ", state.state.salt, state.state.code_hash, SECRET)
    for typed in ("", code[:5], code + "1", "abcdef", f"{code}\n{code}", "١٢٣٤٥٦"):
        assert not rules.code_matches(typed, state.state.salt, state.state.code_hash, SECRET), typed
    assert rules.normalise_code("١٢٣٤٥٦") is None  # only ASCII digits


def test_the_right_code_verifies_once():
    issued = rules.issue_code(NOW, SECRET)
    first = rules.check_code(issued.state, issued.code, NOW + dt.timedelta(minutes=1), SECRET)
    assert first.verified and first.state.verified_at == NOW + dt.timedelta(minutes=1) and first.state.attempts == 1
    again = rules.check_code(first.state, issued.code, NOW + dt.timedelta(minutes=2), SECRET)
    assert again.outcome is rules.Outcome.USED and not again.verified and again.state.attempts == 2


def wrong_for(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_five_wrong_tries_lock_and_then_even_the_right_code_is_refused():
    issued = rules.issue_code(NOW, SECRET)
    state, left = issued.state, []
    for i in range(4):
        check = rules.check_code(state, wrong_for(issued.code), NOW + dt.timedelta(seconds=i), SECRET)
        assert check.outcome is rules.Outcome.WRONG
        left.append(check.attempts_left)
        state = check.state
    assert left == [4, 3, 2, 1]
    fifth = rules.check_code(state, wrong_for(issued.code), NOW + dt.timedelta(seconds=5), SECRET)
    assert fifth.outcome is rules.Outcome.LOCKED and fifth.locked_until == NOW + dt.timedelta(seconds=5, minutes=15)
    state = fifth.state
    for minutes in (1, 9, 14):
        right = rules.check_code(state, issued.code, NOW + dt.timedelta(minutes=minutes), SECRET)
        assert right.outcome is rules.Outcome.LOCKED and not right.verified
        state = right.state
    assert state.attempts == 8 and state.wrong_attempts == 5  # every try is counted
    # After the lock the code is dead (it has expired by then anyway): a new one must be asked for.
    after = rules.check_code(state, issued.code, NOW + dt.timedelta(minutes=16), SECRET)
    assert after.outcome is rules.Outcome.EXPIRED and not after.verified


def test_an_expired_code_is_refused_even_when_right():
    issued = rules.issue_code(NOW, SECRET)
    just_in_time = rules.check_code(issued.state, issued.code, NOW + dt.timedelta(minutes=10) - dt.timedelta(seconds=1), SECRET)
    assert just_in_time.verified
    late = rules.check_code(issued.state, issued.code, NOW + dt.timedelta(minutes=10), SECRET)
    assert late.outcome is rules.Outcome.EXPIRED and late.state.verified_at is None


def test_a_decoy_never_verifies_but_counts_and_locks_like_a_code():
    state = rules.decoy_code(NOW, SECRET)
    assert not state.usable
    for i in range(4):
        check = rules.check_code(state, f"{i:06d}", NOW, SECRET)
        assert check.outcome is rules.Outcome.WRONG and check.attempts_left == 4 - i
        state = check.state
    assert rules.check_code(state, "999999", NOW, SECRET).outcome is rules.Outcome.LOCKED
    # Even the digits that would match if it were usable do not (it is the hash of a non-code).
    assert not any(rules.check_code(rules.decoy_code(NOW, SECRET), f"{n:06d}", NOW, SECRET).verified for n in range(0, 1000))


def test_plausible_email():
    for good in ("noor.hoekstra@example.nl", "A.B+tag@sub.example.com"):
        assert rules.plausible_email(good)
    for bad in ("", "noor", "noor@", "@example.nl", "noor@example", "a b@example.nl", "x@y@example.nl", "a@example.nl" + "x" * 250):
        assert not rules.plausible_email(bad), bad


def test_an_address_is_counted_by_a_keyed_hash_as_the_records_match_it():
    key = rules.address_key("Noor.Hoekstra@Example.nl", SECRET)
    assert re.fullmatch(r"[0-9a-f]{64}", key) and "noor" not in key
    assert rules.address_key(" noor.hoekstra@example.nl ", SECRET) == key  # the CRM matches case-insensitively
    assert rules.address_key("noor.hoekstra@example.nl", SECRET + "x") != key  # without the secret, no address can be tried
    assert rules.address_key("noor.hoekstra+x@example.nl", SECRET) != key
    with pytest.raises(ValueError):
        rules.address_key("noor.hoekstra@example.nl", "")


def test_codes_go_to_an_address_within_its_limits_per_conversation_and_overall():
    per_conversation, overall = rules.MAX_CODES_PER_ADDRESS_IN_A_CONVERSATION, rules.MAX_CODES_PER_ADDRESS
    assert per_conversation < overall  # the customer's own conversation can get a code after strangers asked
    assert rules.may_send(0, 0) and rules.may_send(per_conversation - 1, overall - 1)
    assert not rules.may_send(per_conversation, per_conversation)
    assert not rules.may_send(0, overall)
    assert rules.NOT_SENT_ANSWER["code_sent"] is False and rules.NOT_SENT_ANSWER["status"] != rules.NEUTRAL_ANSWER["status"]


# --- website session tokens ----------------------------------------------------------------------


@pytest.fixture
def tokens() -> rules.SessionTokens:
    return rules.SessionTokens(TOKEN_SECRET)


def test_a_token_carries_customer_issue_time_expiry_and_audience(tokens):
    token, expires = tokens.issue("C0007", NOW)
    claims = jwt.decode(token, TOKEN_SECRET, algorithms=["HS256"], audience="chat", options={"verify_exp": False, "verify_iat": False})
    assert claims == {"sub": "C0007", "iat": int(NOW.timestamp()), "exp": int((NOW + dt.timedelta(minutes=30)).timestamp()),
                      "aud": "chat", "iss": "voltera-website"}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    verified = tokens.verify(token, NOW + dt.timedelta(minutes=29))
    assert (verified.customer_id, verified.issued_at, verified.expires_at) == ("C0007", NOW, expires)
    # And with the real clock.
    fresh, _ = tokens.issue("C0008", dt.datetime.now(dt.UTC))
    assert tokens.verify(fresh).customer_id == "C0008"


def test_an_expired_token_is_refused(tokens):
    token, _ = tokens.issue("C0007", NOW)
    with pytest.raises(rules.TokenExpired, match="expired"):
        tokens.verify(token, NOW + dt.timedelta(minutes=31))
    stale, _ = tokens.issue("C0007", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31))
    with pytest.raises(rules.TokenExpired):
        tokens.verify(stale)  # against the real clock


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_forged_token_is_refused(tokens):
    token, _ = tokens.issue("C0007", NOW)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = ".".join([header, b64({**claims, "sub": "C0001"}), signature])
    with pytest.raises(rules.TokenBadSignature) as refused:
        tokens.verify(tampered, NOW)
    assert refused.value.reason == "bad_signature" and "signature" in str(refused.value)
    # `alg: none` with no signature at all.
    unsigned = ".".join([b64({"alg": "none", "typ": "JWT"}), b64({**claims, "sub": "C0001"}), ""])
    with pytest.raises(rules.TokenError):
        tokens.verify(unsigned, NOW)
    # Garbage.
    for junk in ("", "not-a-token", "a.b.c", "x" * 5000):
        with pytest.raises(rules.TokenMalformed):
            tokens.verify(junk, NOW)


def test_a_token_signed_with_another_secret_is_refused(tokens):
    other = rules.SessionTokens("another-session-secret-0123456789abcdefgh")
    token, _ = other.issue("C0007", NOW)
    with pytest.raises(rules.TokenBadSignature):
        tokens.verify(token, NOW)


def test_a_token_for_another_audience_or_issuer_is_refused(tokens):
    token = jwt.encode({"sub": "C0007", "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 600, "aud": "webshop",
                        "iss": "voltera-website"}, TOKEN_SECRET, algorithm="HS256")
    with pytest.raises(rules.TokenWrongAudience) as refused:
        tokens.verify(token, NOW)
    assert refused.value.reason == "wrong_audience"
    other_audience = rules.SessionTokens(TOKEN_SECRET, audience="webshop")
    with pytest.raises(rules.TokenWrongAudience):
        tokens.verify(other_audience.issue("C0007", NOW)[0], NOW)
    wrong_issuer = jwt.encode({"sub": "C0007", "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 600, "aud": "chat",
                               "iss": "somebody"}, TOKEN_SECRET, algorithm="HS256")
    with pytest.raises(rules.TokenMalformed):
        tokens.verify(wrong_issuer, NOW)


def test_a_token_without_the_required_claims_or_customer_is_refused(tokens):
    base: dict[str, Any] = {"sub": "C0007", "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 600, "aud": "chat",
                            "iss": "voltera-website"}
    for missing in ("sub", "exp", "iat", "aud", "iss"):
        claims = {k: v for k, v in base.items() if k != missing}
        with pytest.raises(rules.TokenError):
            tokens.verify(jwt.encode(claims, TOKEN_SECRET, algorithm="HS256"), NOW)
    with pytest.raises(rules.TokenMalformed):
        tokens.verify(jwt.encode({**base, "sub": ""}, TOKEN_SECRET, algorithm="HS256"), NOW)
    with pytest.raises(rules.TokenMalformed, match="future"):
        tokens.verify(jwt.encode({**base, "iat": base["iat"] + 3600, "exp": base["exp"] + 3600}, TOKEN_SECRET, algorithm="HS256"), NOW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # PyJWT wants a longer key for HS512
        hs512 = jwt.encode(base, TOKEN_SECRET, algorithm="HS512")
    with pytest.raises(rules.TokenBadSignature):  # HS512 with the right secret is still not what we sign with
        tokens.verify(hs512, NOW)


def test_a_short_or_missing_secret_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        rules.SessionTokens("short")
    assert not rules.secret_is_set("") and not rules.secret_is_set("change-me") and rules.secret_is_set(TOKEN_SECRET)
