"""The agent's apt scan: the dry run of ``apt-get dist-upgrade`` read into updates, on this
machine's recorded output and against a real local repository with the real apt."""

from pathlib import Path

import pytest

from lanet.agent.patches import OsScan, apt, queue_scan
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store
from lanet.protocol import contract
from tests.apt_lab import AptLab, make_lab
from tests.conftest import FIXTURES

RECORDED = FIXTURES / "apt"


def test_a_recorded_dry_run_gives_every_upgrade_with_its_origin_size_and_cache_state(tmp_path: Path) -> None:
    simulation = (RECORDED / "simulate-debian12.txt").read_text()
    uris = (RECORDED / "print-uris-debian12.txt").read_text()
    archives = tmp_path / "archives"
    archives.mkdir()
    (archives / "libgcrypt20_1.10.1-3+deb12u1_amd64.deb").write_bytes(b"x" * 1234)
    items = apt.items_of(simulation, uris, archives)
    assert len(items) == simulation.count("\nInst ") == 120
    by_package = {i["package"]: i for i in items}
    bash = by_package["bash"]
    assert (bash["update_id"], bash["current_version"], bash["available_version"]) == (
        "bash=5.2.15-2+b13",
        "5.2.15-2+b8",
        "5.2.15-2+b13",
    )
    assert (bash["classification"], bash["downloaded"], bash["size_bytes"]) == ("other", False, 1490652)
    # From the security archive, and already in apt's cache: its size is the cached file's.
    gcrypt = by_package["libgcrypt20"]
    assert gcrypt["classification"] == "security" and gcrypt["downloaded"] is True
    assert gcrypt["size_bytes"] == 1234
    assert sum(1 for i in items if not i["downloaded"]) == len(apt.parse_uris(uris)) == 68
    assert all(contract.validate("PatchItem", i) for i in items)


def test_packages_that_need_a_reboot_are_flagged() -> None:
    line = "Inst {0} [1] (2 Debian-Security:12/stable-security [amd64])\n"
    items = apt.items_of("".join(line.format(p) for p in ("linux-image-6.1.0-28-amd64", "libc6", "curl")), "")
    assert [i["reboot_required"] for i in items] == [True, True, False]


@pytest.fixture
def lab(tmp_path: Path) -> AptLab:
    lab = make_lab(tmp_path / "apt")
    lab.build("lanet-dummy", "1.0")
    lab.build("lanet-dummy", "1.1")
    lab.build("lanet-other", "2.0")
    lab.installed(lanet_dummy="1.0", lanet_other="2.0")
    lab.index()
    return lab


def test_the_real_apt_against_a_local_repository_sees_the_update(lab: AptLab, tmp_path: Path) -> None:
    found = apt.scan(lab.options)
    assert [(i["update_id"], i["classification"], i["downloaded"]) for i in found.items] == [
        ("lanet-dummy=1.1", "security", False)
    ]
    assert found.items[0]["size_bytes"] == (lab.repo / "lanet-dummy_1.1_all.deb").stat().st_size
    store = Store(tmp_path / "agent.db", PlainProtector())
    queued = queue_scan(
        store, "0b7f6a0e-4c31-4f0e-9d7e-000000000001", OsScan("apt", found.items), seconds=0.4
    )
    assert queued["items"][0]["title"] == "lanet-dummy 1.0 → 1.1"
    (pending,) = store.pending_items("patch_scan")
    assert pending.kind == "patch_scan" and pending.payload["scan_id"] == queued["scan_id"]


def test_apt_failing_says_why(lab: AptLab) -> None:
    broken = lab.root / "broken.list"
    broken.write_text("this is not a sources line\n")
    said = r"(?s)apt-get -s dist-upgrade failed \(100\): .*list of sources could not be read"
    with pytest.raises(apt.AptError, match=said):
        apt.scan([*lab.options, f"Dir::Etc::sourcelist={broken}"])
