"""A local RPM repository and an installroot of its own, for testing the agent's dnf path with the
real dnf on this Debian machine: tiny noarch packages built with rpmbuild, indexed with
createrepo_c, advisories added with modifyrepo_c, served over HTTP from 127.0.0.1 (so dnf downloads
into its cache as from a mirror: a ``file://`` repository is used in place and every package of it
would count as downloaded), and dnf pointed at all of it with command-line options, so the
machine's own dnf and rpm state is never read or changed.

What makes Debian's dnf 4.14 work in an installroot here (found by trying):

* ``--installroot=ROOT``: the rpm database, dnf's cache (``ROOT/var/cache/dnf``), its history
  (``ROOT/var/lib/dnf``) and its logs (``ROOT/var/log``) all go under it. The rpm database is at
  ``ROOT/root/.rpmdb``: Debian's rpm puts ``%_dbpath`` at ``~/.rpmdb``, and ``rpm --root ROOT``
  finds it there too.
* ``--config=LAB/dnf.conf``: a path on the command line is the host's, not the installroot's; without
  it the host's ``/etc/dnf/dnf.conf`` is read, and Debian's says ``skip_if_unavailable=True``, which
  makes a broken repository a warning and the scan a silent "no updates".
* ``--setopt=reposdir=LAB/repos.d``: the lab's repository file, and no host repository.
* ``--releasever=1``: there is no release package in the installroot to take it from (dnf stops
  with "Unable to detect release version").
* ``--setopt=pluginpath=LAB/plugins`` (empty): no host plugin loads, so the tests see the same dnf
  whether or not dnf-plugins-core is installed (``needs-restarting`` is then missing).
* ``gpgcheck=0`` and ``install_weak_deps=False`` in the lab's dnf.conf: the packages are unsigned
  and have no dependencies. ``--forcearch`` is not needed for noarch packages.
"""

import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

#: What the lab needs; ``scripts/setup.sh`` installs them (Debian's dnf, rpm and createrepo-c).
TOOLS = ("dnf", "rpm", "rpmbuild", "createrepo_c", "modifyrepo_c")


def missing_tools() -> str | None:
    """Why the lab cannot be built here, or None; the tests fail with it rather than skip."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed: run `bash scripts/setup.sh` as root"
    return None


@dataclass
class Package:
    name: str
    version: str
    release: str = "1"
    epoch: int | None = None
    obsoletes: str | None = None

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.noarch.rpm"


@dataclass
class Advisory:
    """One ``updateinfo.xml`` entry: ``type`` is security, bugfix, enhancement or newpackage."""

    id: str
    type: str
    severity: str | None
    packages: list[Package] = field(default_factory=list)

    def xml(self) -> str:
        rows = "".join(
            f"<package name={quoteattr(p.name)} version={quoteattr(p.version)} "
            f'release={quoteattr(p.release)} epoch="{p.epoch or 0}" arch="noarch">'
            f"<filename>{p.file_name}</filename></package>"
            for p in self.packages
        )
        severity = f"<severity>{self.severity}</severity>" if self.severity else ""
        return (
            f'<update from="lab@lanet.invalid" status="stable" type="{self.type}" version="1">'
            f"<id>{self.id}</id><title>{self.id} {self.type} update</title>{severity}"
            f'<issued date="2024-01-01 00:00:00"/><description>For the tests.</description>'
            f'<pkglist><collection short="lab"><name>lab</name>{rows}</collection></pkglist></update>'
        )


@dataclass
class RpmLab:
    root: Path
    url: str

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def installroot(self) -> Path:
        return self.root / "installroot"

    @property
    def cache(self) -> Path:
        return self.installroot / "var" / "cache" / "dnf"

    @property
    def options(self) -> list[str]:
        return [
            f"--installroot={self.installroot}",
            f"--config={self.root / 'dnf.conf'}",
            f"--setopt=reposdir={self.root / 'repos.d'}",
            f"--setopt=pluginpath={self.root / 'plugins'}",
            "--releasever=1",
        ]

    def build(self, package: Package) -> Path:
        """One empty noarch package (its own spec, built under the lab: nothing in ``~/rpmbuild``;
        ``--nodeps``, as the build-dependency check would open the host's rpm database)."""
        spec = self.root / "build" / f"{package.name}-{package.version}-{package.release}.spec"
        lines = [
            f"Name: {package.name}",
            f"Version: {package.version}",
            f"Release: {package.release}",
            *([f"Epoch: {package.epoch}"] if package.epoch is not None else []),
            *([f"Obsoletes: {package.obsoletes}"] if package.obsoletes else []),
            "Summary: a package for the tests",
            "License: MIT",
            "BuildArch: noarch",
            "%description",
            "a package for the tests",
            "%files",
        ]
        spec.write_text("\n".join(lines) + "\n")
        build = self.root / "build"
        defines = {
            "_topdir": build,
            "_tmppath": build / "tmp",
            "_rpmdir": self.repo,
            "_build_name_fmt": "%%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
        }
        macros = [x for name, value in defines.items() for x in ("--define", f"{name} {value}")]
        _run(["rpmbuild", "-bb", "--nodeps", *macros, str(spec)])
        return self.repo / package.file_name

    def index(self, advisories: Sequence[Advisory] = ()) -> None:
        """Index the repository; the advisories become its ``updateinfo`` (modifyrepo_c)."""
        _run(["createrepo_c", "--quiet", str(self.repo)])
        if advisories:
            updateinfo = self.root / "updateinfo.xml"
            updateinfo.write_text(
                '<?xml version="1.0" encoding="UTF-8"?>\n<updates>'
                + "".join(a.xml() for a in advisories)
                + "</updates>\n"
            )
            _run(["modifyrepo_c", str(updateinfo), str(self.repo / "repodata")])

    def dnf(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real dnf on the lab (for putting it in a state; the code under test runs its own)."""
        return _run(["dnf", *self.options, *args])

    def install(self, *specs: str) -> None:
        """Install these into the installroot, so the repository's newer versions are updates."""
        self.dnf("-y", "-q", "install", *specs)


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(Path.home()), "LANG": "C", "LC_ALL": "C"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(root: Path) -> Iterator[RpmLab]:
    """A lab under ``root`` whose repository is served over HTTP while the block runs."""
    for folder in ("repo", "build/tmp", "repos.d", "plugins", "installroot"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root / "repo")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        lab = RpmLab(root, f"http://127.0.0.1:{server.server_address[1]}/")
        (root / "dnf.conf").write_text(
            "[main]\ngpgcheck=0\ninstall_weak_deps=False\nskip_if_unavailable=False\nkeepcache=False\n"
        )
        (root / "repos.d" / "lab.repo").write_text(
            f"[lab]\nname=LANET lab\nbaseurl={lab.url}\ngpgcheck=0\nmetadata_expire=1d\n"
        )
        yield lab
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
