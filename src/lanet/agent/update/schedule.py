"""The update window: ``updates.schedule`` (the seed's ``update_schedule``, local time) for
``updates.window_minutes``. A window that starts late in the evening runs past midnight."""

from datetime import datetime, timedelta


def window_start(schedule: str, now: datetime) -> datetime:
    """The start of the window that contains ``now``, or of the next one (local time)."""
    hour, minute = (int(part) for part in schedule.split(":"))
    today = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return today - timedelta(days=1) if today > now else today


def in_window(schedule: str, minutes: int, now: datetime) -> bool:
    """Whether ``now`` (local, naive or aware) falls inside the update window."""
    return now - window_start(schedule, now) < timedelta(minutes=minutes)
