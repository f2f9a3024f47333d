"""The agent's dnf path: ``dnf check-update``, its advisories and its cache read into updates, on
dnf's recorded output and against a real local RPM repository with the real dnf, in an installroot
of the test's own (:mod:`tests.rpm_lab`), so this machine's dnf and rpm state is never touched.

The recorded outputs under ``tests/fixtures/dnf`` are Debian's dnf 4.14 on such a lab (taken with
the scan's own commands, the lab at ``/tmp/lanet-rpm-lab``); ``needs-restarting-reboot.txt`` is
dnf-plugins-core 4.3.1's ``needs-restarting -r`` after a package of its list (``dbus``) was
installed since boot.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from lanet.agent.patches import OsScan, dnf, queue_scan
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store
from lanet.protocol import contract
from tests.conftest import FIXTURES
from tests.rpm_lab import Advisory, Package, RpmLab, missing_tools, serving

RECORDED = FIXTURES / "dnf"
RECORDED_ROOT = "/tmp/lanet-rpm-lab"
LONG = "lanet-a-package-with-a-rather-long-name-that-wraps"


def _recorded(name: str, root: Path) -> str:
    return (RECORDED / name).read_text().replace(RECORDED_ROOT, str(root))


def test_recorded_outputs_give_every_upgrade_with_its_advisory_size_and_cache_state(tmp_path: Path) -> None:
    query = _recorded("repoquery-upgrades.txt", tmp_path)
    # lanet-other was downloaded (``dnf upgrade --downloadonly``) when the outputs were taken.
    packages = tmp_path / "installroot/var/cache/dnf/lab-efb0387ee6ed4899/packages"
    packages.mkdir(parents=True)
    (packages / "lanet-other-2.1-1.noarch.rpm").write_bytes(b"x")
    items, refused = dnf.items_of(
        (RECORDED / "check-update.txt").read_text(),
        (RECORDED / "updateinfo-list.txt").read_text(),
        (RECORDED / "updateinfo-info.txt").read_text(),
        query,
        (RECORDED / "rpm-installed.txt").read_text(),
    )
    by_id = {i["update_id"]: i for i in items}
    # The obsoleting package (lanet-new) is not an upgrade dnf can be asked for by name.
    assert sorted(by_id) == sorted(
        [
            "kernel=6.1.1-1.noarch",
            f"{LONG}=3.0.1~rc1-1.noarch",
            "lanet-dummy=1.2-1.noarch",
            "lanet-other=1:2.1-1.noarch",
            "lanet-snapshot=1.0^20240101git1-1.noarch",
        ]
    )
    # A caret (snapshot) version is an update like any other.
    assert "lanet-snapshot=1.0^20240101git1-1.noarch" in by_id and refused == []
    dummy = by_id["lanet-dummy=1.2-1.noarch"]
    assert dummy == {
        "update_id": "lanet-dummy=1.2-1.noarch",
        "source": "dnf",
        "title": "lanet-dummy 1.0-1.noarch → 1.2-1.noarch",
        "package": "lanet-dummy",
        "current_version": "1.0-1.noarch",
        "available_version": "1.2-1.noarch",
        # Two security advisories (1.1 Important, 1.2 Critical): 1.2 brings both, the worst counts.
        "classification": "security",
        "severity": "critical",
        "size_bytes": 5561,
        "reboot_required": False,
        "downloaded": False,
        "origin": "lab",
    }
    other = by_id["lanet-other=1:2.1-1.noarch"]
    assert (other["current_version"], other["classification"], other["severity"]) == (
        "1:2.0-1.noarch",
        "feature",
        "low",
    )
    assert other["downloaded"] is True and other["size_bytes"] == 5581
    kernel = by_id["kernel=6.1.1-1.noarch"]
    assert (kernel["classification"], kernel["severity"], kernel["reboot_required"]) == (
        "other",
        "moderate",
        True,
    )
    wraps = by_id[f"{LONG}=3.0.1~rc1-1.noarch"]
    assert (wraps["classification"], wraps["severity"]) == ("other", "unspecified")
    assert all(contract.validate("PatchItem", i) for i in items)


def test_rows_pushed_onto_the_next_line_and_notes_about_the_running_kernel_are_read() -> None:
    # dnf's columns: a name wider than its column pushes the rest of the row onto the next line.
    text = (
        "\nSecurity: kernel-core-6.8.9-300.fc40.x86_64 is an installed security update\n"
        "Security: kernel-core-6.8.5-301.fc40.x86_64 is the currently running version\n"
        "NetworkManager-libnm.x86_64   1:1.46.0-2.fc40  updates\n"
        f"{LONG}-with-more.x86_64\n"
        "                              2.0-1.fc40       updates-testing\n"
    )
    assert dnf.parse_check_update(text) == [
        ("NetworkManager-libnm", "x86_64", "1:1.46.0-2.fc40", "updates"),
        (f"{LONG}-with-more", "x86_64", "2.0-1.fc40", "updates-testing"),
    ]


def test_needs_restarting_names_what_asks_for_the_reboot() -> None:
    said = (RECORDED / "needs-restarting-reboot.txt").read_text()
    assert dnf.parse_needs_restarting(said) == {"dbus"} and dnf.asks_for_reboot(said)
    assert not dnf.asks_for_reboot("")
    assert dnf.needs_reboot("kernel-core") and dnf.needs_reboot("glibc") and not dnf.needs_reboot("curl")


# --- the real dnf ---------------------------------------------------------------------------------
#: What dnf and rpm keep on this machine: the lab must leave them, and what is in them, as they were.
HOST_STATE = [
    Path("/var/log"),
    Path("/var/cache/dnf"),
    Path("/var/lib/dnf"),
    Path.home() / ".rpmdb",
    Path("/var/lib/rpm"),
]


def _host_state() -> dict[Path, int | None]:
    """Each path's modification time; None for one that does not exist (a fresh machine has no
    ``~/.rpmdb``), so one appearing is a change too."""
    found: dict[Path, int | None] = {}
    for folder in HOST_STATE:
        for path in [folder, *(folder.iterdir() if folder.is_dir() else [])]:
            # Of /var/log only dnf's logs (others come and go); one appearing changes the keys.
            if folder.name != "log" or path.name.startswith(("dnf.", "hawkey.")):
                found[path] = path.stat().st_mtime_ns if path.exists() else None
    return found


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RpmLab]:
    problem = missing_tools()
    if problem:
        pytest.fail(problem)
    before = _host_state()
    with serving(tmp_path / "rpm") as lab:
        dummy = [Package("lanet-dummy", "1.0"), Package("lanet-dummy", "1.1")]
        other = [Package("lanet-other", "2.0", epoch=1), Package("lanet-other", "2.1", epoch=1)]
        for package in (*dummy, *other):
            lab.build(package)
        lab.index(
            [
                Advisory("LANET-2024-0001", "security", "Important", [dummy[1]]),
                Advisory("LANET-2024-0002", "enhancement", None, [other[1]]),
            ]
        )
        lab.install("lanet-dummy-1.0", "lanet-other-1:2.0")
        yield lab
    assert _host_state() == before, "the lab changed this machine's own dnf or rpm state"


def test_the_real_dnf_against_a_local_repository_sees_the_updates(lab: RpmLab, tmp_path: Path) -> None:
    found = dnf.scan(lab.options)
    assert [
        (
            i["update_id"],
            i["current_version"],
            i["classification"],
            i["severity"],
            i["origin"],
            i["downloaded"],
        )
        for i in found.items
    ] == [
        ("lanet-dummy=1.1-1.noarch", "1.0-1.noarch", "security", "important", "lab", False),
        ("lanet-other=1:2.1-1.noarch", "1:2.0-1.noarch", "feature", "unspecified", "lab", False),
    ]
    assert found.items[0]["size_bytes"] == (lab.repo / "lanet-dummy-1.1-1.noarch.rpm").stat().st_size
    # No needs-restarting (the lab loads no plugin): no reboot known, no source claimed.
    assert (found.source, found.reboot_pending, found.reboot_sources, found.error) == ("dnf", False, [], None)
    store = Store(tmp_path / "agent.db", PlainProtector())
    queued = queue_scan(
        store, "0b7f6a0e-4c31-4f0e-9d7e-000000000002", OsScan("dnf", found.items), seconds=0.5
    )
    assert queued["items"][0]["title"] == "lanet-dummy 1.0-1.noarch → 1.1-1.noarch"
    # Downloaded into dnf's cache (as dnf-automatic's download step would): the scan says so.
    lab.dnf("-y", "-q", "upgrade", "--downloadonly", "lanet-dummy")
    again = {i["package"]: i["downloaded"] for i in dnf.scan(lab.options).items}
    assert again == {"lanet-dummy": True, "lanet-other": False}
    assert dnf.installed_version("lanet-dummy", lab.options) == "1.0-1.noarch"


def test_install_one_upgrades_and_the_version_on_disk_is_the_update_s(lab: RpmLab) -> None:
    dnf.refresh(lab.options)
    for item in dnf.scan(lab.options).items:
        package, _, version = item["update_id"].partition("=")
        done = dnf.install_one(item["update_id"], lab.options)
        assert (done.ok, done.exit_code) == (True, 0), done.output
        assert "Complete!" in done.output and len(done.output) <= 1000
        assert dnf.installed_version(package, lab.options) == version
    assert dnf.installed_version("lanet-other.noarch", lab.options) == "1:2.1-1.noarch"
    assert dnf.scan(lab.options).items == []
    assert dnf.installed_version("lanet-absent", lab.options) is None


def test_dnf_saying_it_succeeded_without_upgrading_shows_in_the_installed_version(lab: RpmLab) -> None:
    lab.install("lanet-dummy-1.1")
    # The known dnf behaviour: an older version than the installed one is "Nothing to do", exit 0.
    done = dnf.install_one("lanet-dummy=1.0-1.noarch", lab.options)
    assert (done.ok, done.exit_code) == (True, 0) and "Nothing to do" in done.output
    assert dnf.installed_version("lanet-dummy", lab.options) == "1.1-1.noarch"


def test_a_version_not_in_the_repository_fails_with_dnf_s_exit_code_and_words(lab: RpmLab) -> None:
    done = dnf.install_one("lanet-dummy=9.9-1.noarch", lab.options)
    assert (done.ok, done.exit_code) == (False, 1)
    assert "No match for argument: lanet-dummy-9.9-1.noarch" in done.output
    assert "Error: No packages marked for upgrade." in done.output
    assert dnf.installed_version("lanet-dummy", lab.options) == "1.0-1.noarch"


def test_the_dry_run_shows_what_would_be_done_and_does_nothing(lab: RpmLab) -> None:
    said = dnf.dry_run(["lanet-dummy=1.1-1.noarch", "lanet-other=1:2.1-1.noarch"], lab.options)
    assert "Upgrading:" in said and "Upgrade  2 Packages" in said and "Operation aborted." in said
    assert " lanet-other " in said and "1:2.1-1" in said
    assert dnf.installed_version("lanet-dummy", lab.options) == "1.0-1.noarch"
    assert "No match for argument: lanet-dummy-9.9-1.noarch" in dnf.dry_run(
        ["lanet-dummy=9.9-1.noarch"], lab.options
    )


def test_a_broken_repository_is_a_dnf_error_naming_it(lab: RpmLab, tmp_path: Path) -> None:
    broken = [*lab.options, f"--repofrompath=broken,file://{tmp_path / 'no-such-repo'}"]
    said = r"(?s)dnf check-update failed \(1\): .*Failed to download metadata for repo 'broken'"
    with pytest.raises(dnf.DnfError, match=said):
        dnf.scan(broken)
    with pytest.raises(dnf.DnfError, match=r"dnf makecache failed \(1\): .*repo 'broken'"):
        dnf.refresh(broken)
    # Where the configuration lets dnf skip it, the scan lists the rest and says what was skipped.
    skipped = dnf.scan([*broken, "--setopt=skip_if_unavailable=True"])
    assert [i["package"] for i in skipped.items] == ["lanet-dummy", "lanet-other"]
    assert skipped.error == "dnf could not read the repositories broken; their updates are not listed"


def test_dnf_missing_is_a_dnf_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(dnf.DnfError, match="dnf is not installed"):
        dnf.scan()
    assert dnf.install_one("lanet-dummy=1.1-1.noarch") == dnf.Installed(False, "dnf is not installed", None)


def test_needs_restarting_missing_or_dnf_failing_is_no_reboot_known(lab: RpmLab, tmp_path: Path) -> None:
    # Exit status 1 is "reboot needed", a missing command and dnf's own failure alike: only the
    # plugin's words say a reboot is needed.
    assert dnf.reboot_pending(lab.options) == (False, []) and dnf.reboot_packages(lab.options) == set()
    assert dnf.reboot_pending([*lab.options, f"--config={tmp_path / 'missing.conf'}"]) == (False, [])
