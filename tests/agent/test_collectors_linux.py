"""Linux collectors three ways: recorded files (fixtures), patched paths, and the real OS."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from lanet.protocol import HardwareInfo, SystemStatus
from tests.conftest import FIXTURES

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux collectors")

if sys.platform.startswith("linux"):
    from lanet.agent import collectors
    from lanet.agent.collectors import _linux

LINUX = FIXTURES / "linux"


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # dpkg dates its installs by the mtime of info/<package>.list, which git does not keep: set them.
    info = tmp_path / "info"
    shutil.copytree(LINUX / "dpkg" / "info", info)
    for name, when in (
        ("adduser.list", "2024-03-05T10:00:00+00:00"),
        ("libc6:amd64.list", "2023-06-10T12:00:00+00:00"),
    ):
        stamp = datetime.fromisoformat(when).timestamp()
        os.utime(info / name, (stamp, stamp))
    monkeypatch.setattr(_linux, "DMI", LINUX / "dmi")
    monkeypatch.setattr(_linux, "OS_RELEASE", LINUX / "os-release")
    monkeypatch.setattr(_linux, "CPUINFO", LINUX / "cpuinfo")
    monkeypatch.setattr(_linux, "LOADAVG", LINUX / "loadavg")
    monkeypatch.setattr(_linux, "DPKG_STATUS", LINUX / "dpkg" / "status")
    monkeypatch.setattr(_linux, "DPKG_INFO", info)


def test_hardware_from_recorded_dmi_and_proc(recorded: None) -> None:
    hw = _linux.hardware()
    assert hw["os"] == "Debian GNU/Linux 12 (bookworm)" and hw["os_version"].startswith("12 (kernel ")
    assert hw["cpu"] == "12th Gen Intel(R) Core(TM) i7-12700K"
    assert hw["motherboard"] == "ASUSTeK COMPUTER INC. PRIME Z690-P"
    assert hw["bios_version"] == "American Megatrends Inc. 2104 11/18/2022"
    assert hw["serial_number"] == "ABC123"
    assert _linux.threads_count() == 1234


def test_dpkg_status_gives_installed_packages_with_dates_and_sizes(recorded: None) -> None:
    packages = {p["name"]: p for p in _linux.software()}
    assert set(packages) == {"adduser", "libc6", "google-chrome-stable"}  # deinstalled ones are left out
    assert packages["adduser"] == {
        "name": "adduser",
        "version": "3.134",
        "publisher": "Debian Adduser Developers",
        "install_date": "2024-03-05",
        "size": "869.4 KB",
    }
    assert packages["libc6"]["install_date"] == "2023-06-10"  # from the multi-arch .list file
    assert packages["google-chrome-stable"]["install_date"] is None
    assert packages["google-chrome-stable"]["size"] == "354.0 MB"


def test_unreadable_fields_are_null_with_one_warning(
    recorded: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_linux, "CPUINFO", Path("/nonexistent/cpuinfo"))
    monkeypatch.setattr(_linux, "cpu_model", lambda: 1 / 0)
    from lanet.agent.collectors import _common

    _common._warned.discard("cpu")
    with caplog.at_level("WARNING", logger="lanet.agent.collectors"):
        first = _linux.hardware()
        second = _linux.hardware()
    assert first["cpu"] is None and second["cpu"] is None and first["computer_name"]
    assert [r.getMessage() for r in caplog.records].count(
        "cannot read cpu: ZeroDivisionError: division by zero (sent as null)"
    ) == 1


def test_real_inventory_matches_the_os_and_the_contract() -> None:
    started = time.perf_counter()
    info = collectors.inventory()
    elapsed = time.perf_counter() - started
    HardwareInfo.model_validate(info)
    assert info["computer_name"] == socket.gethostname()
    assert info["cpu_threads"] == psutil.cpu_count()
    if shutil.which("dpkg-query"):
        listed = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        installed = {line.split()[0] for line in listed.splitlines() if line.endswith(" installed")}
        assert {p["name"] for p in info["installed_software"]} == installed
    machine_id = Path("/etc/machine-id")
    if machine_id.exists():
        assert info["machine_id"] == machine_id.read_text().strip()
    print(f"full inventory in {elapsed:.3f} s")  # reported, not asserted: speed lives in bench/


def test_real_metrics_sample_matches_the_contract() -> None:
    sampler = collectors.MetricsSampler(collectors.threads_count)
    sample = sampler.sample()
    status = SystemStatus.model_validate({k: v for k, v in sample.items() if v is not None})
    assert status.processes_count and status.processes_count > 1
    assert status.uptime is not None and status.uptime > 0
    assert status.threads_count is not None and status.threads_count >= status.processes_count
    assert status.disks and 0 <= status.disks[0].percent <= 100
    assert status.cpu_usage is not None and 0 <= status.cpu_usage <= 100


def test_every_collected_field_is_declared_in_the_protocol() -> None:
    hw = collectors.hardware()
    assert set(hw) <= set(HardwareInfo.model_fields)
    sample = collectors.MetricsSampler().sample()
    assert set(sample) <= set(SystemStatus.model_fields)
    json.dumps(hw)
