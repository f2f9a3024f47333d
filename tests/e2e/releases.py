"""Helpers shared by the self-update tests: publishing with the offline key, reading a release's
status, rebuilding a real package as another version, and cleaning up agents restarted by an
installer (they are not the test's own children any more)."""

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import LiveServer

PASSPHRASE = "correct horse battery staple"


def publish(server: LiveServer, keys: Path, package: Path, version: str, *extra: str) -> None:
    done = server.cli(
        "releases",
        "publish",
        str(package),
        "--version",
        version,
        "--platform",
        "linux-deb",
        *extra,
        "--keys",
        str(keys),
    )
    assert done.returncode == 0, done.stderr


def status(server: LiveServer, version: str) -> dict[str, Any]:
    """``releases status --json``; empty lists while the version is unknown."""
    answer = server.cli("releases", "status", version, "--json")
    return json.loads(answer.stdout) if answer.returncode == 0 else {"assets": [], "rollouts": []}


def kill_agents_of(home: Path) -> None:
    for proc in psutil.process_iter(["cmdline"]):
        if str(home) in " ".join(proc.info["cmdline"] or []):
            proc.kill()


def rebuilt(
    good: Path, version: str, into: Path, change: Callable[[Path], None] = lambda _tree: None
) -> Path:
    """``good`` (a .deb) unpacked, set to ``version``, changed by ``change(tree)``, packed again."""
    tree = into / f"tree-{version}"
    assert subprocess.run(["dpkg-deb", "-R", str(good), str(tree)], check=False, timeout=300).returncode == 0
    control = tree / "DEBIAN/control"
    lines = control.read_text().splitlines()
    control.write_text(
        "\n".join(f"Version: {version}" if x.startswith("Version:") else x for x in lines) + "\n"
    )
    init = tree / "usr/lib/lanet-agent/lanet/__init__.py"
    text = init.read_text()
    init.write_text(
        "\n".join(
            f'__version__ = "{version}"' if x.startswith("__version__") else x for x in text.splitlines()
        )
        + "\n"
    )
    change(tree)
    package = into / f"lanet-agent_{version}_all.deb"
    built = subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Znone", "--build", str(tree), str(package)],
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return package


def random_package(folder: Path, version: str, size: int = 300_000) -> Path:
    """Bytes that the offline key signs but that are no package (dpkg refuses them)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"lanet-agent_{version}_all.deb"
    path.write_bytes(os.urandom(size))
    return path
