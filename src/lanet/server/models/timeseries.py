"""Rolled-up metric history and the forecasts made from it.

Raw heartbeats (``metric_samples``) are kept for days; what charts and forecasts read over weeks and
years are their roll-ups: per asset and per fixed bucket (5 minutes, 1 hour), the average, minimum
and maximum of each metric, and the same per disk. A bucket is its start as Unix seconds, a plain
integer on both databases, so bucket arithmetic is the same SQL on both. Percentages are single
precision (``REAL``): a tenth of a point is what a chart shows, and it halves the row. These tables
are only reached through :mod:`lanet.server.services.timeseries`.
"""

from datetime import datetime

from sqlalchemy import REAL, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lanet.server.models.base import Base

#: Four-byte floats: enough for a percentage or a rate, half the size of a double.
Real: REAL[float] = REAL()


class _MetricRollup:
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="bucket start, Unix seconds")
    samples: Mapped[int] = mapped_column(Integer, doc="heartbeats the bucket holds")
    cpu_avg: Mapped[float | None] = mapped_column(Real)
    cpu_min: Mapped[float | None] = mapped_column(Real)
    cpu_max: Mapped[float | None] = mapped_column(Real)
    memory_avg: Mapped[float | None] = mapped_column(Real)
    memory_min: Mapped[float | None] = mapped_column(Real)
    memory_max: Mapped[float | None] = mapped_column(Real)
    disk_avg: Mapped[float | None] = mapped_column(Real)
    disk_min: Mapped[float | None] = mapped_column(Real)
    disk_max: Mapped[float | None] = mapped_column(Real)
    network_avg: Mapped[float | None] = mapped_column(Real)
    network_max: Mapped[float | None] = mapped_column(Real)
    temperature_avg: Mapped[float | None] = mapped_column(Real)
    temperature_max: Mapped[float | None] = mapped_column(Real)


class MetricRollup5m(_MetricRollup, Base):
    __tablename__ = "metric_rollups_5m"


class MetricRollup1h(_MetricRollup, Base):
    __tablename__ = "metric_rollups_1h"


class _DiskRollup:
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    mount: Mapped[str] = mapped_column(String(512), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="bucket start, Unix seconds")
    samples: Mapped[int] = mapped_column(Integer)
    used_avg: Mapped[float | None] = mapped_column(Real, doc="percent used")
    used_min: Mapped[float | None] = mapped_column(Real)
    used_max: Mapped[float | None] = mapped_column(Real)
    total: Mapped[int | None] = mapped_column(BigInteger, doc="bytes")


class DiskRollup5m(_DiskRollup, Base):
    __tablename__ = "disk_rollups_5m"


class DiskRollup1h(_DiskRollup, Base):
    __tablename__ = "disk_rollups_1h"


class DiskForecast(Base):
    """The latest forecast of one disk (:mod:`lanet.server.services.forecast`), rewritten by each
    prediction pass: what the asset page and its chart show, and what the disk's alert says."""

    __tablename__ = "disk_forecasts"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    mount: Mapped[str] = mapped_column(String(512), primary_key=True)
    computed_at: Mapped[datetime]
    used: Mapped[float | None] = mapped_column(Real, doc="percent used now")
    slope: Mapped[float | None] = mapped_column(Real, doc="percentage points per hour; None: not filling")
    eta_hours: Mapped[float | None] = mapped_column(Real, doc="hours until full; None: never")
    level: Mapped[str] = mapped_column(String(16), doc="ok, warning or critical (sustained)")


class TimeseriesMark(Base):
    """Where the roll-up and prediction passes stand (a watermark each), so that any backend
    process may run the next pass."""

    __tablename__ = "timeseries_marks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
