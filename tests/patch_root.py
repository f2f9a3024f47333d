"""A throwaway Debian root for the agent's apt path: a debootstrap'ed bookworm (minbase and
python3, built once and kept in ``var/patch-root/``), copied fresh for each test, with /proc and
/dev mounted, a local apt repository inside it (tests/apt_lab.py's packages, served from
``file:/srv/repo``) and the agent's modules as the .deb packages them. The agent's patch worker then
runs inside it with ``chroot``: its apt and dpkg change that root only. Needs root (CI runs as root).
"""

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.apt_lab import AptLab, make_lab
from tests.conftest import ROOT

CACHE = ROOT / "var" / "patch-root"
PRISTINE = CACHE / "bookworm"
MIRROR = "http://deb.debian.org/debian"
AGENT_HOME = "/opt/agent-home"
AGENT_LIB = "/opt/lanet-agent"


def _pristine() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # What the agent's .deb depends on (packaging/linux/build-deb.sh), so the worker runs as installed.
        if not (PRISTINE / "usr/lib/python3/dist-packages/psutil").exists():
            building = CACHE / "bookworm.tmp"
            shutil.rmtree(building, ignore_errors=True)
            done = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    "--include=python3,python3-psutil",
                    "bookworm",
                    str(building),
                    MIRROR,
                ],
                capture_output=True,
                text=True,
                timeout=1500,
                check=False,
            )
            assert done.returncode == 0, f"debootstrap failed: {done.stdout[-2000:]}{done.stderr[-2000:]}"
            shutil.rmtree(PRISTINE, ignore_errors=True)
            building.rename(PRISTINE)
    return PRISTINE


class PatchRoot:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lab: AptLab = make_lab(path / "srv" / "lab")

    def _argv(self, command: tuple[str, ...], env: dict[str, str] | None) -> list[str]:
        """``command`` inside the root (its PATH, no host environment but ``env``)."""
        base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root", **(env or {})}
        return [
            "chroot",
            str(self.path),
            "/usr/bin/env",
            "-i",
            *(f"{k}={v}" for k, v in base.items()),
            *command,
        ]

    def run(
        self, *command: str, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._argv(command, env), capture_output=True, text=True, timeout=timeout, check=False
        )

    def version(self, package: str) -> str | None:
        done = self.run("dpkg-query", "-W", "-f=${Version}", package)
        return done.stdout if done.returncode == 0 else None

    def publish(self, packages: dict[str, list[str]], installed: dict[str, str]) -> None:
        """Build these packages (name -> versions) into the root's repository, install the given
        versions with dpkg, and point the root's apt at the repository only."""
        for name, versions in packages.items():
            for version in versions:
                self.lab.build(name, version)
        for name, version in installed.items():
            deb = f"/srv/lab/repo/{name}_{version}_all.deb"
            done = self.run("dpkg", "-i", deb)
            assert done.returncode == 0, done.stdout + done.stderr
        self.lab.index()  # writes Packages and Release; refreshes the lab's own lists
        (self.path / "etc/apt/sources.list").write_text("deb [trusted=yes] file:/srv/lab/repo ./\n")
        for extra in (self.path / "etc/apt/sources.list.d").glob("*"):
            extra.unlink()
        updated = self.run("apt-get", "-q", "update")
        assert updated.returncode == 0, updated.stdout + updated.stderr

    def install_agent(self, config: dict[str, Any]) -> Path:
        """The agent's modules as packaged, and a home with this configuration; returns the home
        as seen from the host."""
        subprocess.run(
            [
                "bash",
                str(ROOT / "packaging/agent-modules.sh"),
                str(self.path / AGENT_LIB.lstrip("/")),
                "linux-deb",
            ],
            check=True,
            capture_output=True,
        )
        home = self.path / AGENT_HOME.lstrip("/")
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "config" / "agent_config.json").write_text(json.dumps(config))
        return home

    def agent_env(self) -> dict[str, str]:
        return {"PYTHONPATH": AGENT_LIB, "PYTHONUNBUFFERED": "1"}

    def agent_cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``lanet-agent`` inside the root, on its home there."""
        return self.run(
            "python3",
            "-m",
            "lanet.agent.cli",
            *args,
            "--home",
            AGENT_HOME,
            timeout=timeout,
            env=self.agent_env(),
        )

    def start_agent(self, log: Path) -> subprocess.Popen[bytes]:
        """The agent's service inside the root (``lanet-agent run``), its output in ``log``."""
        command = ("python3", "-m", "lanet.agent.cli", "run", "--home", AGENT_HOME)
        with log.open("ab") as out:
            return subprocess.Popen(
                self._argv(command, self.agent_env()), stdout=out, stderr=subprocess.STDOUT
            )

    def worker(self, action: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            "python3",
            "-m",
            "lanet.agent.patches.worker",
            action,
            "--home",
            AGENT_HOME,
            env={"PYTHONPATH": AGENT_LIB},
        )


@contextmanager
def patch_root(folder: Path) -> Iterator[PatchRoot]:
    """A fresh copy of the pristine root, mounted for apt and dpkg; unmounted and removed after."""
    pristine = _pristine()
    path = folder / "root"
    subprocess.run(["cp", "-a", str(pristine), str(path)], check=True, timeout=600)
    mounted: list[Path] = []
    try:
        for source, target, options in (("proc", "proc", ["-t", "proc"]), ("/dev", "dev", ["--bind"])):
            point = path / target
            subprocess.run(["mount", *options, source, str(point)], check=True, timeout=60)
            mounted.append(point)
        yield PatchRoot(path)
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", "-l", str(point)], check=False, timeout=60)
        # Never remove the copy while the host's /dev is still mounted inside it.
        still = [point for point in mounted if os.path.ismount(point)]
        assert not still, f"still mounted, the root is left in place: {still}"
        shutil.rmtree(path, ignore_errors=True)
