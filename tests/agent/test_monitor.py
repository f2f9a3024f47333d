"""Thresholds to alerts: hysteresis, no repeats, a resolved signal, services."""

from lanet.agent.config import make_config
from lanet.agent.monitor import HYSTERESIS, Monitor

SETTINGS = make_config().monitoring


def _types(alerts: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(a["type"], a["state"], a["severity"]) for a in alerts]


def test_an_alert_opens_once_and_resolves_once_with_hysteresis() -> None:
    monitor = Monitor()
    assert _types(monitor.evaluate({"cpu_usage": 92}, None, SETTINGS)) == [("cpu_usage", "open", "warning")]
    assert monitor.evaluate({"cpu_usage": 93}, None, SETTINGS) == []  # holds: no repeat
    assert monitor.evaluate({"cpu_usage": 90 - HYSTERESIS + 1}, None, SETTINGS) == []  # inside the band
    resolved = monitor.evaluate({"cpu_usage": 50}, None, SETTINGS)
    assert _types(resolved) == [("cpu_usage", "resolved", "warning")]
    assert resolved[0]["current_value"] == 50 and resolved[0]["threshold"] == 90
    assert monitor.evaluate({"cpu_usage": 50}, None, SETTINGS) == []


def test_escalation_to_critical_is_announced() -> None:
    monitor = Monitor()
    monitor.evaluate({"memory_usage": 91}, None, SETTINGS)
    assert _types(monitor.evaluate({"memory_usage": 99}, None, SETTINGS)) == [
        ("memory_usage", "open", "critical")
    ]


def test_each_disk_is_its_own_alert() -> None:
    monitor = Monitor()
    disks = [{"mount": "C:", "percent": 90.0}, {"mount": "D:", "percent": 10.0}]
    alerts = monitor.evaluate({"disks": disks}, None, SETTINGS)
    assert [(a["type"], a["resource"], a["message"]) for a in alerts] == [
        ("disk_space", "C:", "Disk C: is 90% full")
    ]


def test_stopped_automatic_services_alert_and_recover() -> None:
    monitor = Monitor()
    services = [
        {"name": "Spooler", "status": "stopped", "startup": "automatic"},
        {"name": "Fax", "status": "stopped", "startup": "manual"},
    ]
    alerts = monitor.evaluate({}, services, SETTINGS)
    assert [(a["resource"], a["state"]) for a in alerts] == [("Spooler", "open")]
    assert monitor.evaluate({}, services, SETTINGS) == []
    services[0]["status"] = "running"
    assert [(a["resource"], a["state"]) for a in monitor.evaluate({}, services, SETTINGS)] == [
        ("Spooler", "resolved")
    ]


def test_thresholds_and_switches_come_from_the_config() -> None:
    monitor = Monitor()
    strict = make_config({"monitoring": {"cpu_threshold": 50}}).monitoring
    assert monitor.evaluate({"cpu_usage": 60}, None, strict)
    off = make_config({"monitoring": {"enabled": False}}).monitoring
    assert _types(monitor.evaluate({"cpu_usage": 60}, None, off)) == [("cpu_usage", "resolved", "warning")]
    assert monitor.evaluate({"cpu_usage": 99}, None, off) == []


def test_open_alerts_survive_a_restart() -> None:
    first = Monitor()
    first.evaluate({"cpu_usage": 95}, None, SETTINGS)
    second = Monitor(first.open)
    assert second.evaluate({"cpu_usage": 96}, None, SETTINGS) == []


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_threshold_must_hold_for_its_delay_and_a_dip_starts_the_wait_again() -> None:
    clock = Clock()
    monitor = Monitor(clock=clock)
    delays = make_config().alert_delays  # CPU and memory 10 minutes, disks at once
    assert (delays.cpu_minutes, delays.memory_minutes, delays.disk_minutes) == (10, 10, 0)
    assert monitor.evaluate({"cpu_usage": 97}, None, SETTINGS, delays) == []  # one busy sample
    clock.now += 300
    assert monitor.evaluate({"cpu_usage": 92}, None, SETTINGS, delays) == []
    clock.now += 240
    assert monitor.evaluate({"cpu_usage": 50}, None, SETTINGS, delays) == []  # a dip: start again
    clock.now += 60
    assert monitor.evaluate({"cpu_usage": 92}, None, SETTINGS, delays) == []
    clock.now += 599
    assert monitor.evaluate({"cpu_usage": 92}, None, SETTINGS, delays) == []
    clock.now += 1
    opened = monitor.evaluate({"cpu_usage": 93}, None, SETTINGS, delays)
    assert _types(opened) == [("cpu_usage", "open", "warning")]
    assert opened[0]["message"] == "CPU at 93% for 10 min"
    # Once open, a change of severity and the recovery are announced at once.
    assert _types(monitor.evaluate({"cpu_usage": 99}, None, SETTINGS, delays)) == [
        ("cpu_usage", "open", "critical")
    ]
    assert _types(monitor.evaluate({"cpu_usage": 20}, None, SETTINGS, delays)) == [
        ("cpu_usage", "resolved", "critical")
    ]
    # A disk alerts at its first sample over the line; pushed delays change that.
    disks = {"disks": [{"mount": "/", "percent": 91.0}]}
    assert _types(monitor.evaluate(disks, None, SETTINGS, delays)) == [("disk_space", "open", "warning")]
    patient = make_config({"alert_delays": {"disk_minutes": 30}}).alert_delays
    other = Monitor(clock=clock)
    assert other.evaluate(disks, None, SETTINGS, patient) == []
    preview = other.copy()
    clock.now += 1800
    assert _types(preview.evaluate(disks, None, SETTINGS, patient)) == [("disk_space", "open", "warning")]
    assert other.open == {}  # the preview changed nothing
