"""The staff console's sign-in is throttled in front of the password check: wrong passwords get 429
with Retry-After after five, backing off, per client address and per login name, and the real
person is not locked out for long."""
from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backoffice.app import create_app

from .conftest import PASSWORD, console_settings, log_in, make_account
from .test_sign_in import HTTPS, Clock

WRONG = "not-the-password"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(db_url, clock) -> FastAPI:
    return create_app(console_settings(db_url), clock=clock)


@pytest.fixture
def email(app) -> str:
    return make_account(TestClient(app, base_url=HTTPS), "privacy_officer", "Sanne")


def from_address(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, base_url=HTTPS, client=(address, 50000))


def test_forty_wrong_passwords_get_five_tries_then_429_with_retry_after(app, email):
    attacker = from_address(app, "203.0.113.7")
    answers = [log_in(attacker, email, WRONG) for _ in range(40)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert {a.status_code for a in answers[5:]} == {429}
    locked = answers[5]
    assert int(locked.headers["retry-after"]) == 30 and "try again in 30 seconds" in locked.text
    # While locked, not even the right password is checked from there (no oracle for a guesser).
    assert log_in(attacker, email, PASSWORD).status_code == 429


def test_the_lock_backs_off_with_each_further_failure_and_then_lets_the_right_login_in(app, email, clock):
    guesser = from_address(app, "203.0.113.8")
    for _ in range(5):
        assert log_in(guesser, email, WRONG).status_code == 401
    waits = []
    for _ in range(4):
        locked = log_in(guesser, email, WRONG)
        assert locked.status_code == 429
        waits.append(int(locked.headers["retry-after"]))
        clock.advance(seconds=waits[-1])
        assert log_in(guesser, email, WRONG).status_code == 401  # checked again, wrong again
    assert waits == [30, 60, 120, 240]
    clock.advance(seconds=480)
    assert log_in(guesser, email, PASSWORD).status_code == 303
    # A good login clears the count: the next mistake is one of five again.
    assert log_in(guesser, email, WRONG).status_code == 401


def test_a_stranger_does_not_lock_the_owner_out_for_long(app, email):
    """Another address is not held by the stranger's address lock, and the login name's own lock is short."""
    stranger, owner = from_address(app, "203.0.113.9"), from_address(app, "192.0.2.10")
    for _ in range(5):
        log_in(stranger, email, WRONG)
    assert log_in(stranger, email, PASSWORD).status_code == 429
    assert log_in(owner, email, PASSWORD).status_code == 303


def test_guessing_one_login_from_many_addresses_is_slowed_to_a_guess_a_minute(app, email, clock):
    """Counted alike whether the login has an account or not (here it has none); others sign in meanwhile."""
    unknown = "nobody@voltera.example"
    for n in range(10):
        assert log_in(from_address(app, f"198.51.100.{n}"), unknown, WRONG).status_code == 401
    fresh, owner = from_address(app, "198.51.100.200"), from_address(app, "192.0.2.10")
    locked = log_in(fresh, unknown, WRONG)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) == 30
    assert log_in(owner, email, PASSWORD).status_code == 303
    clock.advance(seconds=30)
    assert log_in(fresh, unknown, WRONG).status_code == 401
    assert int(log_in(fresh, unknown, WRONG).headers["retry-after"]) == 60
    clock.advance(seconds=60)
    assert log_in(fresh, unknown, WRONG).status_code == 401
    assert int(log_in(fresh, unknown, WRONG).headers["retry-after"]) == 60  # never longer than a minute


def test_a_quiet_quarter_of_an_hour_forgets_earlier_mistakes(app, email, clock):
    owner = from_address(app, "203.0.113.10")
    for _ in range(4):
        assert log_in(owner, email, WRONG).status_code == 401
    clock.advance(seconds=15 * 60 + 1)
    for _ in range(4):
        assert log_in(owner, email, WRONG).status_code == 401
    assert log_in(owner, email, PASSWORD).status_code == 303
