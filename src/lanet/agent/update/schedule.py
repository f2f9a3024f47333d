"""The update window: ``updates.schedule`` (the seed's ``update_schedule``, local time) for
``updates.window_minutes``, every day. A window that starts late in the evening runs past midnight.
The arithmetic is the shared maintenance window's (:mod:`lanet.protocol.maintenance_window`)."""

from datetime import datetime, timedelta

from lanet.protocol.maintenance_window import MaintenanceWindow


def window_start(schedule: str, now: datetime) -> datetime:
    """The start of the window that contains ``now``, or of the last one before it (local time)."""
    opens = MaintenanceWindow(schedule, 1).next_start(now)
    return opens if opens <= now else opens - timedelta(days=1)


def in_window(schedule: str, minutes: int, now: datetime) -> bool:
    """Whether ``now`` (local, naive or aware) falls inside the update window."""
    return MaintenanceWindow(schedule, minutes).contains(now)
