"""Disk-full forecasts on replayed series with known answers: a steady fill gives its true ETA and
alerts at the thresholds only once sustained; what is not really filling (flat, noisy, the
log-rotation sawtooth, a nightly burst) forecasts "never"; a cleanup mid-window does not hide a
disk that fills again. Series are made here, one sample a minute, with a fixed seed."""

import random
from collections.abc import Callable

from lanet.server.services.forecast import HOUR, disk_forecast, forecast_at, theil_sen

DAY = 24 * HOUR
START = 1_700_000_000.0


def series(
    days: float, usage: Callable[[float], float], noise: float = 0.0, seed: int = 7
) -> list[tuple[float, float]]:
    """One sample a minute for ``days``; ``usage(hours since start)`` plus uniform noise."""
    rng = random.Random(seed)
    return [
        (START + minute * 60.0, min(100.0, usage(minute / 60) + rng.uniform(-noise, noise)))
        for minute in range(int(days * 24 * 60))
    ]


def _end(samples: list[tuple[float, float]]) -> float:
    return samples[-1][0]


def test_theil_sen_ignores_an_outlier_that_least_squares_would_follow() -> None:
    points = [(float(t), 2.0 * t) for t in range(10)] + [(10.0, 500.0)]
    assert theil_sen(points) == 2.0
    assert theil_sen([(1.0, 5.0)]) is None


def test_a_steady_fill_gives_its_true_eta_and_alerts_at_each_threshold() -> None:
    # 50 % a week ago, +0.25 points an hour: 92 % now, 8 % free, full in 32 h.
    samples = series(7, lambda h: 50 + 0.25 * h, noise=0.3)
    now = _end(samples)
    found = forecast_at(samples, now)
    assert found.slope is not None and abs(found.slope - 0.25) < 0.02
    assert found.eta_hours is not None and abs(found.eta_hours - 32) < 3
    assert found.level == "ok"  # 8 % free but 32 h away: neither 24 h nor 4 h
    # A disk at 10 % all week that began filling at 2 points an hour: new ground, its own pace.
    fast = series(8, lambda h: max(10.0, 2 * h - 250), noise=0.3)
    at_85 = START + (335 / 2) * HOUR  # 85 % used: 7.5 h left, 15 % free
    assert forecast_at(fast, at_85).level == "warning"
    at_93 = START + (343 / 2) * HOUR  # 93 %: 3.5 h left, 7 % free
    assert forecast_at(fast, at_93).level == "critical"


def test_a_level_counts_only_once_it_held_for_a_whole_hour() -> None:
    fast = series(8, lambda h: max(10.0, 2 * h - 250), noise=0.2)
    crossed = START + 165 * HOUR  # 80 %: the warning's 20 % free is just crossed
    assert forecast_at(fast, crossed + 600).level == "warning"
    assert disk_forecast(fast, crossed + 600).level == "ok"  # not yet for an hour
    assert disk_forecast(fast, crossed + HOUR + 600).level == "warning"


def test_what_is_not_filling_forecasts_never() -> None:
    flat = series(7, lambda h: 88.0, noise=1.5)
    assert forecast_at(flat, _end(flat)).eta_hours is None
    # Logs grow 3 points an hour for six hours, then rotate back, every day at 85 %.
    sawtooth = series(7, lambda h: 85 + 3 * min(h % 24, 6) * (h % 24 < 6), noise=0.2)
    for hours_before in range(0, 48, 1):
        assert disk_forecast(sawtooth, _end(sawtooth) - hours_before * HOUR).level == "ok"
    # A nightly job writes 8 points in an hour and removes them by morning.
    burst = series(7, lambda h: 86 + (8 * (h % 24 - 1) if 1 <= h % 24 < 2 else 8 if 2 <= h % 24 < 7 else 0))
    for hours_before in range(0, 48, 1):
        assert disk_forecast(burst, _end(burst) - hours_before * HOUR).level == "ok"


def test_a_cleanup_mid_window_does_not_hide_a_disk_that_fills_again() -> None:
    # +0.5 points an hour; two days ago 30 points were freed; it kept filling at the same pace.
    def usage(h: float) -> float:
        return 40 + 0.5 * h - (30 if h >= 120 else 0)

    samples = series(7, usage, noise=0.3)
    now = _end(samples)
    found = forecast_at(samples, now)
    true_eta = (100 - usage(now / HOUR - START / HOUR)) / 0.5
    assert found.eta_hours is not None and abs(found.eta_hours - true_eta) / true_eta < 0.25


def test_a_machine_that_was_off_says_nothing_rather_than_guess() -> None:
    samples = series(7, lambda h: 50 + 0.25 * h)
    now = _end(samples)
    recent_only = [s for s in samples if s[0] > now - 3 * HOUR]  # switched on three hours ago
    assert forecast_at(recent_only, now).eta_hours is None
    assert forecast_at([], now).used is None
