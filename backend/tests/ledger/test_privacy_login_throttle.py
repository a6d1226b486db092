"""The privacy overview's login is throttled: wrong passwords get 429 with Retry-After after five,
backing off, per client address and per user name, and the real team is not locked out for long."""
from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backoffice.app import create_app

from .test_ledger_api import TEAM, settings_for

WRONG = (TEAM[0], "not-the-password")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(ledger_url, kb, clock) -> FastAPI:
    return create_app(settings_for(ledger_url), clock=clock)


def from_address(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def test_forty_wrong_passwords_get_five_tries_then_429_with_retry_after(app):
    with from_address(app, "203.0.113.7") as attacker:
        answers = [attacker.get("/api/privacy/requests", auth=WRONG) for _ in range(40)]
        assert [a.status_code for a in answers[:5]] == [401] * 5
        assert {a.status_code for a in answers[5:]} == {429}
        locked = answers[5]
        assert int(locked.headers["retry-after"]) == 30
        assert "too many wrong logins" in locked.json()["detail"] and "30 seconds" in locked.json()["detail"]
        # While locked, not even the right password is checked from there (no oracle for a guesser).
        assert attacker.get("/api/privacy/requests", auth=TEAM).status_code == 429
        assert attacker.get("/privacy/requests", auth=TEAM).status_code == 429


def test_the_lock_backs_off_with_each_further_failure_and_then_lets_the_right_login_in(app, clock):
    with from_address(app, "203.0.113.8") as guesser:
        for _ in range(5):
            assert guesser.get("/api/privacy/requests", auth=WRONG).status_code == 401
        waits = []
        for _ in range(4):
            locked = guesser.get("/api/privacy/requests", auth=WRONG)
            assert locked.status_code == 429
            waits.append(int(locked.headers["retry-after"]))
            clock.advance(waits[-1])
            assert guesser.get("/api/privacy/requests", auth=WRONG).status_code == 401  # checked again, wrong again
        assert waits == [30, 60, 120, 240]
        clock.advance(480)
        assert guesser.get("/api/privacy/requests", auth=TEAM).status_code == 200
        # A good login clears the count: the next mistake is one of five again.
        assert guesser.get("/api/privacy/requests", auth=WRONG).status_code == 401


def test_a_stranger_does_not_lock_the_team_out_for_long(app, clock):
    """Another address is not held by the stranger's address lock, and the user name's own lock is short."""
    with from_address(app, "203.0.113.9") as stranger, from_address(app, "192.0.2.10") as team:
        for _ in range(5):
            stranger.get("/api/privacy/requests", auth=WRONG)
        assert stranger.get("/api/privacy/requests", auth=TEAM).status_code == 429
        assert team.get("/api/privacy/requests", auth=TEAM).status_code == 200


def test_guessing_one_user_name_from_many_addresses_is_slowed_to_a_guess_a_minute(app, clock):
    for n in range(10):
        with from_address(app, f"198.51.100.{n}") as source:
            assert source.get("/api/privacy/requests", auth=WRONG).status_code == 401
    with from_address(app, "198.51.100.200") as fresh, from_address(app, "192.0.2.10") as team:
        locked = fresh.get("/api/privacy/requests", auth=WRONG)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) == 30
        assert team.get("/api/privacy/requests", auth=TEAM).status_code == 429  # the team waits too, briefly
        clock.advance(30)
        assert fresh.get("/api/privacy/requests", auth=WRONG).status_code == 401
        assert int(fresh.get("/api/privacy/requests", auth=WRONG).headers["retry-after"]) == 60
        clock.advance(60)
        assert fresh.get("/api/privacy/requests", auth=WRONG).status_code == 401
        assert int(fresh.get("/api/privacy/requests", auth=WRONG).headers["retry-after"]) == 60  # never longer than a minute
        clock.advance(60)
        assert team.get("/api/privacy/requests", auth=TEAM).status_code == 200


def test_a_quiet_quarter_of_an_hour_forgets_earlier_mistakes(app, clock):
    with from_address(app, "203.0.113.10") as team:
        for _ in range(4):
            assert team.get("/api/privacy/requests", auth=WRONG).status_code == 401
        clock.advance(15 * 60 + 1)
        for _ in range(4):
            assert team.get("/api/privacy/requests", auth=WRONG).status_code == 401
        assert team.get("/api/privacy/requests", auth=TEAM).status_code == 200
