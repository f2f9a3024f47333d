"""Installing a package and bringing the service back, per package kind: the installer's facade.

The swap (:mod:`lanet.agent.update.install`) is the same on every platform: install the new
package, make sure the service runs it, wait for its first heartbeat, else install the previous
package. What differs is here:

* ``linux-deb``: ``dpkg -i``, then ``systemctl restart`` (or, without systemd, the agent process
  that started the update stopped and started again with its own command line).
* ``windows-x64``: ``msiexec /i`` of the signed MSI, a major upgrade (or, for the way back, a
  downgrade, which the package allows). The MSI stops and replaces the service and starts the new
  one itself, inside one Windows Installer transaction, and Windows keeps the MSI for repair and
  uninstall. The installer runs from a copy of the runtime outside ``bin\\`` (the MSI replaces
  ``bin\\``); the trays run from ``bin\\`` and hold its files, so they are closed first and come
  back at the user's next login.
"""

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Protocol

import psutil

#: msiexec: success, and success with a reboot required to finish (ERROR_SUCCESS_REBOOT_REQUIRED).
MSI_DONE = (0, 3010)
#: The lines of a verbose MSI log that say what went wrong.
MSI_TROUBLE = re.compile(r"(error \d+|return value 3|installation failed|failed)", re.IGNORECASE)


class Packages(Protocol):
    def install(self, package: str) -> tuple[bool, str]:
        """Install ``package``: whether it worked, and what the installer said (its last lines)."""
        ...

    def restart(self) -> None:
        """Make sure the service runs the version now installed."""
        ...


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


class Deb:
    """``dpkg -i`` and the service restarted by systemd, or by hand where there is no systemd."""

    def __init__(self, service_pid: int | None, logs: Path) -> None:
        self.pid = service_pid
        self.logs = logs
        self.argv: list[str] | None = None
        self.cwd: str | None = None
        if service_pid and not systemd_running():
            try:
                process = psutil.Process(service_pid)
                self.argv, self.cwd = process.cmdline(), process.cwd()
            except psutil.Error:
                self.argv = None

    def install(self, package: str) -> tuple[bool, str]:
        done = subprocess.run(  # noqa: S603 - Debian's dpkg
            [shutil.which("dpkg") or "/usr/bin/dpkg", "-i", package],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if done.returncode:
            return False, f"dpkg -i failed: {(done.stdout + done.stderr)[-800:]}"
        return True, ""

    def restart(self) -> None:
        if systemd_running():
            subprocess.run(["systemctl", "restart", "lanet-agent.service"], check=False, timeout=120)  # noqa: S607
            return
        if self.pid:
            stop_process(self.pid)
        if self.argv:
            with open(self.logs / "agent-restart.out", "ab") as out:
                proc = subprocess.Popen(  # noqa: S603
                    self.argv,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,
                )
            self.pid = proc.pid


class Msi:
    """``msiexec /i`` as a major upgrade (or downgrade) of the installed product."""

    def __init__(self, install_root: Path, logs: Path) -> None:
        self.bin = install_root / "bin"
        self.logs = logs

    def install(self, package: str) -> tuple[bool, str]:
        self._close_trays()
        log = self.logs / f"update-{Path(package).stem}.log"
        msiexec = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32" / "msiexec.exe"
        done = subprocess.run(  # noqa: S603 - Windows Installer
            [str(msiexec), "/i", package, "/qn", "/norestart", "/l*v", str(log)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=1800,
            check=False,
        )
        if done.returncode in MSI_DONE:
            return True, "a reboot is needed to finish" if done.returncode == 3010 else ""
        return False, f"msiexec /i failed with exit code {done.returncode}: {msi_trouble(log)}"

    def restart(self) -> None:
        """The MSI stops and starts the service itself; this starts it should it not run."""
        from lanet.agent.windows import service as winservice

        with contextlib.suppress(Exception):  # the health gate tells whether it came back
            winservice.start()

    def _close_trays(self) -> None:
        """The trays of logged-in users run from ``bin\\``: an MSI cannot replace files they hold."""
        for proc in psutil.process_iter(["exe"]):
            exe = proc.info.get("exe") or ""
            if exe and Path(exe).parent == self.bin and Path(exe).name.lower() == "agent-tray.exe":
                stop_process(proc.pid, grace=10)


def msi_trouble(log: Path) -> str:
    """The last lines of a verbose MSI log (UTF-16 or UTF-8) that say what went wrong."""
    try:
        raw = log.read_bytes()
    except OSError:
        return "no installer log"
    text = raw.decode("utf-16", "replace") if raw[:2] == b"\xff\xfe" else raw.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if MSI_TROUBLE.search(line)]
    return " | ".join(lines[-4:])[-800:] or text.strip()[-400:]


def stop_process(pid: int, grace: float = 20.0) -> None:
    """SIGTERM (Windows: TerminateProcess), then a kill after ``grace``. psutil's wait also reaps a
    child this installer started itself, which a bare ``kill(pid, 0)`` would see as alive."""
    try:
        process = psutil.Process(pid)
        process.terminate()
        process.wait(grace)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def wait_exit(pid: int | None, timeout: float = 60.0) -> None:
    """Wait for ``pid`` (the worker that started the installer) to end: on Windows a process holds
    the files of its runtime open, and the MSI would then finish only at the next reboot."""
    if not pid:
        return
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).wait(timeout)
