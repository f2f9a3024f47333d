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
