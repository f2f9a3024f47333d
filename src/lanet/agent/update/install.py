"""The swap and its health gate: ``python -m lanet.agent.update.install [--home H]``.

Started by the update worker once a release is staged, detached from the service it replaces (a
transient systemd unit of its own, or a session of its own where there is no systemd), so it
outlives the old service stopping and the new version crashing at start. It:

1. records the swap (``update.pending``: the new and the previous version and their packages);
2. installs the staged package (``dpkg -i``) and restarts the service;
3. waits for the new version to complete a heartbeat (the service marks ``update.healthy``) for
   ``updates.health_timeout`` seconds;
4. reports ``healthy``, or installs the previous package again, restarts, and reports
   ``rolled_back`` with the reason.

Every step is reported through the agent's outbox, so the server hears of it from whichever version
runs afterwards.
"""

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from lanet.agent.config import load_config
from lanet.agent.paths import AgentPaths
from lanet.agent.secrets.protect import default_protector
from lanet.agent.store import Store
from lanet.agent.update import HEALTHY, INSTALLED_PACKAGE, PENDING, STAGED, report

log = logging.getLogger("lanet.agent.update")
POLL = 1.0
#: What the installer needs from the service's environment to find the agent and its files.
CARRIED_ENV = ("PYTHONPATH", "LANET_AGENT_HOME")


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def detach(argv: list[str], log_file: Path) -> None:
    """Start ``argv`` outside the service: a transient unit under systemd (a restart of the service
    kills its whole cgroup), a new session otherwise."""
    runner = shutil.which("systemd-run")
    if systemd_running() and runner:
        unit = f"lanet-agent-update-{int(time.time())}"
        # A transient unit starts with a clean environment: pass on where the agent's modules are.
        carried = [f"--setenv={name}={os.environ[name]}" for name in CARRIED_ENV if os.environ.get(name)]
        subprocess.run(  # noqa: S603 - systemd's own tool
            [
                runner,
                "--quiet",
                "--collect",
                f"--unit={unit}",
                "--property=KillMode=process",
                *carried,
                *argv,
            ],
            check=True,
            timeout=60,
        )
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        subprocess.Popen(  # noqa: S603
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
        )


def _dpkg_install(package: str) -> tuple[bool, str]:
    done = subprocess.run(  # noqa: S603 - Debian's dpkg
        [shutil.which("dpkg") or "/usr/bin/dpkg", "-i", package],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return done.returncode == 0, (done.stdout + done.stderr)[-800:]


class Service:
    """Restarts the agent's service: systemd's unit, or, without systemd, the process that started
    this update (stopped with SIGTERM and started again with its own command line)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.argv: list[str] | None = None
        self.cwd: str | None = None
        if pid and not systemd_running():
            try:
                process = psutil.Process(pid)
                self.argv, self.cwd = process.cmdline(), process.cwd()
            except psutil.Error:
                self.argv = None

    def restart(self, logs: Path) -> None:
        if systemd_running():
            subprocess.run(["systemctl", "restart", "lanet-agent.service"], check=False, timeout=120)  # noqa: S607
            return
        if self.pid:
            self._stop(self.pid)
        if self.argv:
            with open(logs / "agent-restart.out", "ab") as out:
                proc = subprocess.Popen(  # noqa: S603
                    self.argv,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,
                )
            self.pid = proc.pid

    @staticmethod
    def _stop(pid: int, grace: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``grace``. psutil's wait also reaps a service this installer
        started itself (after a first restart), which a bare ``kill(pid, 0)`` would see as alive."""
        try:
            process = psutil.Process(pid)
            process.terminate()
            process.wait(grace)
        except psutil.NoSuchProcess:
            return
        except psutil.TimeoutExpired:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


def _wait_healthy(store: Store, version: str, deadline: float) -> bool:
    while time.time() < deadline:
        if store.get(HEALTHY) == version:
            return True
        time.sleep(POLL)
    return bool(store.get(HEALTHY) == version)


def swap(paths: AgentPaths, store: Store, asset_id: str, service: Service, health_timeout: int) -> int:
    staged: dict[str, Any] | None = store.get(STAGED)
    if not staged:
        log.info("nothing staged")
        return 0
    store.put(PENDING, {**staged, "started_at": time.time()})
    store.put(STAGED, None)
    # For recover.py, in a file of its own: it runs when the agent's modules may be the broken ones.
    swap_file = paths.cache_dir / "updates" / "swap.json"
    swap_file.write_text(json.dumps({**staged, "pid": os.getpid()}))
    try:
        return _swap(paths, store, asset_id, service, health_timeout, staged)
    finally:
        swap_file.unlink(missing_ok=True)
        store.put(PENDING, None)


def _swap(
    paths: AgentPaths,
    store: Store,
    asset_id: str,
    service: Service,
    health_timeout: int,
    staged: dict[str, Any],
) -> int:
    version, previous, running = staged["version"], staged["previous"], staged.get("from_version")
    ok, output = _dpkg_install(staged["new"])
    if not ok:
        log.error("installing %s failed: %s", version, output)
        report(store, asset_id, version, "failed", f"dpkg -i failed: {output}", running=running)
        _dpkg_install(previous)  # leaves the previous version whole, whatever dpkg did half
        service.restart(paths.logs_dir)
        return 1
    report(store, asset_id, version, "installed", running=running)
    service.restart(paths.logs_dir)
    if _wait_healthy(store, version, time.time() + health_timeout):
        log.info("%s is healthy", version)
        report(store, asset_id, version, "healthy", running=version)
        store.put(INSTALLED_PACKAGE, staged["new"])
        return 0
    reason = f"{version} did not complete a heartbeat within {health_timeout} s; {running} reinstalled"
    log.error("%s", reason)
    ok, output = _dpkg_install(previous)
    if not ok:
        reason += f" (but reinstalling it failed: {output})"
    service.restart(paths.logs_dir)
    report(store, asset_id, version, "rolled_back" if ok else "failed", reason, running=running)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanet-agent-install")
    parser.add_argument("--home")
    parser.add_argument("--service-pid", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [install] %(message)s", stream=sys.stderr)
    paths = AgentPaths.resolve(args.home)
    config = load_config(paths.config_file)
    store = Store(paths.database, default_protector(paths.key_file, config.security.encryption_enabled))
    service = Service(args.service_pid)
    try:
        return swap(paths, store, str(config.agent.asset_id), service, int(config.updates.health_timeout))
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
