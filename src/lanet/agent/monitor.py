"""Thresholds to alerts, sustained, with hysteresis and no repeats.

A threshold must stay crossed for its delay (``alert_delays``: "CPU over 90 % for 10 minutes")
before its alert opens; a sample back under the line starts the wait again. An alert is sent once
when its condition starts (``state: open``), again only if its severity changes, and once when the
condition clears (``state: resolved``). A condition clears only when the value falls
:data:`HYSTERESIS` points below the threshold, so a value hovering at the line does not flap. The
open set is persisted by the agent, so a restart does not announce every alert again; a wait in
progress starts over after a restart.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lanet.protocol.contract import Record

HYSTERESIS = 5.0


@dataclass(frozen=True)
class _Check:
    type: str
    metric: str
    label: str


_CHECKS = (
    _Check("cpu_usage", "cpu_usage", "CPU"),
    _Check("memory_usage", "memory_usage", "Memory"),
)


def _severity(value: float, threshold: float) -> str:
    """Critical halfway between the threshold and 100 % (at least 95 %), warning below."""
    return "critical" if value >= max(95.0, (threshold + 100) / 2) else "warning"


class Monitor:
    def __init__(
        self,
        open_alerts: dict[str, str] | None = None,
        *,
        waiting: dict[str, float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        #: key ("type|resource") -> severity of every alert currently open
        self.open: dict[str, str] = dict(open_alerts or {})
        #: key -> since when its threshold has been crossed, for alerts not open yet
        self.waiting: dict[str, float] = dict(waiting or {})
        self.clock = clock

    def copy(self) -> "Monitor":
        """The same state, to evaluate without changing this one (a preview)."""
        return Monitor(self.open, waiting=self.waiting, clock=self.clock)

    def evaluate(
        self,
        metrics: dict[str, Any],
        services: list[dict[str, Any]] | None,
        settings: Record,
        delays: Record | None = None,
    ) -> list[dict[str, Any]]:
        """The alert transitions for this sample (empty when nothing changed). ``delays`` is the
        ``alert_delays`` section (None: alert at the first sample over a threshold)."""
        if not settings.enabled:
            self.waiting.clear()
            return self._resolve_all("monitoring disabled")
        out: list[dict[str, Any]] = []
        thresholds = {"cpu_usage": settings.cpu_threshold, "memory_usage": settings.memory_threshold}
        minutes = {
            "cpu_usage": delays.cpu_minutes if delays else 0,
            "memory_usage": delays.memory_minutes if delays else 0,
            "disk_space": delays.disk_minutes if delays else 0,
        }
        for check in _CHECKS:
            value = metrics.get(check.metric)
            if value is not None:
                out += self._level(
                    check.type,
                    "",
                    float(value),
                    thresholds[check.type],
                    f"{check.label} at",
                    minutes[check.type],
                )
        for disk in metrics.get("disks") or []:
            out += self._level(
                "disk_space",
                disk["mount"],
                float(disk["percent"]),
                settings.disk_threshold,
                f"Disk {disk['mount']} is",
                minutes["disk_space"],
                suffix=" full",
            )
        if services is not None and settings.service_monitoring:
            out += self._services(services)
        elif not settings.service_monitoring:
            out += self._resolve_type("service_stopped", "service monitoring disabled")
        return out

    def _level(
        self,
        kind: str,
        resource: str,
        value: float,
        threshold: float,
        text: str,
        delay_minutes: int,
        suffix: str = "",
    ) -> list[dict[str, Any]]:
        key = f"{kind}|{resource}"
        current = self.open.get(key)
        if value < threshold:
            self.waiting.pop(key, None)  # back under the line: a later crossing waits again
        if value >= threshold:
            if current is None and delay_minutes > 0:
                since = self.waiting.setdefault(key, self.clock())
                if self.clock() - since < delay_minutes * 60:
                    return []
                suffix += f" for {delay_minutes} min"
            self.waiting.pop(key, None)
            severity = _severity(value, threshold)
            if current == severity:
                return []
            self.open[key] = severity
            return [
                self._alert(
                    kind, resource, severity, f"{text} {value:.0f}%{suffix}", threshold, value, "open"
                )
            ]
        if current is not None and value < threshold - HYSTERESIS:
            del self.open[key]
            return [
                self._alert(
                    kind,
                    resource,
                    current,
                    f"{text} {value:.0f}%{suffix} (back to normal)",
                    threshold,
                    value,
                    "resolved",
                )
            ]
        return []

    def _services(self, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        seen = set()
        for service in services:
            if service.get("startup") != "automatic":
                continue
            name = service["name"]
            key = f"service_stopped|{name}"
            seen.add(key)
            stopped = service.get("status") in ("stopped", "failed")
            if stopped and key not in self.open:
                self.open[key] = "critical"
                out.append(
                    self._alert(
                        "service_stopped",
                        name,
                        "critical",
                        f"Service {name} is {service.get('status')} (startup: automatic)",
                        None,
                        None,
                        "open",
                    )
                )
            elif not stopped and key in self.open:
                del self.open[key]
                out.append(
                    self._alert(
                        "service_stopped",
                        name,
                        "critical",
                        f"Service {name} is running again",
                        None,
                        None,
                        "resolved",
                    )
                )
        for key in [k for k in self.open if k.startswith("service_stopped|") and k not in seen]:
            out.append(
                self._alert(
                    "service_stopped",
                    key.split("|", 1)[1],
                    self.open.pop(key),
                    "Service no longer set to start automatically",
                    None,
                    None,
                    "resolved",
                )
            )
        return out

    def _resolve_type(self, kind: str, reason: str) -> list[dict[str, Any]]:
        out = []
        for key in [k for k in self.open if k.startswith(kind + "|")]:
            resource = key.split("|", 1)[1]
            out.append(
                self._alert(kind, resource, self.open.pop(key), f"Resolved: {reason}", None, None, "resolved")
            )
        return out

    def _resolve_all(self, reason: str) -> list[dict[str, Any]]:
        out = []
        for key in list(self.open):
            kind, resource = key.split("|", 1)
            out.append(
                self._alert(kind, resource, self.open.pop(key), f"Resolved: {reason}", None, None, "resolved")
            )
        return out

    @staticmethod
    def _alert(
        kind: str,
        resource: str,
        severity: str,
        message: str,
        threshold: float | None,
        value: float | None,
        state: str,
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "severity": severity,
            "message": message,
            "threshold": threshold,
            "current_value": None if value is None else round(value, 1),
            "resource": resource or None,
            "state": state,
        }
