"""dnf's view of the OS updates (Fedora, RHEL, Rocky, Alma): what ``dnf upgrade`` would install.

A scan is four read-only dnf calls and one rpm query. ``dnf check-update`` lists every upgrade
(name, arch, version, repository) and says by its exit status whether there are any (100), none (0)
or whether it failed (1); it refreshes metadata that dnf's own ``metadata_expire`` says is stale,
as ``dnf-makecache.timer`` would, so the scan is not limited to a cache nobody refreshes. The other
calls then read that same metadata from the cache (``-C``): ``updateinfo list`` ties advisories to
packages (security -> ``security``, bugfix -> ``other``, enhancement -> ``feature``), ``updateinfo
info`` gives every advisory's severity (``list`` shows it for security ones only), and ``repoquery
--upgrades`` the download size and where dnf keeps (or would keep) the package, so whether it is
already downloaded. ``rpm -q`` gives the installed versions. Nothing installs, nothing prompts.

An update is ``<name>=[<epoch>:]<version>-<release>.<arch>`` (``kernel=6.8.9-300.fc40.x86_64``,
``bind=32:9.16.23-18.el9.x86_64``): dnf's NEVRA with ``=`` after the name, the epoch left out when
it is 0 as dnf prints it. The part after ``=`` is also the form of ``current_version``,
``available_version`` and :func:`installed_version`, so an install is verified by comparing strings
(dnf can say it succeeded without upgrading anything: ``dnf install`` of a version older than the
installed one says "Nothing to do" and exits 0). The arch is part of it because multilib systems
have one package name installed for two arches (``glibc.x86_64`` and ``glibc.i686``).

Updates that only obsolete an installed package (``Obsoleting Packages`` in check-update) are not
listed: ``dnf upgrade <name>`` cannot install a package that is not installed, just as apt's scan
leaves out the new packages an upgrade pulls in.

``options`` are extra dnf command-line options passed to every dnf call (``--installroot=...``,
``--config=...``, ``--setopt=reposdir=...``, ``--repofrompath=...``, ``--releasever=...``,
``--nogpgcheck``, ``--disableplugin=...``); the tests point dnf at a repository and an installroot
of their own with them. ``--installroot`` is honoured by the rpm queries too (``rpm --root``).

Only dnf 4 is read: dnf5 (``/usr/bin/dnf`` on Fedora 41 and later) words its output differently,
and is refused with :class:`DnfError` rather than misread.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lanet.agent.patches import OsScan
from lanet.agent.patches.apt import Installed
from lanet.protocol.limits import UPDATE_ID_PATTERN

__all__ = [
    "DnfError",
    "Installed",
    "asks_for_reboot",
    "dry_run",
    "install_one",
    "installed_version",
    "needs_reboot",
    "reboot_packages",
    "reboot_pending",
    "refresh",
    "scan",
]

TIMEOUT = 600
INSTALL_TIMEOUT = 1800
#: What ``dnf needs-restarting -r`` counts as needing a reboot (dnf-plugins-core's ``NEED_REBOOT``:
#: kernel, kernel-rt, glibc, linux-firmware, systemd, dbus, dbus-broker, dbus-daemon; newer versions
#: add microcode_ctl and zlib), with Fedora's kernel subpackages, which move together with ``kernel``.
REBOOT_PACKAGES = re.compile(
    r"^(kernel(-rt|-uek)?(-core|-modules(-core|-extra)?)?|glibc|linux-firmware|systemd|"
    r"dbus(-broker|-daemon)?|microcode_ctl|zlib(-ng-compat)?)$"
)
#: Where an administrator names more of them, one package a line (``needs-restarting.d``).
REBOOT_CONFIG = Path("etc/dnf/plugins/needs-restarting.d")
#: An advisory's type: the classification it gives, and its rank when a package has several.
ADVISORY_TYPES = {"security": ("security", 3), "bugfix": ("other", 2), "enhancement": ("feature", 1)}
SEVERITIES = {"critical": 4, "important": 3, "moderate": 2, "low": 1}
#: ``updateinfo list``: ``FEDORA-2024-1a2b3c Important/Sec. openssl-1:3.1.4-2.fc39.x86_64``
ADVISORY_LINE = re.compile(r"^(?P<id>\S+)\s+(?P<label>\S+)\s+(?P<nevra>\S+-[^-\s]+-[^-\s]+\.[^.\s]+)$")
#: ``updateinfo info``: ``  Update ID: FEDORA-...`` and ``   Severity: Important`` (a description's
#: further lines start with blanks and a colon, never with a label).
INFO_LINE = re.compile(r"^\s*(?P<label>Update ID|Severity): (?P<value>.*)$")
#: What the scan asks of ``repoquery --upgrades``, one package a line, fields split by tabs.
QUERY_FORMAT = "\t".join(
    f"%{{{tag}}}"
    for tag in ("name", "arch", "epoch", "version", "release", "repoid", "downloadsize", "pkgdir", "location")
)
#: What the rpm queries ask of each installed package.
RPM_FORMAT = "%{NAME}\t%{ARCH}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{INSTALLTIME}\n"
UPDATE_ID = re.compile(UPDATE_ID_PATTERN)


class DnfError(Exception):
    """dnf could not say what it would upgrade, or could not do what it was asked; the message
    carries dnf's own words."""


def _env() -> dict[str, str]:
    return {**os.environ, "LANG": "C", "LC_ALL": "C"}


def _run(command: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 - dnf or rpm, fixed arguments and names from dnf's output
            command, capture_output=True, text=True, timeout=timeout, check=False, env=_env()
        )
    except FileNotFoundError:
        raise DnfError(f"{command[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        words = " ".join([command[0], *_verbs(command)])
        raise DnfError(f"{words} did not finish within {timeout} s") from None


def _verbs(command: Sequence[str]) -> list[str]:
    """The command's words without its options, for messages (``dnf updateinfo list``)."""
    return [word for word in command[1:] if re.fullmatch(r"[a-z][a-z-]*", word)][:2]


def _refuse_dnf5() -> None:
    found = shutil.which("dnf")
    if found and Path(found).resolve().name.startswith("dnf5"):
        raise DnfError(f"{found} is dnf5, whose output the agent does not read yet")


def _dnf(
    args: Sequence[str], options: Sequence[str], ok: Iterable[int] = (0,), timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    _refuse_dnf5()
    done = _run(["dnf", *options, *args], timeout)
    if done.returncode not in tuple(ok):
        words = " ".join(_verbs(["dnf", *args]))
        said = (done.stderr.strip() or done.stdout.strip())[-500:]
        raise DnfError(f"dnf {words} failed ({done.returncode}): {said}")
    return done


def installroot_of(options: Sequence[str]) -> Path:
    """The root dnf works on, from ``--installroot=ROOT`` or ``--installroot ROOT`` in the options."""
    root = "/"
    for i, option in enumerate(options):
        if option.startswith("--installroot="):
            root = option.partition("=")[2]
        elif option == "--installroot" and i + 1 < len(options):
            root = options[i + 1]
    return Path(root)


def evr(epoch: str, version: str, release: str) -> str:
    """``[epoch:]version-release`` as dnf prints it: no epoch when it is 0."""
    return f"{version}-{release}" if epoch in ("", "0", "(none)") else f"{epoch}:{version}-{release}"


def _split_nevra(nevra: str) -> tuple[str, str, str]:
    """``name-[e:]v-r.arch`` -> (name, arch, ``[e:]v-r``)."""
    nevr, _, arch = nevra.rpartition(".")
    name, version, release = nevr.rsplit("-", 2)
    return name, arch, f"{version}-{release}"


# --- reading dnf's output -------------------------------------------------------------------------
def parse_check_update(text: str) -> list[tuple[str, str, str, str]]:
    """(name, arch, ``[e:]v-r``, repository) for each upgrade ``dnf check-update`` lists.

    Its rows are ``name.arch  evr  repo`` in columns; a value wider than its column pushes the rest
    of the row onto the next line, so the rows are read as a stream of words, three at a time. The
    ``Obsoleting Packages`` section ends the list; ``Security: ...`` lines about the running kernel
    are not rows."""
    words: list[str] = []
    for line in text.splitlines():
        if line.startswith("Obsoleting Packages"):
            break
        if line.startswith("Security: ") or not line.strip():
            continue
        words.extend(line.split())
    found = []
    for i in range(0, len(words) - 2, 3):
        name_arch, version, repo = words[i : i + 3]
        name, dot, arch = name_arch.rpartition(".")
        if dot and name:
            found.append((name, arch, version, repo))
    return found


def parse_advisories(listed: str, info: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(name, arch) -> (classification, severity) from ``updateinfo list`` and ``updateinfo info``.

    The list names, per advisory, a version newer than the installed one; the newest version brings
    every fix before it, so a package takes its weightiest advisory type (security, then bugfix,
    then enhancement) and its highest severity."""
    severity_of: dict[str, str] = {}
    current = None
    for line in info.splitlines():
        match = INFO_LINE.match(line)
        if match and match["label"] == "Update ID":
            current = match["value"].strip()
        elif match and current is not None:
            severity_of[current] = match["value"].strip().lower()
    best: dict[tuple[str, str], tuple[str, int, int]] = {}
    for line in listed.splitlines():
        match = ADVISORY_LINE.match(line.strip())
        if not match:
            continue
        label = match["label"].lower()
        kind = "security" if label.endswith("/sec.") else label
        severity = severity_of.get(match["id"]) or (label.partition("/")[0] if kind == "security" else "")
        classification, rank = ADVISORY_TYPES.get(kind, ("other", 0))
        name, arch, _version = _split_nevra(match["nevra"])
        old = best.get((name, arch), ("other", -1, 0))
        weight = SEVERITIES.get(severity, 0)
        best[(name, arch)] = (
            classification if rank > old[1] else old[0],
            max(rank, old[1]),
            max(weight, old[2]),
        )
    names = {weight: name for name, weight in SEVERITIES.items()}
    return {key: (c, names.get(w, "unspecified")) for key, (c, _rank, w) in best.items()}


def parse_repoquery(text: str) -> dict[tuple[str, str, str], tuple[int | None, bool]]:
    """(name, arch, ``[e:]v-r``) -> (download size, already downloaded) from ``repoquery``.

    A package of a remote repository is downloaded to ``pkgdir/<its file name>``; one of a local
    (``file://``) repository is used where it is, ``pkgdir/<its location>``: either way, a file
    there means dnf downloads nothing for it."""
    found = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 9:
            continue
        name, arch, epoch, version, release, _repo, size, pkgdir, location = fields
        here = Path(pkgdir)
        downloaded = (here / location.lstrip("/")).is_file() or (here / Path(location).name).is_file()
        found[(name, arch, evr(epoch, version, release))] = (
            int(size) if size.isdigit() else None,
            downloaded,
        )
    return found


def parse_installed(text: str) -> list[tuple[str, str, str, int]]:
    """(name, arch, ``[e:]v-r``, install time) of each installed package, from :data:`RPM_FORMAT`
    rows (install-only packages such as the kernel have several)."""
    rows = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 6:
            name, arch, epoch, version, release, when = fields
            rows.append((name, arch, evr(epoch, version, release), int(when) if when.isdigit() else 0))
    return rows


def _newest(rows: Iterable[tuple[str, str, str, int]]) -> str | None:
    """``[e:]v-r.arch`` of the most recently installed of these rows."""
    latest = max(rows, key=lambda row: row[3], default=None)
    return f"{latest[2]}.{latest[1]}" if latest else None


def items_of(
    updates: str,
    listed: str,
    info: str,
    query: str,
    installed: str,
    reboot_names: Iterable[str] = (),
) -> tuple[list[dict[str, Any]], list[str]]:
    """PatchItem bodies from the outputs, and the updates that cannot be items (an id the wire
    contract refuses: RPM versions may carry ``^``, which it does not allow)."""
    advisories = parse_advisories(listed, info)
    sizes = parse_repoquery(query)
    current = parse_installed(installed)
    extra_reboot = set(reboot_names)
    items, refused = [], []
    for name, arch, version, repo in parse_check_update(updates):
        available = f"{version}.{arch}"
        # Of the same arch; a package that changed arch (noarch to x86_64) upgrades the one there is.
        now = _newest(r for r in current if r[:2] == (name, arch)) or _newest(
            r for r in current if r[0] == name
        )
        update_id = f"{name}={available}"
        if not UPDATE_ID.match(update_id) or len(available) > 128 or len(name) > 128:
            refused.append(update_id)
            continue
        classification, severity = advisories.get((name, arch), ("other", "unspecified"))
        size, downloaded = sizes.get((name, arch, version), (None, False))
        items.append(
            {
                "update_id": update_id,
                "source": "dnf",
                "title": f"{name} {now or 'not installed'} → {available}",
                "package": name,
                "current_version": now,
                "available_version": available,
                "classification": classification,
                "severity": severity,
                "size_bytes": size,
                "reboot_required": bool(REBOOT_PACKAGES.match(name)) or name in extra_reboot,
                "downloaded": downloaded,
                "origin": repo[:255] or None,
            }
        )
    return items, refused


def _rpm_query(names: Sequence[str], options: Sequence[str]) -> str:
    """:data:`RPM_FORMAT` rows for the installed packages of these names (``name`` or
    ``name.arch``), in dnf's installroot; names that are not installed give no row."""
    if not names:
        return ""
    root = installroot_of(options)
    command = ["rpm", *(["--root", str(root)] if root != Path("/") else []), "-q", "--qf", RPM_FORMAT]
    done = _run([*command, "--", *names], timeout=120)
    if done.returncode not in (0, 1):  # 1: some name is not installed
        raise DnfError(f"rpm -q failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def _reboot_config(options: Sequence[str]) -> set[str]:
    """The package names an administrator added to needs-restarting's list."""
    folder = installroot_of(options) / REBOOT_CONFIG
    names: set[str] = set()
    try:
        files = sorted(folder.glob("*.conf"))
    except OSError:
        return names
    for file in files:
        try:
            names.update(line.strip() for line in file.read_text().splitlines() if line.strip())
        except OSError:
            continue
    return names


def _ignored_repositories(stderr: str) -> str | None:
    """dnf's ``Ignoring repositories: a, b`` (a repository with ``skip_if_unavailable``)."""
    for line in stderr.splitlines():
        if line.startswith("Ignoring repositories:"):
            return line.partition(":")[2].strip()
    return None


def scan(options: Sequence[str] = ()) -> OsScan:
    """What ``dnf upgrade`` would install now."""
    checked = _dnf(["--debuglevel=0", "check-update"], options, ok=(0, 100))
    notes = []
    ignored = _ignored_repositories(checked.stderr)
    if ignored:
        notes.append(f"dnf could not read the repositories {ignored}; their updates are not listed")
    items: list[dict[str, Any]] = []
    if checked.returncode == 100:
        cached = ["-C", "--debuglevel=0"]
        listed = _dnf([*cached, "updateinfo", "list"], options).stdout
        info = _dnf([*cached, "updateinfo", "info"], options).stdout
        query = _dnf([*cached, "repoquery", "--upgrades", "--qf", QUERY_FORMAT], options).stdout
        names = sorted({name for name, _arch, _version, _repo in parse_check_update(checked.stdout)})
        installed = _rpm_query(names, options)
        items, refused = items_of(checked.stdout, listed, info, query, installed, _reboot_config(options))
        if refused:
            notes.append(f"{len(refused)} updates have versions the server cannot take: {', '.join(refused)}")
    pending, sources = reboot_pending(options)
    return OsScan("dnf", items, pending, sources, "; ".join(notes)[:1000] or None)


# --- installing -----------------------------------------------------------------------------------
def _spec(target: str) -> str:
    """``name=[e:]v-r.arch`` -> dnf's ``name-[e:]v-r.arch``; a bare name stays as it is."""
    name, equals, version = target.partition("=")
    return f"{name}-{version}" if equals else name


def refresh(options: Sequence[str] = ()) -> None:
    """``dnf makecache --refresh``: the metadata the install works from, checked against every
    repository as ``apt-get update`` does (raises DnfError with dnf's words)."""
    _dnf(["-q", "makecache", "--refresh"], options)


def dry_run(targets: Sequence[str], options: Sequence[str] = ()) -> str:
    """What ``dnf upgrade`` would do for these targets, in dnf's own words: the transaction it would
    run, or why it would not (``--assumeno`` always exits 1, "Operation aborted.")."""
    try:
        _refuse_dnf5()
        done = _run(["dnf", *options, "--assumeno", "upgrade", *map(_spec, targets)], TIMEOUT)
    except DnfError as exc:
        return str(exc)
    return (done.stdout + done.stderr).strip()


def install_one(target: str, options: Sequence[str] = ()) -> Installed:
    """Upgrade to one ``name=[e:]v-r.arch``; never prompts (``-y``), never installs a package that
    is not installed (``upgrade``, as apt's ``--only-upgrade``). dnf's exit status is not the whole
    truth: verify with :func:`installed_version`."""
    try:
        _refuse_dnf5()
        done = _run(["dnf", *options, "-y", "upgrade", _spec(target)], INSTALL_TIMEOUT)
    except DnfError as exc:
        return Installed(False, str(exc), None)
    return Installed(done.returncode == 0, (done.stdout + done.stderr).strip()[-1000:], done.returncode)


def installed_version(package: str, options: Sequence[str] = ()) -> str | None:
    """The ``[e:]v-r.arch`` rpm has installed now for ``package`` (``name``, or ``name.arch`` on a
    multilib system, to be exact), in the same form as an update's version; of several instances
    (the kernel's, or a name installed for two arches) the most recently installed; None when it is
    not installed."""
    return _newest(parse_installed(_rpm_query([package], options)))


def parse_needs_restarting(text: str) -> set[str]:
    """The packages ``dnf needs-restarting -r`` says were updated since boot (``  * kernel``)."""
    return {line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("* ")}


def _needs_restarting(options: Sequence[str]) -> subprocess.CompletedProcess[str] | None:
    """``dnf needs-restarting -r``; None when it cannot say: the command is missing (it comes with
    dnf-plugins-core), or dnf failed, which is exit status 1 too but without the plugin's verdict."""
    done = _dnf(["-C", "--debuglevel=0", "needs-restarting", "-r"], options, ok=(0, 1))
    if done.returncode == 1 and not asks_for_reboot(done.stdout):
        return None
    return done


def asks_for_reboot(stdout: str) -> bool:
    """Whether this is needs-restarting's "reboot needed" (not dnf failing with the same status)."""
    return "Reboot is required" in stdout or bool(parse_needs_restarting(stdout))


def reboot_pending(options: Sequence[str] = ()) -> tuple[bool, list[str]]:
    """Whether the OS asks for a reboot: ``needs-restarting -r`` exits 1 when a package of its list
    was updated since boot. Without the plugin: no reboot known, and no source."""
    try:
        done = _needs_restarting(options)
    except DnfError:
        return False, []
    if done is None:
        return False, []
    return done.returncode == 1, ["needs-restarting"]


def reboot_packages(options: Sequence[str] = ()) -> set[str]:
    """The packages updated since boot that ask for a reboot, as ``needs-restarting -r`` lists them."""
    try:
        done = _needs_restarting(options)
    except DnfError:
        return set()
    return parse_needs_restarting(done.stdout) if done is not None and done.returncode == 1 else set()


def needs_reboot(package: str, options: Sequence[str] = ()) -> bool:
    """Whether an update of this package takes effect only after a reboot."""
    return bool(REBOOT_PACKAGES.match(package)) or package in _reboot_config(options)
