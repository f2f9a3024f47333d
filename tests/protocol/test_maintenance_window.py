"""Maintenance windows against a fixed clock: inside and outside, past midnight, by weekday."""

import re
from datetime import datetime

import pytest

from lanet.protocol.maintenance_window import EVERY_DAY, MaintenanceWindow, WindowError

FRIDAY = datetime(2026, 12, 4)  # a Friday


def test_a_window_contains_its_start_and_not_its_end() -> None:
    window = MaintenanceWindow("02:00", 120)
    assert not window.contains(FRIDAY.replace(hour=1, minute=59))
    assert window.contains(FRIDAY.replace(hour=2))
    assert window.contains(FRIDAY.replace(hour=3, minute=59, second=59))
    assert not window.contains(FRIDAY.replace(hour=4))
    assert window.next_start(FRIDAY.replace(hour=5)) == datetime(2026, 12, 5, 2, 0)
    assert window.next_start(FRIDAY.replace(hour=3)) == FRIDAY.replace(hour=2)


def test_a_late_window_runs_past_midnight_and_belongs_to_the_day_it_opens() -> None:
    window = MaintenanceWindow("23:00", 180, days=(4,))  # Fridays only
    assert window.contains(FRIDAY.replace(hour=23, minute=30))
    assert window.contains(datetime(2026, 12, 5, 1, 59))  # Saturday morning: Friday's window
    assert not window.contains(datetime(2026, 12, 5, 23, 30))  # Saturday's does not open
    assert not window.contains(datetime(2026, 12, 4, 1, 0))  # Thursday's did not open either
    assert window.next_start(datetime(2026, 12, 5, 3, 0)) == datetime(2026, 12, 11, 23, 0)


def test_days_by_name_and_bad_settings_are_named() -> None:
    assert MaintenanceWindow.parse_days("mon,WED,fri") == (0, 2, 4)
    assert MaintenanceWindow.parse_days("all") == EVERY_DAY
    with pytest.raises(WindowError, match="unknown day 'funday'"):
        MaintenanceWindow.parse_days("mon,funday")
    for start, minutes, days, problem in (
        ("2:00", 60, EVERY_DAY, "HH:MM"),
        ("24:00", 60, EVERY_DAY, "HH:MM"),
        ("02:00", 0, EVERY_DAY, "1 to 1440 minutes"),
        ("02:00", 1441, EVERY_DAY, "1 to 1440 minutes"),
        ("02:00", 60, (), "at least one"),
        ("02:00", 60, (7,), "0 (Monday) to 6"),
    ):
        with pytest.raises(WindowError, match=re.escape(problem)):
            MaintenanceWindow(start, minutes, days)
