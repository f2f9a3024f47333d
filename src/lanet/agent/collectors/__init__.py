"""What the agent knows about its machine: one facade, one private module per OS (psutil's shape).

The OS module is chosen once, at import. Each public function returns plain data ready for the
protocol models. A field the OS cannot answer is ``None``, with one warning naming it (per process,
not per heartbeat); one failing field never costs the others.

``hardware()``   dict of HardwareInfo's hardware fields (computer_name, os, os_version, cpu, cpu_cores,
                 cpu_threads, ram, disk, mac_address, ip_address, domain, serial_number, motherboard,
                 bios_version, assigned_user, machine_id)
``software()``   list of {name, version, publisher, install_date (YYYY-MM-DD), size ("12.3 MB")}
``services()``   list of {name, display_name, status, startup, description}
``updates()``    {last_check, pending_count, last_install, auto_update_enabled, pending}
``metrics()``    SystemStatus's metrics: cpu_usage %, memory_usage %, disk_usage % (fullest fixed disk),
                 network_usage Mbps, uptime s, last_boot, temperature °C, processes_count,
                 threads_count, disks; see :class:`~lanet.agent.collectors._common.MetricsSampler`
"""

import sys
from typing import Any

from lanet.agent.collectors._common import MetricsSampler, guarded, top_processes

if sys.platform.startswith("linux"):
    from lanet.agent.collectors import _linux as _os
elif sys.platform == "win32":
    from lanet.agent.collectors import _windows as _os  # type: ignore[no-redef]
elif sys.platform == "darwin":
    from lanet.agent.collectors import _darwin as _os  # type: ignore[no-redef]
else:  # pragma: no cover
    raise NotImplementedError(f"LANET Agent does not support {sys.platform}")


def hardware() -> dict[str, Any]:
    return _os.hardware()


def software() -> list[dict[str, Any]]:
    return guarded("installed_software", _os.software, [])


def services() -> list[dict[str, Any]]:
    return guarded("services", _os.services, [])


def updates() -> dict[str, Any] | None:
    return guarded("updates", _os.updates, None)


def pending_updates() -> list[str]:
    """Names of pending OS updates. Slow (apt, Windows Update): call from a background thread."""
    return _os.pending_updates()


def threads_count() -> int:
    return _os.threads_count()


def inventory() -> dict[str, Any]:
    """Everything registration and the inventory upload send, as one ``hardware_info`` dict."""
    info = hardware()
    info["installed_software"] = software()
    info["services"] = services()
    info["updates"] = updates()
    return info


__all__ = [
    "MetricsSampler",
    "hardware",
    "inventory",
    "pending_updates",
    "services",
    "software",
    "threads_count",
    "top_processes",
    "updates",
]
