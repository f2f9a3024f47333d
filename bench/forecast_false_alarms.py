"""Disk-full forecasts on synthetic disk-months: how often they cry wolf, and how early they warn.

Non-filling disks (what real fleets are mostly made of, and what gives other tools' users their
false alarms) are generated in the shapes seen in the wild, each at 75-92 % used with noise:
flat, the log-rotation sawtooth (a daily climb undone at night), a nightly job that writes and
removes its data, and a slow growth cleaned up every few days. Each is evaluated every hour of a
30-day month, after a week of history; an alert is a move from ok to warning or critical (one
per episode). Filling disks (steady fills of 0.5-3 points an hour starting at 10-60 %) measure
the other side: whether the warning came before the disk was full, and how many hours before.

    .venv/bin/python bench/forecast_false_alarms.py --months 100 --seed 1

Prints one JSON line; never asserts. Samples are every 5 minutes (the 5-minute rollup the charts
read; the forecast buckets them anyway).
"""

import argparse
import json
import random
import time
from collections.abc import Callable

from lanet.server.services.forecast import HOUR, disk_forecast

STEP = 300.0
DAY = 24 * HOUR
HISTORY_DAYS = 7
MONTH_DAYS = 30


def _series(
    usage: Callable[[float], float], days: int, noise: float, rng: random.Random
) -> list[tuple[float, float]]:
    points = int(days * DAY / STEP)
    return [
        (index * STEP, max(0.0, min(100.0, usage(index * STEP / HOUR) + rng.uniform(-noise, noise))))
        for index in range(points)
    ]


def _non_filling(kind: str, rng: random.Random) -> Callable[[float], float]:
    base = rng.uniform(75, 92)
    if kind == "flat":
        return lambda h: base
    if kind == "sawtooth":
        rate, hours, hour0 = rng.uniform(0.5, 1.5), rng.uniform(3, 10), rng.uniform(0, 24)
        return lambda h: base + rate * min((h - hour0) % 24, hours)
    if kind == "nightly_job":
        size, start, length = rng.uniform(2, 7), rng.uniform(0, 4), rng.uniform(1, 5)

        def job(h: float) -> float:
            t = (h - start) % 24
            return base + (size * min(t, 1.0) if t < length else 0.0)

        return job
    # slow growth, cleaned up every few days
    rate, every = rng.uniform(0.02, 0.08), rng.uniform(2, 6) * 24
    return lambda h: base - 4 + rate * (h % every)


def _alerts(samples: list[tuple[float, float]], start_hour: int, end_hour: int) -> list[tuple[int, str]]:
    """(hour, level) of each move from ok to warning or critical."""
    found, previous = [], "ok"
    for hour in range(start_hour, end_hour):
        level = disk_forecast(samples, hour * HOUR).level
        if level != "ok" and previous == "ok":
            found.append((hour, level))
        previous = level
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--months", type=int, default=100, help="non-filling disk-months (and a fifth as many fills)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    began = time.perf_counter()
    kinds = ("flat", "sawtooth", "nightly_job", "slow_cleaned")
    false_alarms: dict[str, int] = dict.fromkeys(kinds, 0)
    months: dict[str, int] = dict.fromkeys(kinds, 0)
    days = HISTORY_DAYS + MONTH_DAYS
    for index in range(args.months):
        kind = kinds[index % len(kinds)]
        samples = _series(_non_filling(kind, rng), days, rng.uniform(0.1, 1.5), rng)
        false_alarms[kind] += len(_alerts(samples, HISTORY_DAYS * 24, days * 24))
        months[kind] += 1
    fills = max(1, args.months // 5)
    warned_before_full, lead_hours = 0, []
    for _ in range(fills):
        rate, start = rng.uniform(0.5, 3.0), rng.uniform(10, 60)
        begins = HISTORY_DAYS * 24 + rng.uniform(0, 24)  # after a calm week
        full_at = begins + (100 - start) / rate

        def fill(h: float, rate: float = rate, start: float = start, begins: float = begins) -> float:
            return start + rate * max(0.0, h - begins)

        samples = _series(fill, int(full_at / 24) + 2, rng.uniform(0.1, 0.8), rng)
        alerts = _alerts(samples, HISTORY_DAYS * 24, int(full_at) + 1)
        if alerts:
            warned_before_full += 1
            lead_hours.append(full_at - alerts[0][0])
    total = sum(false_alarms.values())
    print(
        json.dumps(
            {
                "disk_months": args.months,
                "false_alarms": total,
                "false_alarms_per_100_disk_months": round(100 * total / max(1, args.months), 2),
                "by_kind": {k: {"months": months[k], "false_alarms": false_alarms[k]} for k in kinds},
                "fills": fills,
                "fills_warned_before_full": warned_before_full,
                "lead_hours_median": sorted(lead_hours)[len(lead_hours) // 2] if lead_hours else None,
                "lead_hours_min": min(lead_hours) if lead_hours else None,
                "seconds": round(time.perf_counter() - began, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
