"""The company's day: which calendar day a moment is, where the company is."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# The day a request is received, and so its deadline, is the day in the Netherlands, where the
# company is and the Autoriteit Persoonsgegevens supervises it: a message at 00:30 on 1 February in
# Amsterdam (23:30 UTC on 31 January) is received on 1 February and due on 1 March.
COMPANY_TIME_ZONE = ZoneInfo("Europe/Amsterdam")


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar day of `moment` (timezone-aware) in the company's time zone."""
    if moment.tzinfo is None:
        raise ValueError("a moment must be timezone-aware to say which day it is")
    return moment.astimezone(COMPANY_TIME_ZONE).date()
