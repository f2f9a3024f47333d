"""CPU and memory anomalies against the machine's own week: what is unusual for *this* PC at *this*
hour of the week, not what crosses one fixed line for every PC.

The baseline of a metric is, for each of the 168 hours of the week (UTC, so a machine's office
hours fall in the same slots every week), the median of what the machine did in that hour and
the median absolute deviation around it. A value is anomalous when it is above the median by
more than :data:`DEVIATIONS` deviations and by at least :data:`MIN_RISE` points (an idle PC that
goes from 2 % to 9 % is not news), and it counts only once every sample of the last
:data:`PERSIST` (10 minutes) is, and the machine has :data:`MIN_HISTORY` (7 days) of history.
Like :mod:`.forecast`, a pure function of the samples and the clock, tested on replayed series.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median

HOUR = 3600.0
DAY = 24 * HOUR
MIN_HISTORY = 7 * DAY
PERSIST = 10 * 60.0
DEVIATIONS = 4.0
MIN_RISE = 20.0
#: A slot needs this many samples of history before it is a baseline (an hour seen at least once
#: at the heartbeat's 60 s, or a few times at a slower one).
MIN_SLOT_SAMPLES = 30
#: The deviation is never taken below this (a flat overnight 1 % would make any blip "anomalous").
MIN_DEVIATION = 2.0

Sample = tuple[float, float]


@dataclass(frozen=True)
class Anomaly:
    value: float
    expected: float
    #: The value's distance above the expected one, in (robust) deviations.
    deviations: float


def hour_of_week(ts: float) -> int:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.weekday() * 24 + moment.hour


def baseline(
    samples: Sequence[Sample], before: float, min_slot_samples: int = MIN_SLOT_SAMPLES
) -> dict[int, tuple[float, float]]:
    """Hour of the week -> (median, deviation) of the samples older than ``before``."""
    slots: dict[int, list[float]] = {}
    for ts, value in samples:
        if ts < before:
            slots.setdefault(hour_of_week(ts), []).append(value)
    found = {}
    for slot, values in slots.items():
        if len(values) >= min_slot_samples:
            middle = median(values)
            found[slot] = (middle, max(MIN_DEVIATION, median(abs(v - middle) for v in values)))
    return found


def anomaly_at(
    samples: Sequence[Sample], now: float, min_slot_samples: int = MIN_SLOT_SAMPLES
) -> Anomaly | None:
    """The anomaly going on at ``now`` (``samples`` sorted by time), or None. The history may be
    coarser than the recent samples (5-minute averages, say: then ``min_slot_samples`` is 12, an
    hour seen once)."""
    if not samples or now - samples[0][0] < MIN_HISTORY:
        return None
    recent = [(ts, v) for ts, v in samples if now - PERSIST <= ts <= now]
    if len(recent) < 2 or recent[0][0] > now - PERSIST + 120:  # the last 10 minutes, covered
        return None
    usual = baseline(samples, now - PERSIST, min_slot_samples)
    worst: Anomaly | None = None
    for ts, value in recent:
        slot = usual.get(hour_of_week(ts))
        if slot is None:
            return None
        expected, deviation = slot
        rise = value - expected
        if rise < MIN_RISE or rise < DEVIATIONS * deviation:
            return None
        score = rise / deviation
        if worst is None or score < worst.deviations:
            worst = Anomaly(value, expected, score)
    return worst
