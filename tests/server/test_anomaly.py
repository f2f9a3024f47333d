"""CPU anomalies against the machine's own week, on replayed series with known answers: an office PC
busy 9 to 18 on weekdays is not anomalous at 11:00 on a Tuesday, but is at 03:00 doing the same for
15 minutes; a 5-minute spike, a new machine, or a rise of a few points is never an anomaly."""

import random
from collections.abc import Callable
from datetime import UTC, datetime

from lanet.server.services.anomaly import anomaly_at, hour_of_week

MONDAY = datetime(2026, 11, 2, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
HOUR = 3600.0


def office(hours: float) -> float:
    """CPU of a PC used on weekdays from 9 to 18 (UTC), idle otherwise."""
    day, hour = int(hours // 24) % 7, hours % 24
    return 40.0 if day < 5 and 9 <= hour < 18 else 4.0


def series(days: int, cpu: Callable[[float], float], seed: int = 3) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [
        (MONDAY + minute * 60.0, max(0.0, cpu(minute / 60) + rng.uniform(-3, 3)))
        for minute in range(days * 24 * 60)
    ]


def _with(
    samples: list[tuple[float, float]], start: float, minutes: int, value: float
) -> list[tuple[float, float]]:
    return [(ts, value if start <= ts < start + minutes * 60 else v) for ts, v in samples]


def test_the_hour_of_the_week_starts_on_monday() -> None:
    assert hour_of_week(MONDAY) == 0 and hour_of_week(MONDAY + 24 * HOUR + 11 * HOUR) == 35


def test_busy_at_an_hour_the_machine_is_always_busy_is_not_an_anomaly() -> None:
    samples = series(15, office)
    tuesday_11 = MONDAY + (7 + 1) * 24 * HOUR + 11 * HOUR
    assert anomaly_at(samples, tuesday_11) is None


def test_the_same_load_at_three_in_the_morning_for_fifteen_minutes_is() -> None:
    samples = series(15, office)
    night = MONDAY + (7 + 1) * 24 * HOUR + 3 * HOUR
    busy = _with(samples, night, 15, 45.0)
    found = anomaly_at(busy, night + 14 * 60)
    assert found is not None and found.expected < 8 and found.value == 45.0 and found.deviations >= 4
    # Five minutes of it is a blip, not an anomaly; and it ends when the load does.
    assert anomaly_at(busy, night + 5 * 60) is None
    assert anomaly_at(busy, night + 30 * 60) is None


def test_a_small_rise_or_a_machine_without_a_week_of_history_says_nothing() -> None:
    samples = series(15, office)
    night = MONDAY + (7 + 1) * 24 * HOUR + 3 * HOUR
    assert anomaly_at(_with(samples, night, 15, 15.0), night + 14 * 60) is None  # +11 points
    young = series(5, office)
    night5 = MONDAY + 4 * 24 * HOUR + 3 * HOUR
    assert anomaly_at(_with(young, night5, 15, 80.0), night5 + 14 * 60) is None
