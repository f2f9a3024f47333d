"""A local apt repository and a package database of its own, for testing the agent's apt path with
the real apt: packages built with dpkg-deb, indexed with dpkg-scanpackages, and apt pointed at them
with ``-o`` settings (its sources, lists, status file and cache), so the machine's own apt state is
never read or changed."""

import hashlib
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path


@dataclass
class AptLab:
    root: Path

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def options(self) -> list[str]:
        return [
            f"Dir::Etc::sourcelist={self.root / 'sources.list'}",
            f"Dir::Etc::sourceparts={self.root / 'sources.list.d'}",
            f"Dir::State::Lists={self.root / 'lists'}",
            f"Dir::State::status={self.root / 'status'}",
            f"Dir::Cache={self.root / 'cache'}",
        ]

    def build(self, package: str, version: str) -> Path:
        tree = self.root / "build" / f"{package}-{version}"
        (tree / "DEBIAN").mkdir(parents=True, exist_ok=True)
        (tree / "DEBIAN" / "control").write_text(
            f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
            "Maintainer: LANET <dev@lanet.invalid>\nDescription: a package for the tests\n"
        )
        deb = self.repo / f"{package}_{version}_all.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
            check=True,
            capture_output=True,
        )
        return deb

    def installed(self, **packages: str) -> None:
        """Write the package database as if these (name=version) were installed."""
        entries = [
            f"Package: {name.replace('_', '-')}\nStatus: install ok installed\nPriority: optional\n"
            f"Section: misc\nMaintainer: LANET <dev@lanet.invalid>\nArchitecture: all\nVersion: {version}\n"
            "Description: a package for the tests\n"
            for name, version in packages.items()
        ]
        (self.root / "status").write_text("\n".join(entries) + "\n")

    def index(self, suite: str = "stable-security") -> None:
        """Index the repository (``Packages`` and a ``Release`` naming the suite) and refresh apt's
        lists from it, as ``apt-get update`` does."""
        packages = subprocess.run(
            ["dpkg-scanpackages", "--multiversion", "."], cwd=self.repo, check=True, capture_output=True
        ).stdout
        (self.repo / "Packages").write_bytes(packages)
        digest = hashlib.sha256(packages).hexdigest()
        (self.repo / "Release").write_text(
            f"Origin: LANET-Test\nLabel: LANET-Test\nSuite: {suite}\nCodename: lab\n"
            f"Date: {format_datetime(datetime.now(UTC), usegmt=True)}\n"
            f"SHA256:\n {digest} {len(packages)} Packages\n"
        )
        (self.root / "sources.list").write_text(f"deb [trusted=yes] file:{self.repo} ./\n")
        options = [x for o in [*self.options, "Debug::NoLocking=1"] for x in ("-o", o)]
        subprocess.run(["apt-get", *options, "-qq", "update"], check=True, capture_output=True, timeout=120)


def make_lab(root: Path) -> AptLab:
    for folder in ("repo", "lists/partial", "cache/archives/partial", "sources.list.d"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return AptLab(root)
