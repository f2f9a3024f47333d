"""macOS, best effort: ``system_profiler`` and psutil."""

import json
import platform
import socket
import subprocess
from typing import Any

import psutil

from lanet.agent.collectors._common import NO_INTERFACE, guarded, logged_in_user, primary_interface, ram_text

NAME = "darwin"


def _profiler(data_type: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["system_profiler", "-json", data_type], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    items: list[dict[str, Any]] = json.loads(out).get(data_type, [])
    return items


def hardware() -> dict[str, Any]:
    no_profile: list[dict[str, Any]] = []
    profiles = guarded("hardware", lambda: _profiler("SPHardwareDataType"), no_profile)
    hw: dict[str, Any] = profiles[0] if profiles else {}
    mac, ip = guarded("mac_address", primary_interface, NO_INTERFACE)
    return {
        "computer_name": socket.gethostname(),
        "os": f"macOS {platform.mac_ver()[0]}",
        "os_version": platform.mac_ver()[0] or None,
        "cpu": hw.get("chip_type") or hw.get("cpu_type"),
        "cpu_cores": psutil.cpu_count(logical=False),
        "cpu_threads": psutil.cpu_count(logical=True),
        "ram": guarded("ram", ram_text, None),
        "disk": None,
        "mac_address": mac,
        "ip_address": ip,
        "domain": None,
        "serial_number": hw.get("serial_number"),
        "motherboard": hw.get("machine_model"),
        "bios_version": hw.get("boot_rom_version"),
        "assigned_user": guarded("assigned_user", logged_in_user, None),
        "machine_id": hw.get("platform_UUID"),
    }


def software() -> list[dict[str, Any]]:
    return [
        {
            "name": app.get("_name", "?"),
            "version": app.get("version"),
            "publisher": app.get("obtained_from"),
            "install_date": (app.get("lastModified") or "")[:10] or None,
            "size": None,
        }
        for app in _profiler("SPApplicationsDataType")
    ]


def services() -> list[dict[str, Any]]:
    raise OSError("service inventory is not implemented on macOS")


def updates() -> dict[str, Any]:
    raise OSError("update status is not implemented on macOS")


def pending_updates() -> list[str]:
    raise OSError("update status is not implemented on macOS")


def threads_count() -> int:
    from lanet.agent.collectors._common import count_threads_psutil

    return count_threads_psutil()
