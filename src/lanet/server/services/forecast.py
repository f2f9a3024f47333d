"""Disk-full forecasts: when a volume will run out, from its own history, without crying wolf.

The rule is the one Prometheus' node-exporter mixin and Zabbix's ``timeleft()`` converge on, made
robust against what gives their users false alarms (short windows, log rotation, nightly jobs):

- the usage trend is a **Theil-Sen slope** (the median of the pairwise slopes), so a spike, a
  cleanup or a rotation moves it little;
- it is fitted twice, over a **short** window (6 h) and a **long** one (7 d); a forecast exists only
  when **both** say the disk is filling, and the ETA is the **later** of the two, so a burst that
  only the short window sees, or a sawtooth that only the long window averages away, forecasts
  nothing;
- **warning** when less than 20 % is free and the ETA is under 24 h, **critical** under 10 % free
  and 4 h; either must hold for a whole hour (checked at every quarter of it) before it counts.

Series are bucketed first (medians of 15 minutes for the short window, of 4 hours for the long),
which bounds the pairwise work to a few hundred pairs whatever the sampling rate, and is robust in
itself. Everything here is a pure function of the samples and the clock, so it is tested on
replayed series with known answers (``tests/server/test_forecast.py``) and its false-alarm rate is
measured by ``bench/forecast_false_alarms.py``.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Literal

HOUR = 3600.0
SHORT_WINDOW = 6 * HOUR
LONG_WINDOW = 7 * 24 * HOUR
SHORT_BUCKET = 15 * 60.0
LONG_BUCKET = 4 * HOUR
#: Slower than this (percentage points per hour, about 1 point a month) is not growing: "never".
MIN_GROWTH = 1 / (30 * 24)
#: The long window agrees when it would fill the disk within this many hours at its own pace.
AGREE_HORIZON = 30 * 24.0
#: Usage this many points above the week's earlier peak is new ground: a fill the week never saw.
NEW_GROUND = 2.0
#: A window needs this share of its buckets to say anything (a machine that was off says nothing).
MIN_COVERAGE = 0.5
#: (level, free space under %, ETA under hours), the more serious first.
LEVELS: tuple[tuple[Literal["critical", "warning"], float, float], ...] = (
    ("critical", 10.0, 4.0),
    ("warning", 20.0, 24.0),
)
SUSTAINED = HOUR
CHECK_EVERY = 15 * 60.0

Level = Literal["ok", "warning", "critical"]
#: (unix time, used %): what a disk's samples are.
Sample = tuple[float, float]


@dataclass(frozen=True)
class Forecast:
    used: float | None
    #: Growth in percentage points per hour, by the window that fills slower; None: no forecast.
    slope: float | None
    #: Hours until full; None is "never" (not growing, or the windows disagree).
    eta_hours: float | None
    level: Level = "ok"


def theil_sen(points: Sequence[Sample]) -> float | None:
    """The median of the pairwise slopes (per second); None for fewer than two distinct times."""
    slopes = [
        (y2 - y1) / (t2 - t1)
        for index, (t1, y1) in enumerate(points)
        for t2, y2 in points[index + 1 :]
        if t2 != t1
    ]
    return median(slopes) if slopes else None


def _buckets(samples: Sequence[Sample], start: float, end: float, width: float) -> list[Sample]:
    """The median time and value of each ``width`` slice of [start, end) that has samples."""
    slices: dict[int, list[Sample]] = {}
    for t, y in samples:
        if start <= t < end:
            slices.setdefault(int((t - start) // width), []).append((t, y))
    return [(median(t for t, _ in part), median(y for _, y in part)) for _, part in sorted(slices.items())]


def _slope(samples: Sequence[Sample], now: float, window: float, width: float) -> float | None:
    """Percentage points per hour over the window, or None when too little of it has data."""
    buckets = _buckets(samples, now - window, now, width)
    if len(buckets) < max(2, MIN_COVERAGE * window / width):
        return None
    slope = theil_sen(buckets)
    return None if slope is None else slope * HOUR


def _current(samples: Sequence[Sample], now: float) -> float | None:
    """Usage now: the median of the last 10 minutes (one odd sample is not the disk's state)."""
    recent = [y for t, y in samples if now - 600 <= t <= now]
    return median(recent) if recent else None


def _prior_peak(samples: Sequence[Sample], now: float) -> float | None:
    """The highest usage of the long window before the short one (bucket medians, so not a spike)."""
    older = _buckets(samples, now - LONG_WINDOW, now - SHORT_WINDOW, SHORT_BUCKET)
    return max((y for _, y in older), default=None)


def forecast_at(samples: Sequence[Sample], now: float) -> Forecast:
    """The forecast at ``now`` from the samples up to it (``samples`` sorted by time)."""
    first = bisect_left(samples, now - LONG_WINDOW, key=lambda s: s[0])
    last = bisect_right(samples, now, key=lambda s: s[0])
    samples = samples[first:last]
    used = _current(samples, now)
    if used is None:
        return Forecast(None, None, None)
    short = _slope(samples, now, SHORT_WINDOW, SHORT_BUCKET)
    long = _slope(samples, now, LONG_WINDOW, LONG_BUCKET)
    if short is None or long is None or short < MIN_GROWTH:
        return Forecast(used, None, None)
    free = max(0.0, 100.0 - used)
    peak = _prior_peak(samples, now)
    if peak is not None and used > peak + NEW_GROUND:
        slope = short  # filling into space the week never used: a fresh fill, at its own pace
    elif long > 0 and free / long < AGREE_HORIZON:
        slope = min(short, long)  # a climb the week has seen before: the week's pace
    else:
        return Forecast(used, None, None)  # the climb is the week's usual one (rotation, a job)
    eta = free / slope
    for level, free_under, eta_under in LEVELS:
        if free < free_under and eta < eta_under:
            return Forecast(used, slope, eta, level)
    return Forecast(used, slope, eta)


def _rank(level: Level) -> int:
    return ("ok", "warning", "critical").index(level)


def disk_forecast(samples: Sequence[Sample], now: float) -> Forecast:
    """The forecast at ``now``, with its level only as serious as it has been for the whole last
    hour (checked every 15 minutes): a level reached a moment ago does not alert yet."""
    latest = forecast_at(samples, now)
    if latest.level == "ok":
        return latest
    sustained: Level = latest.level
    checks = int(SUSTAINED // CHECK_EVERY)
    for step in range(1, checks + 1):
        earlier = forecast_at(samples, now - step * CHECK_EVERY).level
        if _rank(earlier) < _rank(sustained):
            sustained = earlier
        if sustained == "ok":
            break
    return Forecast(latest.used, latest.slope, latest.eta_hours, sustained)


EtaUnit = Literal["under_an_hour", "an_hour", "hours", "days"]


def eta_rounded(hours: float) -> tuple[EtaUnit, int]:
    """An ETA rounded as people say it, (unit, count): under an hour, an hour, hours up to a day
    and a half, days after that. The alert text and the portal say it in words of their own."""
    if hours < 1:
        return "under_an_hour", 0
    if hours < 1.5:
        return "an_hour", 1
    if hours < 36:
        return "hours", round(hours)
    return "days", round(hours / 24)
