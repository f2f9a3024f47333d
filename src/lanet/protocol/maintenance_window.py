"""Maintenance windows: a local start time, a length, and the weekdays on which a window opens.

Plain Python, shared: the agent enforces its window on its own clock and time zone (updates are
installed inside it, never outside), and the server uses the same arithmetic to show when a
machine's next window opens. A window that starts late in the evening runs past midnight; its day
is the day it opens (a Friday 23:00 window for 3 hours ends on Saturday at 02:00).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Monday = 0, as ``datetime.weekday``.
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = tuple(range(7))
START_PATTERN = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MAX_MINUTES = 24 * 60


class WindowError(ValueError):
    """The window's settings are wrong; the message names the problem."""


@dataclass(frozen=True)
class MaintenanceWindow:
    start: str
    minutes: int
    days: tuple[int, ...] = EVERY_DAY

    def __post_init__(self) -> None:
        if not START_PATTERN.match(self.start):
            raise WindowError(f"start must be HH:MM (24 h), not {self.start!r}")
        if not 1 <= self.minutes <= MAX_MINUTES:
            raise WindowError(f"the window lasts 1 to {MAX_MINUTES} minutes, not {self.minutes}")
        if not self.days or any(d not in EVERY_DAY for d in self.days):
            raise WindowError("days are weekday numbers 0 (Monday) to 6 (Sunday), at least one")

    @classmethod
    def parse_days(cls, text: str) -> tuple[int, ...]:
        """``mon,wed,fri`` or ``all`` -> weekday numbers."""
        if text.strip().lower() in ("all", "*", ""):
            return EVERY_DAY
        days = []
        for name in text.lower().split(","):
            if name.strip() not in DAY_NAMES:
                raise WindowError(f"unknown day {name.strip()!r} (use {', '.join(DAY_NAMES)} or all)")
            days.append(DAY_NAMES.index(name.strip()))
        return tuple(sorted(set(days)))

    def _start_on(self, day: datetime) -> datetime:
        hour, minute = (int(part) for part in self.start.split(":"))
        return day.replace(hour=hour, minute=minute, second=0, microsecond=0)

    def opened_at(self, now: datetime) -> datetime | None:
        """The start of the window that contains ``now`` (local time), or None outside every one."""
        length = timedelta(minutes=self.minutes)
        for back in range(2):  # today's window, or yesterday's running past midnight
            start = self._start_on(now - timedelta(days=back))
            if start.weekday() in self.days and start <= now < start + length:
                return start
        return None

    def contains(self, now: datetime) -> bool:
        return self.opened_at(now) is not None

    def next_start(self, now: datetime) -> datetime:
        """When the next window opens after ``now`` (the current one's start if ``now`` is inside)."""
        current = self.opened_at(now)
        if current is not None:
            return current
        for ahead in range(8):
            start = self._start_on(now + timedelta(days=ahead))
            if start.weekday() in self.days and start > now:
                return start
        raise AssertionError("a window opens at least once a week")  # pragma: no cover - days checked
