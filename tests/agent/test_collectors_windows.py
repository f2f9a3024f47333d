"""Windows collectors on any OS, replaying WMI rows and registry keys from tests/fixtures/windows."""

import json
import re
from typing import Any

import pytest

from lanet.agent.collectors import _windows
from lanet.protocol import HardwareInfo
from tests.conftest import FIXTURES

WMI = json.loads((FIXTURES / "windows" / "wmi.json").read_text())
REGISTRY = json.loads((FIXTURES / "windows" / "registry.json").read_text())
_HIVES = {_windows.HKEY_LOCAL_MACHINE: "HKLM", _windows.HKEY_USERS: "HKU"}
_VIEWS = {_windows.KEY_WOW64_64KEY: "64", _windows.KEY_WOW64_32KEY: "32"}


class Replay:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def query(self, wql: str) -> list[dict[str, Any]]:
        self.queries.append(wql)
        match = re.search(r"FROM\s+(\w+)", wql)
        assert match, wql
        return [dict(row) for row in WMI.get(match.group(1), [])]

    @staticmethod
    def registry(hive: int, path: str, view: int) -> dict[str, Any] | None:
        key = f"{_HIVES[hive]}\\{path}|{_VIEWS[view]}"
        entry = REGISTRY.get(key)
        return None if entry is None else {"values": dict(entry["values"]), "subkeys": list(entry["subkeys"])}


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Replay:
    source = Replay()
    monkeypatch.setattr(_windows, "SOURCES", _windows.Sources(query=source.query, registry=source.registry))
    return source


def test_hardware_from_wmi_and_registry(replay: Replay) -> None:
    hw = _windows.hardware()
    assert hw == {
        "computer_name": "DESKTOP-001",
        "os": "Windows 11 Pro",
        "os_version": "22H2 (build 22621)",
        "cpu": "12th Gen Intel(R) Core(TM) i7-12700K",
        "cpu_cores": 12,
        "cpu_threads": 20,
        "ram": "34.2 GB",
        "disk": "Samsung SSD 980 PRO 1TB 1.0 TB",
        "mac_address": "00:11:22:33:44:55",
        "ip_address": "192.168.1.100",
        "domain": "WORKGROUP",
        "serial_number": "ABC123",
        "motherboard": "ASUSTeK COMPUTER INC. PRIME Z690-P",
        "bios_version": "American Megatrends Inc. 2104",
        "assigned_user": "jperez",
        "machine_id": "9b3f2c1e-4d5a-4b6c-8d7e-1f2a3b4c5d6e",
    }
    HardwareInfo.model_validate(hw)
    assert all(q.startswith("SELECT ") and "*" not in q for q in replay.queries)  # named properties only


def test_software_reads_64_bit_32_bit_and_user_hives_without_updates_or_components(replay: Replay) -> None:
    names = {(p["name"], p["version"]): p for p in _windows.software()}
    assert set(names) == {
        ("7-Zip 23.01", "23.01"),
        ("Google Chrome", "120.0.6099.109"),
        ("Microsoft Office Professional Plus 2021", "16.0.14332.20481"),
        ("Zoom Workplace (User)", "6.0.2"),
    }
    office = names[("Microsoft Office Professional Plus 2021", "16.0.14332.20481")]
    assert office["install_date"] == "2024-01-05" and office["size"] == "2.6 GB"
    assert office["publisher"] == "Microsoft Corporation"
    assert names[("7-Zip 23.01", "23.01")]["install_date"] is None


def test_services_normalise_state_and_start_mode(replay: Replay) -> None:
    services = {s["name"]: s for s in _windows.services()}
    assert services["Spooler"]["status"] == "stopped" and services["Spooler"]["startup"] == "automatic"
    assert services["BITS"]["status"] == "starting"
    assert services["Fax"]["startup"] == "disabled" and services["Fax"]["description"] is None
    assert services["wuauserv"]["display_name"] == "Windows Update"


def test_updates_from_hotfixes_and_policy(replay: Replay) -> None:
    updates = _windows.updates()
    assert updates["last_install"] == "2023-11-15T00:00:00Z"
    assert updates["auto_update_enabled"] is True


def test_a_failing_wmi_class_costs_only_its_fields(replay: Replay, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(wql: str) -> list[dict[str, Any]]:
        if "Win32_BIOS" in wql:
            raise OSError("WMI: Invalid class")
        return replay.query(wql)

    monkeypatch.setattr(_windows, "SOURCES", _windows.Sources(query=broken, registry=replay.registry))
    hw = _windows.hardware()
    assert hw["serial_number"] is None and hw["bios_version"] is None
    assert hw["cpu_cores"] == 12


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20250714210000.000000+000", "2025-07-14T21:00:00Z"),
        ("20250714210000.000000-360", "2025-07-15T03:00:00Z"),
        ("garbage", None),
        (None, None),
    ],
)
def test_cim_datetime(value: str | None, expected: str | None) -> None:
    assert _windows.cim_datetime(value) == expected


def test_queries_name_the_properties_they_read() -> None:
    assert _windows.selected_properties("SELECT Name, NumberOfCores FROM Win32_Processor") == [
        "Name",
        "NumberOfCores",
    ]
    assert _windows.selected_properties("select Caption,Version\nfrom Win32_OperatingSystem") == [
        "Caption",
        "Version",
    ]
    with pytest.raises(ValueError, match="name the properties"):
        _windows.selected_properties("SELECT * FROM Win32_BIOS")
