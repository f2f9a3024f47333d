"""apt's view of the OS updates: what ``apt-get dist-upgrade`` would install, read from its dry run.

One simulation (``apt-get -s dist-upgrade``) lists every upgrade with the installed and the
candidate version and the origins the candidate comes from; ``--print-uris`` lists what would still
be downloaded, with sizes, so a package missing from it is already in apt's cache. apt gives no
severity and no release date: updates from a ``*-security`` origin are ``security``, the rest
``other``. Neither command changes anything or needs apt's lock.

``options`` are extra ``-o`` settings for apt (the tests point apt at a repository and a package
database of their own with them).
"""

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lanet.agent.patches import OsScan

#: ``Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])``; a new package (a
#: dependency pulled in) has no installed version and is not an update of its own.
INST = re.compile(
    r"^Inst (?P<package>\S+) \[(?P<current>[^\]]+)\] "
    r"\((?P<available>\S+) (?P<origins>.*?) ?\[(?P<arch>[^\]]+)\]\)"
)
#: ``'http://.../bash_5.2.15-2%2bb13_amd64.deb' bash_5.2.15-2+b13_amd64.deb 1490652 MD5Sum:...``
URI = re.compile(r"^'[^']+' (?P<file>[^_\s]+)_\S+ (?P<size>\d+)")
#: Packages whose new version takes effect only after a reboot (the kernel, microcode, the C
#: library and init): what Debian's needrestart would flag as needing one.
REBOOT_PACKAGES = re.compile(
    r"^(linux-image-|linux-base$|libc6$|systemd$|dbus$|intel-microcode$|amd64-microcode$)"
)
#: Written by packages' maintainer scripts when a reboot is needed (update-notifier's convention).
REBOOT_REQUIRED = Path("/run/reboot-required")
#: Where apt keeps what it downloaded (``Dir::Cache::archives``).
ARCHIVES = Path("/var/cache/apt/archives")
TIMEOUT = 600


class AptError(Exception):
    """apt could not say what it would upgrade; the message says why."""


def _apt_get(args: Sequence[str], options: Sequence[str]) -> str:
    command = ["apt-get", "-o", "Debug::NoLocking=1", *(x for o in options for x in ("-o", o)), *args]
    try:
        done = subprocess.run(  # noqa: S603 - Debian's apt-get, fixed arguments
            command,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env={**os.environ, "LANG": "C", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"},
        )
    except FileNotFoundError:
        raise AptError("apt-get is not installed") from None
    except subprocess.TimeoutExpired:
        raise AptError(f"apt-get {' '.join(args)} did not finish within {TIMEOUT} s") from None
    if done.returncode != 0:
        raise AptError(f"apt-get {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def parse_simulation(text: str) -> list[dict[str, str]]:
    """The upgrades in ``apt-get -s`` output: package, versions, origins."""
    found = []
    for line in text.splitlines():
        match = INST.match(line)
        if match:
            found.append(match.groupdict())
    return found


def parse_uris(text: str) -> dict[str, int]:
    """Package -> download size, for what ``--print-uris`` says must still be downloaded."""
    sizes = {}
    for line in text.splitlines():
        match = URI.match(line)
        if match:
            sizes[unquote(match.group("file"))] = int(match.group("size"))
    return sizes


def _security(origins: str) -> bool:
    return any(
        "-security" in o.lower() or o.lower().startswith(("debian-security", "ubuntu-security"))
        for o in origins.split(", ")
    )


def _cached_size(archives: Path, package: str, version: str, arch: str) -> int | None:
    """The size of the package apt already downloaded (its file name quotes an epoch's colon)."""
    try:
        return (archives / f"{package}_{version.replace(':', '%3a')}_{arch}.deb").stat().st_size
    except OSError:
        return None


def items_of(simulation: str, uris: str, archives: Path = ARCHIVES) -> list[dict[str, Any]]:
    """PatchItem bodies from the two outputs."""
    to_download = parse_uris(uris)
    items = []
    for upgrade in parse_simulation(simulation):
        package, available = upgrade["package"], upgrade["available"]
        security = _security(upgrade["origins"])
        downloaded = package not in to_download
        size = (
            _cached_size(archives, package, available, upgrade["arch"])
            if downloaded
            else to_download[package]
        )
        items.append(
            {
                "update_id": f"{package}={available}",
                "source": "apt",
                "title": f"{package} {upgrade['current']} → {available}",
                "package": package,
                "current_version": upgrade["current"],
                "available_version": available,
                "classification": "security" if security else "other",
                "severity": "unspecified",
                "size_bytes": size,
                "reboot_required": bool(REBOOT_PACKAGES.match(package)),
                "downloaded": downloaded,
                "origin": upgrade["origins"][:255] or None,
            }
        )
    return items


def reboot_pending(marker: Path = REBOOT_REQUIRED) -> tuple[bool, list[str]]:
    if marker.exists():
        return True, ["reboot-required"]
    return False, []


def scan(options: Sequence[str] = ()) -> OsScan:
    """What apt would upgrade now (from its lists as they are: refreshing them is ``apt-get update``,
    which the install step runs, not the scan)."""
    simulation = _apt_get(["-s", "dist-upgrade"], options)
    uris = _apt_get(["-qq", "--print-uris", "dist-upgrade"], options)
    pending, sources = reboot_pending()
    return OsScan("apt", items_of(simulation, uris), pending, sources)


# --- installing -----------------------------------------------------------------------------------
#: Keep the configuration files the administrator changed, take the package's for the rest.
INSTALL_OPTIONS = ("Dpkg::Options::=--force-confdef", "Dpkg::Options::=--force-confold")
INSTALL_TIMEOUT = 1800


@dataclass
class Installed:
    ok: bool
    output: str
    exit_code: int | None


def refresh(options: Sequence[str] = ()) -> None:
    """``apt-get update``: the lists the install works from (raises AptError with apt's words)."""
    _apt_get(["-q", "update"], options)


def dry_run(targets: Sequence[str], options: Sequence[str] = ()) -> str:
    """What ``apt-get install`` would do for these ``package=version`` targets (its own words)."""
    try:
        return _apt_get(["-s", "install", "--only-upgrade", *targets], options)
    except AptError as exc:
        return str(exc)


def install_one(target: str, options: Sequence[str] = ()) -> Installed:
    """Install one ``package=version``, keeping changed configuration files; never prompts."""
    command = [
        "apt-get",
        *(x for o in (*options, *INSTALL_OPTIONS) for x in ("-o", o)),
        "-y",
        "-q",
        "install",
        "--only-upgrade",
        target,
    ]
    try:
        done = subprocess.run(  # noqa: S603 - Debian's apt-get, a target from the server's plan
            command,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
            env={**os.environ, "LANG": "C", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"},
        )
    except subprocess.TimeoutExpired:
        return Installed(False, f"apt-get install {target} did not finish within {INSTALL_TIMEOUT} s", None)
    return Installed(done.returncode == 0, (done.stdout + done.stderr).strip()[-1000:], done.returncode)


def installed_version(package: str) -> str | None:
    """The version dpkg has installed now (what an install is verified against)."""
    query = ["dpkg-query", "-W", "-f=${Status}|${Version}", package]
    done = subprocess.run(  # noqa: S603 - dpkg-query, a package name from the plan
        query,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "LANG": "C", "LC_ALL": "C"},
    )
    status, _, version = done.stdout.partition("|")
    return version if done.returncode == 0 and status.endswith(" installed") else None


def reboot_packages(marker: Path = REBOOT_REQUIRED) -> set[str]:
    """The packages that asked for a reboot (``/run/reboot-required.pkgs``)."""
    try:
        return set(marker.with_name(marker.name + ".pkgs").read_text().split())
    except OSError:
        return set()
