"""The privacy overview's picture: open requests by due week and status, so a privacy officer sees
at a glance which weeks the deadlines pile up in.

Weeks start on Monday. Every week before the current one is one bar ("before" this week: all of it
overdue); then every week from this one to the last with a deadline, at most MAX_WEEKS, and the rest
as one "later" bar. Pure: the counts come from the database (`privacy_team.due_counts`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from . import rules as rr

MAX_WEEKS = 14  # a deadline is at most three months away (one month, extended once by two)
STATUS_ORDER = tuple(s.value for s in (rr.Status.RECEIVED, rr.Status.IDENTITY_UNVERIFIED, rr.Status.VERIFIED, rr.Status.IN_PROGRESS))


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def open_by_due_week(counts: Iterable[tuple[str, dt.date, int]], today: dt.date) -> list[dict]:
    """One entry per bar: `week` ("before", a Monday's date, or "later"), `label` and `short_label`, `overdue` (the
    whole week is past), the count per status (every open status, 0 included) and the total."""
    this_week = week_start(today)
    last_week = this_week + dt.timedelta(weeks=MAX_WEEKS - 1)
    buckets: dict[str, dict[str, int]] = {}
    for status, due_on, count in counts:
        start = week_start(due_on)
        key = "before" if start < this_week else "later" if start > last_week else start.isoformat()
        per_status = buckets.setdefault(key, dict.fromkeys(STATUS_ORDER, 0))
        per_status[status] = per_status.get(status, 0) + count
    weeks = [k for k in buckets if k not in ("before", "later")]
    keys = ["before"] if "before" in buckets else []
    if "later" in buckets or weeks:
        last = last_week if "later" in buckets else dt.date.fromisoformat(max(weeks))
        keys += [(this_week + dt.timedelta(weeks=n)).isoformat() for n in range((last - this_week).days // 7 + 1)]
    keys += ["later"] if "later" in buckets else []
    return [_bar(key, buckets.get(key, dict.fromkeys(STATUS_ORDER, 0)), this_week, last_week) for key in keys]


def _bar(key: str, per_status: dict[str, int], this_week: dt.date, last_week: dt.date) -> dict:
    if key == "before":
        label, short, overdue = f"before {_day(this_week)}", "before", True
    elif key == "later":
        label, short, overdue = f"after {_day(last_week + dt.timedelta(days=6))}", "later", False
    else:
        monday = dt.date.fromisoformat(key)
        label, short, overdue = f"week of {_day(monday)}", f"{monday.day} {monday:%b}", False
    return {"week": key, "label": label, "short_label": short, "overdue": overdue, "counts": per_status,
            "total": sum(per_status.values())}


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b} {day.year}"
