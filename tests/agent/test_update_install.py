"""The installer's own bookkeeping: the MSI's log read for the reason of a failure, and the cache of
downloaded packages pruned to what runs and the way back once a release proved healthy."""

from pathlib import Path

from lanet.agent.update.install import _prune
from lanet.agent.update.packages import msi_trouble


def test_after_a_healthy_swap_only_the_running_package_and_the_way_back_stay(tmp_path: Path) -> None:
    folder = tmp_path / "packages"
    folder.mkdir()
    names = ("a.0.1.0.msi", "b.0.1.1.msi", "c.0.1.2.msi")
    for name in names:
        (folder / name).write_bytes(b"MSI")
    _prune(folder, keep={str(folder / "b.0.1.1.msi"), str(folder / "c.0.1.2.msi")})
    assert sorted(p.name for p in folder.iterdir()) == ["b.0.1.1.msi", "c.0.1.2.msi"]


def test_a_failed_msi_is_explained_by_the_lines_of_its_verbose_log(tmp_path: Path) -> None:
    log = tmp_path / "update.log"
    lines = [
        "MSI (s) (A8:2C) [02:00:01:123]: Executing op: ActionStart(Name=LanetServiceStart)",
        "CustomAction LanetServiceStart returned actual error code 1 (note this may not be 100% accurate)",
        "Action ended 02:00:31: InstallFinalize. Return value 3.",
        "MSI (s) (A8:2C) [02:00:32:000]: Product: LANET Agent -- Installation failed.",
    ]
    log.write_bytes("\r\n".join(lines).encode("utf-16"))  # what msiexec /l*v writes
    said = msi_trouble(log)
    assert "Return value 3" in said and "Installation failed" in said and "ActionStart" not in said
    assert msi_trouble(tmp_path / "missing.log") == "no installer log"
