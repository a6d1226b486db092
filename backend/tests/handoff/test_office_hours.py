"""When the team answers chats: office hours as a company writes them, in Amsterdam time."""
from __future__ import annotations

import datetime as dt

import pytest

from backoffice.handoff.rules import AMSTERDAM, OfficeHours, expected_wait


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=AMSTERDAM)


def test_weekdays_and_a_short_saturday():
    hours = OfficeHours.parse("mon-fri 09:00-17:00, sat 10:00-14:00", closed_on=[dt.date(2026, 12, 25)])
    assert hours.is_open(at(1, 9)) and not hours.is_open(at(1, 17)) and not hours.is_open(at(1, 8, 59))
    assert hours.is_open(at(5, 13, 59)) and not hours.is_open(at(5, 14))
    assert not hours.is_open(at(6, 12)), "Sunday"
    assert not hours.is_open(at(25, 10)), "a closed day"
    assert hours.next_opening(at(24, 18)) == at(26, 10), "after Christmas Eve: not Christmas, the Saturday"
    assert hours.working_days_after(at(4, 12), 2) == dt.date(2026, 12, 7), "Saturday counts: the office opens then"


def test_the_whole_day_and_times_across_daylight_saving():
    always = OfficeHours.parse("mon-sun 00:00-24:00")
    assert always.is_open(at(1, 23, 59)) and always.is_open(at(1, 0))
    summer = OfficeHours.parse("mon-fri 09:00-17:00")
    assert summer.is_open(dt.datetime(2026, 7, 1, 7, 30, tzinfo=dt.UTC)), "09:30 in Amsterdam in summer (UTC+2)"
    assert not summer.is_open(dt.datetime(2026, 12, 1, 7, 30, tzinfo=dt.UTC)), "08:30 in Amsterdam in winter (UTC+1)"


@pytest.mark.parametrize("written", ["monday 09:00-17:00", "mon-fri 9-17", "fri-mon 09:00-17:00", "mon 17:00-09:00", "xyz 09:00-10:00"])
def test_office_hours_that_cannot_be_read_are_refused_with_the_part(written):
    with pytest.raises(ValueError, match="office hours"):
        OfficeHours.parse(written)


def test_the_expected_wait_grows_with_the_place_and_shrinks_with_the_agents():
    assert expected_wait(1, 1, 6) == 6 and expected_wait(3, 1, 6) == 18 and expected_wait(3, 3, 6) == 6
    assert expected_wait(1, 4, 1) == 1, "never under a minute"
