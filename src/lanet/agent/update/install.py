"""The swap and its health gate: ``python -m lanet.agent.update.install [--home H | --install-root R]``.

Started by the update worker once a release is staged, detached from the service it replaces (a
transient systemd unit of its own, a session of its own where there is no systemd, a detached
process run from a copy of the runtime on Windows), so it outlives the old service stopping and the
new version crashing at start. It:

1. records the swap (``update.pending``: the new and the previous version and their packages);
2. installs the staged package (``dpkg -i``, or the MSI's major upgrade) and makes sure the service
   runs it (:mod:`lanet.agent.update.packages`);
3. waits for the new version to complete a heartbeat (the service marks ``update.healthy``) for
   ``updates.health_timeout`` seconds;
4. reports ``healthy``, or installs the previous package again, and reports ``rolled_back`` with
   the reason.

Every step is reported through the agent's outbox, so the server hears of it from whichever version
runs afterwards.
"""

import argparse
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

from lanet.agent.paths import LAUNCHERS, AgentPaths
from lanet.agent.store import Store
from lanet.agent.update import (
    HEALTHY,
    INSTALLED_PACKAGE,
    PENDING,
    STAGED,
    package_platform,
    report,
    updates_dir,
)
from lanet.agent.update.packages import Deb, Msi, Packages, systemd_running, wait_exit
from lanet.agent.workers import open_worker

log = logging.getLogger("lanet.agent.update")
POLL = 1.0
#: What the installer needs from the service's environment to find the agent and its files.
CARRIED_ENV = ("PYTHONPATH", "LANET_AGENT_HOME")


def detach(argv: list[str], log_file: Path) -> None:
    """Start ``argv`` outside the service: a transient unit under systemd (a restart of the service
    kills its whole cgroup), a new session elsewhere on Unix, and on Windows a detached process out
    of the service's job (the MSI stops the service it replaces)."""
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
        if sys.platform != "win32":
            subprocess.Popen(  # noqa: S603
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
            )
            return
        detached = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
        # Out of the service's job if it has one; a job that forbids breaking away still lets the
        # process run detached.
        for flags in (detached | subprocess.CREATE_BREAKAWAY_FROM_JOB, detached):
            try:
                subprocess.Popen(  # noqa: S603
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    close_fds=True,
                    creationflags=flags,
                )
                return
            except OSError:
                if flags == detached:
                    raise


def windows_runner(paths: AgentPaths, install_root: Path) -> Path:
    """A copy of the frozen runtime (``bin\\`` without the launchers) in ``data\\cache\\updates``,
    to run the installer from while the MSI replaces ``bin\\``; returns its ``python.exe``."""
    target = updates_dir(paths) / "installer"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(install_root / "bin", target, ignore=shutil.ignore_patterns(*LAUNCHERS, "__pycache__"))
    return target / "python.exe"


def _wait_healthy(store: Store, version: str, deadline: float) -> bool:
    while time.time() < deadline:
        if store.get(HEALTHY) == version:
            return True
        time.sleep(POLL)
    return bool(store.get(HEALTHY) == version)


def swap(paths: AgentPaths, store: Store, asset_id: str, packages: Packages, health_timeout: int) -> int:
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
        return _swap(store, asset_id, packages, health_timeout, staged)
    finally:
        swap_file.unlink(missing_ok=True)
        store.put(PENDING, None)


def _prune(folder: Path, keep: set[str]) -> None:
    """Downloaded packages other than the running one and the way back: each is tens of MB."""
    kept = {Path(k).resolve() for k in keep}
    for package in folder.iterdir():
        if package.is_file() and package.resolve() not in kept:
            package.unlink(missing_ok=True)


def _swap(
    store: Store, asset_id: str, packages: Packages, health_timeout: int, staged: dict[str, Any]
) -> int:
    version, previous, running = staged["version"], staged["previous"], staged.get("from_version")
    ok, output = packages.install(staged["new"])
    if not ok:
        log.error("installing %s failed: %s", version, output)
        report(store, asset_id, version, "failed", output, running=running)
        packages.install(previous)  # leaves the previous version whole, whatever was done half
        packages.restart()
        return 1
    report(store, asset_id, version, "installed", output, running=running)
    packages.restart()
    if _wait_healthy(store, version, time.time() + health_timeout):
        log.info("%s is healthy", version)
        report(store, asset_id, version, "healthy", running=version)
        store.put(INSTALLED_PACKAGE, staged["new"])
        _prune(Path(staged["new"]).parent, keep={staged["new"], previous})
        return 0
    reason = f"{version} did not complete a heartbeat within {health_timeout} s; {running} reinstalled"
    log.error("%s", reason)
    ok, output = packages.install(previous)
    if not ok:
        reason += f" (but reinstalling it failed: {output})"
    packages.restart()
    report(store, asset_id, version, "rolled_back" if ok else "failed", reason, running=running)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanet-agent-install")
    location = parser.add_mutually_exclusive_group()
    location.add_argument("--home")
    location.add_argument("--install-root", help="the MSI's install folder (the frozen build)")
    parser.add_argument("--service-pid", type=int, help="the agent to restart where there is no systemd")
    parser.add_argument("--wait-pid", type=int, help="a process to let end first (the worker)")
    args = parser.parse_args(argv)
    root = Path(args.install_root) if args.install_root else None
    paths = AgentPaths.for_install(root) if root else AgentPaths.resolve(args.home)
    config, store = open_worker("install", paths)
    wait_exit(args.wait_pid)
    packages: Packages
    if package_platform() == "windows-x64":
        packages = Msi(root or paths.config_dir.parent, paths.logs_dir)
    else:
        packages = Deb(args.service_pid, paths.logs_dir)
    try:
        return swap(paths, store, str(config.agent.asset_id), packages, int(config.updates.health_timeout))
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
