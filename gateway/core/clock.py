"""Time as the gateway sees it: UTC instants for the journal, local dates for documents and deadlines.

A class, not module functions, so that tests can run the service on a fixed date.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, timezone: str = "Europe/Moscow") -> None:
        self.zone = ZoneInfo(timezone)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().astimezone(self.zone).date()


class FixedClock(Clock):
    """A clock stopped at one instant (tests, demos of historical deadlines)."""

    def __init__(self, moment: dt.datetime, timezone: str = "Europe/Moscow") -> None:
        super().__init__(timezone)
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment
