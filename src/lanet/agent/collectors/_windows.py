"""Windows: WMI (through pywin32's ``win32com`` ``ExecQuery``, which works on Windows and under Wine
where the ``wmi`` package does not), the Uninstall registry keys, and the Windows Update Agent.

COM is initialised once per thread (WMI objects may not cross threads). The data sources sit behind
:class:`Sources` so that tests can replay recorded WMI rows and registry keys on any OS.
"""

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psutil

from lanet.agent.collectors._common import (
    count_threads_psutil,
    guarded,
    human_size,
    logged_in_user,
    warn_once,
)

NAME = "windows"

_UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
_CURRENT_VERSION = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
_CRYPTOGRAPHY = r"SOFTWARE\Microsoft\Cryptography"
_AU_POLICY = r"SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU"

# Registry views and hives, as winreg numbers them (kept here so tests run where winreg is absent).
HKEY_LOCAL_MACHINE = 0x80000002
HKEY_USERS = 0x80000003
KEY_WOW64_64KEY = 0x0100
KEY_WOW64_32KEY = 0x0200

RegistryReader = Callable[[int, str, int], dict[str, Any] | None]
"""(hive, path, view) -> {"values": {name: value}, "subkeys": [names]} or None when absent."""


@dataclass
class Sources:
    query: Callable[[str], list[dict[str, Any]]]
    registry: RegistryReader


_local = threading.local()


def _com_ready() -> None:
    if not getattr(_local, "com", False):
        import pythoncom  # type: ignore[import-not-found,import-untyped,unused-ignore]

        pythoncom.CoInitializeEx(pythoncom.COINIT_MULTITHREADED)
        _local.com = True


_SELECT = re.compile(r"^\s*SELECT\s+(.+?)\s+FROM\s", re.IGNORECASE | re.DOTALL)


def selected_properties(wql: str) -> list[str]:
    """The property names a ``SELECT a, b FROM ...`` query asks for (``*`` is not supported)."""
    match = _SELECT.match(wql)
    if not match or match.group(1).strip() == "*":
        raise ValueError(f"name the properties to read: {wql!r}")
    return [name.strip() for name in match.group(1).split(",")]


def _wmi_query(wql: str) -> list[dict[str, Any]]:
    """Rows of a WQL query as dicts of the selected properties.

    Properties are read by name rather than through ``Properties_``, which Wine does not implement;
    on Windows both work.
    """
    import win32com.client

    names = selected_properties(wql)
    _com_ready()
    if not hasattr(_local, "service"):
        locator = win32com.client.Dispatch("WbemScripting.SWbemLocator")
        _local.service = locator.ConnectServer(".", "root\\cimv2")
    # 0x30 = wbemFlagReturnImmediately | wbemFlagForwardOnly: stream rows instead of building a copy.
    rows = _local.service.ExecQuery(wql, "WQL", 0x30)
    return [{name: _property(item, name) for name in names} for item in rows]


def _property(item: Any, name: str) -> Any:
    """One property, or None where this Windows (or Wine) does not provide it."""
    try:
        return getattr(item, name)
    except AttributeError:
        return None


def _registry_read(hive: int, path: str, view: int) -> dict[str, Any] | None:
    if sys.platform != "win32":
        raise OSError("the Windows registry exists only on Windows")
    import winreg

    try:
        key = winreg.OpenKey(hive, path, 0, winreg.KEY_READ | view)
    except OSError:
        return None
    with key:
        values: dict[str, Any] = {}
        subkeys: list[str] = []
        index = 0
        while True:
            try:
                name, value, _kind = winreg.EnumValue(key, index)
            except OSError:
                break
            values[name] = value
            index += 1
        index = 0
        while True:
            try:
                subkeys.append(winreg.EnumKey(key, index))
            except OSError:
                break
            index += 1
    return {"values": values, "subkeys": subkeys}


SOURCES = Sources(query=_wmi_query, registry=_registry_read)


def _rows(field: str, wql: str) -> list[dict[str, Any]]:
    """A query's rows; on failure none, with one warning naming the field it feeds."""
    try:
        return SOURCES.query(wql)
    except Exception as exc:
        warn_once(field, f"{type(exc).__name__}: {exc}")
        return []


def _row(field: str, wql: str) -> dict[str, Any]:
    rows = _rows(field, wql)
    return rows[0] if rows else {}


def cim_datetime(value: Any) -> str | None:
    """``20250714210000.000000+000`` (CIM_DATETIME) or ``20250714`` -> ISO 8601 UTC."""
    if value is None:
        return None
    if hasattr(value, "year"):  # pywintypes datetime
        return datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second, tzinfo=UTC
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value)
    match = re.match(r"^(\d{14})(?:\.\d+)?([+-]\d{3})?", text)
    if match:
        stamp = datetime.strptime(match.group(1), "%Y%m%d%H%M%S")
        offset_minutes = int(match.group(2) or 0)
        epoch = stamp.replace(tzinfo=UTC).timestamp() - offset_minutes * 60
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _install_date(value: Any) -> str | None:
    text = str(value or "").strip()
    if re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text[:64] or None


def hardware() -> dict[str, Any]:
    system = _row(
        "computer_system",
        "SELECT Name, Domain, PartOfDomain, Workgroup, Manufacturer, Model, UserName, TotalPhysicalMemory "
        "FROM Win32_ComputerSystem",
    )
    osinfo = _row("os", "SELECT Caption, Version, BuildNumber FROM Win32_OperatingSystem")
    bios = _row("bios_version", "SELECT SerialNumber, SMBIOSBIOSVersion, Manufacturer FROM Win32_BIOS")
    board = _row("motherboard", "SELECT Manufacturer, Product FROM Win32_BaseBoard")
    cpus = _rows("cpu", "SELECT Name, NumberOfCores, NumberOfLogicalProcessors FROM Win32_Processor")
    disks = _rows("disk", "SELECT Model, Size, MediaType FROM Win32_DiskDrive")
    nics = _rows(
        "mac_address",
        "SELECT MACAddress, IPAddress, DefaultIPGateway FROM Win32_NetworkAdapterConfiguration "
        "WHERE IPEnabled = True",
    )
    current = SOURCES.registry(HKEY_LOCAL_MACHINE, _CURRENT_VERSION, KEY_WOW64_64KEY) or {"values": {}}
    crypto = SOURCES.registry(HKEY_LOCAL_MACHINE, _CRYPTOGRAPHY, KEY_WOW64_64KEY) or {"values": {}}

    nic = next((n for n in nics if n.get("DefaultIPGateway")), nics[0] if nics else {})
    ipv4 = next((ip for ip in (nic.get("IPAddress") or ()) if ip and ":" not in ip), None)
    ram = system.get("TotalPhysicalMemory")
    # Where WMI leaves the counts out (some virtual machines, Wine), the kernel's own count stands in.
    cores: int | None = sum(int(c.get("NumberOfCores") or 0) for c in cpus) or psutil.cpu_count(logical=False)
    threads: int | None = (
        sum(int(c.get("NumberOfLogicalProcessors") or 0) for c in cpus)
        or psutil.cpu_count()
        or os.cpu_count()
    )
    display = current["values"].get("DisplayVersion") or current["values"].get("ReleaseId")
    build = osinfo.get("BuildNumber") or current["values"].get("CurrentBuildNumber")
    caption = (osinfo.get("Caption") or "").replace("Microsoft ", "").strip() or None
    if caption and build and int(build) >= 22000 and "Windows 10" in caption:
        caption = caption.replace("Windows 10", "Windows 11")  # Windows 11 keeps "10" in some fields
    domain = (
        system.get("Domain")
        if system.get("PartOfDomain")
        else system.get("Workgroup") or system.get("Domain")
    )
    disk_text = (
        "; ".join(
            " ".join(p for p in (d.get("Model"), human_size(int(d["Size"])) if d.get("Size") else None) if p)
            for d in disks
        )
        or None
    )
    return {
        "computer_name": system.get("Name") or _env("COMPUTERNAME") or "unknown",
        "os": caption,
        "os_version": " ".join(p for p in (display, f"(build {build})" if build else None) if p)
        or osinfo.get("Version"),
        "cpu": cpus[0].get("Name", "").strip() if cpus else None,
        "cpu_cores": cores,
        "cpu_threads": threads,
        "ram": human_size(int(ram)) if ram else None,
        "disk": disk_text,
        "mac_address": nic.get("MACAddress"),
        "ip_address": ipv4,
        "domain": domain,
        "serial_number": bios.get("SerialNumber"),
        "motherboard": " ".join(p for p in (board.get("Manufacturer"), board.get("Product")) if p) or None,
        "bios_version": " ".join(p for p in (bios.get("Manufacturer"), bios.get("SMBIOSBIOSVersion")) if p)
        or None,
        "assigned_user": (system.get("UserName") or "").split("\\")[-1]
        or guarded("assigned_user", logged_in_user, None),
        "machine_id": crypto["values"].get("MachineGuid"),
    }


def _env(name: str) -> str | None:
    return os.environ.get(name)


def _uninstall_roots() -> Iterator[tuple[int, str, int]]:
    yield HKEY_LOCAL_MACHINE, _UNINSTALL, KEY_WOW64_64KEY
    yield HKEY_LOCAL_MACHINE, _UNINSTALL, KEY_WOW64_32KEY
    users = SOURCES.registry(HKEY_USERS, "", KEY_WOW64_64KEY) or {"subkeys": []}
    for sid in users["subkeys"]:
        if sid.startswith("S-1-5-21-") and not sid.endswith("_Classes"):
            yield HKEY_USERS, f"{sid}\\{_UNINSTALL}", KEY_WOW64_64KEY


def software() -> list[dict[str, Any]]:
    """Programs from the Uninstall keys: 64-bit, 32-bit (WOW6432Node) and every loaded user hive."""
    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for hive, root, view in _uninstall_roots():
        listing = SOURCES.registry(hive, root, view)
        if listing is None:
            continue
        for sub in listing["subkeys"]:
            entry = SOURCES.registry(hive, f"{root}\\{sub}", view)
            if entry is None:
                continue
            values = entry["values"]
            name = str(values.get("DisplayName") or "").strip()
            if not name or values.get("SystemComponent") == 1 or values.get("ParentKeyName"):
                continue
            if str(values.get("ReleaseType", "")) in ("Update", "Hotfix", "Security Update"):
                continue
            version = str(values["DisplayVersion"]).strip() if values.get("DisplayVersion") else None
            size_kb = values.get("EstimatedSize")
            found.setdefault(
                (name, version),
                {
                    "name": name[:512],
                    "version": version,
                    "publisher": str(values.get("Publisher") or "").strip() or None,
                    "install_date": _install_date(values.get("InstallDate")),
                    "size": human_size(int(size_kb) * 1024)
                    if isinstance(size_kb, int) and size_kb > 0
                    else None,
                },
            )
    return sorted(found.values(), key=lambda p: p["name"].lower())


_STATES = {
    "running": "running",
    "stopped": "stopped",
    "paused": "paused",
    "start pending": "starting",
    "continue pending": "starting",
    "stop pending": "stopping",
    "pause pending": "stopping",
}
_START_MODES = {
    "auto": "automatic",
    "manual": "manual",
    "disabled": "disabled",
    "boot": "automatic",
    "system": "automatic",
}


def services() -> list[dict[str, Any]]:
    rows = SOURCES.query("SELECT Name, DisplayName, State, StartMode, Description FROM Win32_Service")
    return [
        {
            "name": row["Name"],
            "display_name": row.get("DisplayName"),
            "status": _STATES.get(str(row.get("State", "")).lower(), "unknown"),
            "startup": _START_MODES.get(str(row.get("StartMode", "")).lower(), "unknown"),
            "description": (row.get("Description") or None) and str(row["Description"])[:2000],
        }
        for row in rows
        if row.get("Name")
    ]


def updates() -> dict[str, Any]:
    hotfixes = _rows("updates.last_install", "SELECT HotFixID, InstalledOn FROM Win32_QuickFixEngineering")
    installed = []
    for fix in hotfixes:
        text = str(fix.get("InstalledOn") or "")
        for fmt in ("%m/%d/%Y", "%Y%m%d", "%d/%m/%Y"):
            try:
                installed.append(datetime.strptime(text, fmt).replace(tzinfo=UTC))
                break
            except ValueError:
                continue
    policy = SOURCES.registry(HKEY_LOCAL_MACHINE, _AU_POLICY, KEY_WOW64_64KEY)
    auto = None
    if policy is not None and "NoAutoUpdate" in policy["values"]:
        auto = policy["values"]["NoAutoUpdate"] != 1
    elif policy is not None or hotfixes:
        auto = True  # no policy switching it off: Windows 10/11 update automatically
    return {
        "last_check": None,
        "pending_count": None,
        "last_install": max(installed).strftime("%Y-%m-%dT%H:%M:%SZ") if installed else None,
        "auto_update_enabled": auto,
        "pending": None,
    }


def pending_updates() -> list[str]:
    """Titles of applicable, not installed updates from the Windows Update Agent (slow: minutes)."""
    import win32com.client

    _com_ready()
    searcher = win32com.client.Dispatch("Microsoft.Update.Session").CreateUpdateSearcher()
    result = searcher.Search("IsInstalled=0 and IsHidden=0 and Type='Software'")
    return [str(result.Updates.Item(i).Title) for i in range(result.Updates.Count)]


def threads_count() -> int:
    return count_threads_psutil()
