"""Linux: DMI from sysfs, /proc, psutil, dpkg or rpm, systemd, apt.

Paths are module constants so tests can point them at recorded fixtures.
"""

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from lanet.agent.collectors._common import (
    NO_INTERFACE,
    guarded,
    human_size,
    iso,
    logged_in_user,
    primary_interface,
    ram_text,
    warn_once,
)

NAME = "linux"
DMI = Path("/sys/class/dmi/id")
OS_RELEASE = Path("/etc/os-release")
CPUINFO = Path("/proc/cpuinfo")
LOADAVG = Path("/proc/loadavg")
MACHINE_ID = Path("/etc/machine-id")
DPKG_STATUS = Path("/var/lib/dpkg/status")
DPKG_INFO = Path("/var/lib/dpkg/info")
SYS_BLOCK = Path("/sys/block")
APT_LISTS = Path("/var/lib/apt/lists")
APT_PERIODIC = Path("/var/lib/apt/periodic")
APT_CONF_D = Path("/etc/apt/apt.conf.d")
DPKG_LOG = Path("/var/log/dpkg.log")
COMMAND_TIMEOUT = 20


def _read(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return value or None


def _dmi(name: str) -> str | None:
    return _read(DMI / name)


def os_release() -> dict[str, str]:
    values = {}
    text = _read(OS_RELEASE) or ""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def cpu_model() -> str | None:
    text = _read(CPUINFO) or ""
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if match:
            return re.sub(r"\s+", " ", match.group(1)).strip()
    return None


def disks_text() -> str | None:
    """Physical disks with size and model: ``"nvme0n1 1.0 TB Samsung SSD 980 (SSD)"``."""
    parts = []
    for dev in sorted(SYS_BLOCK.iterdir()) if SYS_BLOCK.exists() else []:
        if dev.name.startswith(("loop", "ram", "zram", "dm-", "sr", "md", "fd")):
            continue
        sectors = _read(dev / "size")
        if not sectors or int(sectors) == 0:
            continue
        size = human_size(int(sectors) * 512)
        model = _read(dev / "device" / "model")
        rotational = _read(dev / "queue" / "rotational")
        kind = {"0": "SSD", "1": "HDD"}.get(rotational or "", "")
        parts.append(" ".join(p for p in (dev.name, size, model, f"({kind})" if kind else "") if p))
    return "; ".join(parts) or None


def domain_name() -> str | None:
    fqdn = socket.getfqdn()
    if "." in fqdn and not fqdn.endswith(".localdomain") and fqdn != "localhost":
        return fqdn.split(".", 1)[1]
    return None


def hardware() -> dict[str, Any]:
    release = os_release()
    mac, ip = guarded("mac_address", primary_interface, NO_INTERFACE)
    board = " ".join(p for p in (_dmi("board_vendor"), _dmi("board_name")) if p) or None
    bios = " ".join(p for p in (_dmi("bios_vendor"), _dmi("bios_version"), _dmi("bios_date")) if p) or None
    serial = _dmi("product_serial")
    if serial is None and (DMI / "product_serial").exists():
        warn_once("serial_number", "/sys/class/dmi/id/product_serial is readable by root only")
    info: dict[str, Any] = {
        "computer_name": socket.gethostname() or platform.node() or "unknown",
        "os": release.get("PRETTY_NAME") or f"Linux {platform.release()}",
        "os_version": " ".join(p for p in (release.get("VERSION_ID"), f"(kernel {platform.release()})") if p),
        "cpu": guarded("cpu", cpu_model, None),
        "cpu_cores": guarded("cpu_cores", lambda: psutil.cpu_count(logical=False), None),
        "cpu_threads": guarded("cpu_threads", lambda: psutil.cpu_count(logical=True), None),
        "ram": guarded("ram", ram_text, None),
        "disk": guarded("disk", disks_text, None),
        "mac_address": mac,
        "ip_address": ip,
        "domain": guarded("domain", domain_name, None),
        "serial_number": serial,
        "motherboard": board,
        "bios_version": bios,
        "assigned_user": guarded("assigned_user", logged_in_user, None),
        "machine_id": _read(MACHINE_ID),
    }
    manufacturer = " ".join(p for p in (_dmi("sys_vendor"), _dmi("product_name")) if p)
    if manufacturer and info["motherboard"] is None:
        info["motherboard"] = manufacturer
    return info


# --- software -------------------------------------------------------------------------------------
def _dpkg_packages() -> list[dict[str, Any]]:
    packages = []
    text = DPKG_STATUS.read_text(encoding="utf-8", errors="replace")
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if not fields.get("Package") or "install ok installed" not in fields.get("Status", ""):
            continue
        name = fields["Package"]
        arch = fields.get("Architecture", "")
        listing = DPKG_INFO / f"{name}.list"
        if not listing.exists():
            listing = DPKG_INFO / f"{name}:{arch}.list"
        try:
            installed = time.strftime("%Y-%m-%d", time.gmtime(listing.stat().st_mtime))
        except OSError:
            installed = None
        size_kb = fields.get("Installed-Size", "")
        packages.append(
            {
                "name": name,
                "version": fields.get("Version"),
                "publisher": (fields.get("Maintainer") or "").split("<")[0].strip() or None,
                "install_date": installed,
                "size": human_size(int(size_kb) * 1024) if size_kb.isdigit() else None,
            }
        )
    return packages


def _rpm_packages() -> list[dict[str, Any]]:
    out = subprocess.run(
        [
            "rpm",
            "-qa",
            "--queryformat",
            "%{NAME}\t%{VERSION}-%{RELEASE}\t%{VENDOR}\t%{INSTALLTIME}\t%{SIZE}\n",
        ],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=True,
    ).stdout
    packages = []
    for line in out.splitlines():
        name, version, vendor, installed, size = (line.split("\t") + [""] * 5)[:5]
        packages.append(
            {
                "name": name,
                "version": version or None,
                "publisher": None if vendor in ("", "(none)") else vendor,
                "install_date": time.strftime("%Y-%m-%d", time.gmtime(int(installed)))
                if installed.isdigit()
                else None,
                "size": human_size(int(size)) if size.isdigit() else None,
            }
        )
    return packages


def software() -> list[dict[str, Any]]:
    if DPKG_STATUS.exists():
        return _dpkg_packages()
    if shutil.which("rpm"):
        return _rpm_packages()
    raise OSError("neither a dpkg status file nor rpm found")


# --- services -------------------------------------------------------------------------------------
_ACTIVE = {
    "active": "running",
    "reloading": "running",
    "inactive": "stopped",
    "failed": "failed",
    "activating": "starting",
    "deactivating": "stopping",
}
_ENABLED = {
    "enabled": "automatic",
    "enabled-runtime": "automatic",
    "static": "manual",
    "indirect": "manual",
    "generated": "automatic",
    "disabled": "disabled",
    "masked": "disabled",
    "alias": "manual",
}


def services() -> list[dict[str, Any]]:
    if not shutil.which("systemctl") or not Path("/run/systemd/system").exists():
        raise OSError("systemd is not running")
    units = json.loads(
        subprocess.run(
            ["systemctl", "list-units", "--type=service", "--all", "--output=json", "--no-pager"],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=True,
        ).stdout
        or "[]"
    )
    files = json.loads(
        subprocess.run(
            ["systemctl", "list-unit-files", "--type=service", "--output=json", "--no-pager"],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=True,
        ).stdout
        or "[]"
    )
    startup = {f["unit_file"]: _ENABLED.get(f.get("state", ""), "unknown") for f in files}
    result = []
    for unit in units:
        name = unit.get("unit", "")
        if not name.endswith(".service") or unit.get("load") == "not-found":
            continue
        result.append(
            {
                "name": name.removesuffix(".service"),
                "display_name": name,
                "status": _ACTIVE.get(unit.get("active", ""), "unknown"),
                "startup": startup.get(name, "unknown"),
                "description": unit.get("description") or None,
            }
        )
    return result


# --- updates --------------------------------------------------------------------------------------
def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def pending_updates() -> list[str]:
    """Packages ``apt`` would upgrade (about a second: the caller caches it)."""
    out = subprocess.run(
        ["apt", "list", "--upgradable"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "LANG": "C", "LC_ALL": "C"},
    ).stdout
    return [line.split("/", 1)[0] for line in out.splitlines() if "/" in line and "[upgradable" in line]


def auto_updates_enabled() -> bool | None:
    if not APT_CONF_D.exists():
        return None
    text = "\n".join(_read(p) or "" for p in sorted(APT_CONF_D.glob("*")))
    match = re.search(r'APT::Periodic::Unattended-Upgrade\s+"(\d+)"', text)
    return bool(match and match.group(1) != "0")


def updates() -> dict[str, Any]:
    if not DPKG_STATUS.exists():
        raise OSError("only apt-based systems report updates")
    last_check = _mtime(APT_PERIODIC / "update-success-stamp") or _mtime(APT_LISTS)
    return {
        "last_check": iso(last_check),
        "pending_count": None,  # from the cached pending_updates() run, merged by the agent
        "last_install": iso(_mtime(DPKG_LOG) or _mtime(DPKG_STATUS)),
        "auto_update_enabled": auto_updates_enabled(),
        "pending": None,
    }


def threads_count() -> int:
    """Total threads from the kernel's scheduler count (``/proc/loadavg``'s 4th field): one read,
    instead of walking every process."""
    text = _read(LOADAVG) or ""
    return int(text.split()[3].split("/")[1])
