"""Collector pieces every OS shares: psutil metrics, field guards, formatting."""

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import psutil

log = logging.getLogger("lanet.agent.collectors")
T = TypeVar("T")
_warned: set[str] = set()

#: Filesystems that are not disks a person would call "the disk".
_PSEUDO_FS = {
    "tmpfs",
    "devtmpfs",
    "squashfs",
    "overlay",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "nsfs",
    "autofs",
    "fuse.lxcfs",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "efivarfs",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "ramfs",
    "binfmt_misc",
    "rpc_pipefs",
    "nfsd",
}


def warn_once(field: str, reason: str) -> None:
    if field not in _warned:
        _warned.add(field)
        log.warning("cannot read %s: %s (sent as null)", field, reason)


def guarded(field: str, fn: Callable[[], T], default: T) -> T:
    """Run one collector; on any failure log once and return ``default``."""
    try:
        return fn()
    except Exception as exc:
        warn_once(field, f"{type(exc).__name__}: {exc}")
        return default


def human_size(num_bytes: float) -> str:
    """``"15.6 GB"`` style, decimal units as OS installers show them."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if num_bytes < 1000 or unit == "TB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    return f"{num_bytes:.1f} TB"


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ram_text() -> str:
    return human_size(psutil.virtual_memory().total)


def fixed_partitions() -> list[Any]:
    parts = []
    seen = set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in _PSEUDO_FS or "cdrom" in part.opts or part.device in seen:
            continue
        seen.add(part.device)
        parts.append(part)
    return parts


class MetricsSampler:
    """Samples the seed's System Metrics without blocking.

    CPU is ``psutil.cpu_percent(None)``: the average since the previous call, so a sample taken every
    heartbeat is the average over the interval, and the first one (meaningless) is primed at creation.
    Network is the byte delta since the previous sample, in Mbps.
    """

    def __init__(self, threads_counter: Callable[[], int] | None = None) -> None:
        self._threads_counter = threads_counter
        psutil.cpu_percent(None)
        self._net = self._net_bytes()
        self._net_at = time.monotonic()

    @staticmethod
    def _net_bytes() -> int | None:
        try:
            counters = psutil.net_io_counters()
            return int(counters.bytes_sent + counters.bytes_recv) if counters else None
        except Exception:
            return None

    def sample(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["cpu_usage"] = guarded("cpu_usage", lambda: round(psutil.cpu_percent(None), 1), None)
        out["memory_usage"] = guarded("memory_usage", lambda: round(psutil.virtual_memory().percent, 1), None)
        no_disks: list[dict[str, Any]] = []
        disks = guarded("disks", self._disks, no_disks)
        out["disks"] = disks or None
        out["disk_usage"] = max((d["percent"] for d in disks), default=None)
        out["network_usage"] = guarded("network_usage", self._network_mbps, None)
        boot = guarded("last_boot", psutil.boot_time, None)
        out["last_boot"] = iso(boot)
        out["uptime"] = int(time.time() - boot) if boot else None
        out["temperature"] = guarded("temperature", cpu_temperature, None)
        out["processes_count"] = guarded("processes_count", lambda: len(psutil.pids()), None)
        counter = self._threads_counter or count_threads_psutil
        out["threads_count"] = guarded("threads_count", counter, None)
        return out

    @staticmethod
    def _disks() -> list[dict[str, Any]]:
        disks = []
        for part in fixed_partitions():
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue
            disks.append(
                {"mount": part.mountpoint, "total": usage.total, "used": usage.used, "percent": usage.percent}
            )
        return disks

    def _network_mbps(self) -> float | None:
        now_bytes, now = self._net_bytes(), time.monotonic()
        previous, previous_at = self._net, self._net_at
        self._net, self._net_at = now_bytes, now
        if now_bytes is None or previous is None or now <= previous_at:
            return None
        return round(max(0, now_bytes - previous) * 8 / (now - previous_at) / 1_000_000, 3)


def cpu_temperature() -> float | None:
    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:
        return None
    sensors = reader()
    for name in ("coretemp", "k10temp", "cpu_thermal", "zenpower", "acpitz"):
        entries = sensors.get(name)
        if entries:
            return round(float(max(e.current for e in entries)), 1)
    return None


def count_threads_psutil() -> int:
    total = 0
    for proc in psutil.process_iter(["num_threads"]):
        total += proc.info.get("num_threads") or 0
    return total


def top_processes(limit: int = 10) -> list[dict[str, Any]]:
    """The busiest processes by CPU since the previous call, then by memory."""
    procs = []
    for proc in psutil.process_iter(
        ["pid", "name", "cpu_percent", "memory_percent", "memory_info", "username"]
    ):
        info = proc.info
        procs.append(
            {
                "pid": info["pid"],
                "name": (info.get("name") or "?")[:255],
                "cpu_percent": round(info.get("cpu_percent") or 0.0, 1),
                "memory_percent": round(min(100.0, info.get("memory_percent") or 0.0), 2),
                "memory_rss": info["memory_info"].rss if info.get("memory_info") else None,
                "username": info.get("username"),
            }
        )
    procs.sort(key=lambda p: (p["cpu_percent"], p["memory_percent"]), reverse=True)
    return procs[:limit]


NO_INTERFACE: tuple[str | None, str | None] = (None, None)


def primary_interface() -> tuple[str | None, str | None]:
    """(MAC, IPv4) of the interface that carries the default route, else the first up, non-loopback."""
    import socket

    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    preferred = default_route_interface()
    names = ([preferred] if preferred in addrs else []) + sorted(addrs)
    for name in names:
        if name == "lo" or (name.startswith(("lo", "docker", "veth", "br-", "virbr")) and name != preferred):
            continue
        if name in stats and not stats[name].isup:
            continue
        mac = ip = None
        for addr in addrs[name]:
            if addr.family == psutil.AF_LINK and addr.address and addr.address != "00:00:00:00:00:00":
                mac = addr.address.replace("-", ":").upper()
            elif addr.family == socket.AF_INET and not addr.address.startswith("127."):
                ip = addr.address
        if mac or ip:
            return mac, ip
    return None, None


def default_route_interface() -> str | None:
    try:
        with open("/proc/net/route", encoding="ascii") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000":
                    return fields[0]
    except OSError:
        pass
    return None


def logged_in_user() -> str | None:
    users = psutil.users()
    return users[0].name if users else os.environ.get("SUDO_USER") or None
