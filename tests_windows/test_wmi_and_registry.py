"""The Windows collectors against the real WMI and registry of the machine they run on.

Under Wine the identities are Wine's own dummies, so the tests assert shapes, not values; the values
themselves are checked against recorded real Windows output in tests/agent/test_collectors_windows.py.
"""

import subprocess
import uuid

from lanet.agent import collectors
from lanet.agent.collectors import _windows

UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"


def test_hardware_comes_from_wmi() -> None:
    hw = collectors.hardware()
    assert isinstance(hw["computer_name"], str) and hw["computer_name"]
    assert "Windows" in (hw["os"] or "")
    assert isinstance(hw["cpu"], str) and hw["cpu"]
    assert isinstance(hw["cpu_threads"], int) and hw["cpu_threads"] >= 1
    assert hw["cpu_cores"] is None or hw["cpu_cores"] >= 1  # Wine cannot count physical cores
    assert hw["ram"] and hw["ram"].endswith("GB")


def test_a_query_reads_the_properties_it_names() -> None:
    rows = _windows._wmi_query("SELECT Caption, Version FROM Win32_OperatingSystem")
    assert rows and set(rows[0]) == {"Caption", "Version"} and "Windows" in rows[0]["Caption"]


def _reg_add(key: str, values: dict[str, str]) -> None:
    """``reg add`` each value; ``"dw:20480"`` writes a REG_DWORD, anything else a REG_SZ."""
    for name, value in values.items():
        kind, data = ("REG_DWORD", value[3:]) if value.startswith("dw:") else ("REG_SZ", value)
        done = subprocess.run(
            ["reg", "add", key, "/v", name, "/t", kind, "/d", data, "/f"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr


def test_uninstall_entries_written_with_reg_add_are_read_back_from_both_hives() -> None:
    machine, user = f"LanetTest-{uuid.uuid4().hex[:8]}", f"LanetUser-{uuid.uuid4().hex[:8]}"
    _reg_add(
        rf"HKLM\{UNINSTALL}\{machine}",
        {
            "DisplayName": f"Contabilidad {machine}",
            "DisplayVersion": "4.2.1",
            "Publisher": "Contadores S.A.",
            "InstallDate": "20250714",
            "EstimatedSize": "dw:20480",  # KB
        },
    )
    _reg_add(rf"HKCU\{UNINSTALL}\{user}", {"DisplayName": f"Herramienta {user}", "DisplayVersion": "1.0"})
    _reg_add(
        rf"HKLM\{UNINSTALL}\KB{machine}", {"DisplayName": f"Update {machine}", "ParentKeyName": "Windows"}
    )
    found = {item["name"]: item for item in collectors.software()}
    entry = found[f"Contabilidad {machine}"]
    assert entry["version"] == "4.2.1" and entry["publisher"] == "Contadores S.A."
    assert entry["install_date"] == "2025-07-14" and entry["size"] == "21.0 MB"
    assert f"Herramienta {user}" in found
    assert f"Update {machine}" not in found  # updates and components are not software


def test_services_are_normalised() -> None:
    services = collectors.services()
    assert services, "Wine runs a few services"
    states = {s["status"] for s in services}
    assert states <= {"running", "stopped", "paused", "starting", "stopping", "failed", "unknown"}
    assert {s["startup"] for s in services} <= {"automatic", "manual", "disabled", "unknown"}
