"""The patch worker: ``python -m lanet.agent.patches.worker [scan|install] [--home H]``, started by
the service.

``scan`` asks the OS what it would install; ``install`` installs the server's plan (inside the
maintenance window, or at once when a technician said so); ``verify``, after a reboot, checks what
waited for it against the OS's records. Each queues their result in the agent's
outbox (the service sends it). Its own process, so the service's memory never holds apt's output or
the Windows Update Agent's COM objects, and the service can kill it at a hard timeout.
"""

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime

from lanet.agent.patches import PLAN, queue_scan, scan_os
from lanet.agent.patches.install import OutsideWindow, ScriptRunner, run_install
from lanet.agent.patches.scripts import run_phase
from lanet.agent.patches.verify import verify_after_reboot
from lanet.agent.patches.wu_settings import apply_planned
from lanet.agent.paths import AgentPaths
from lanet.agent.store import Store
from lanet.agent.workers import open_worker

log = logging.getLogger("lanet.agent.patches")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanet-agent-patches")
    parser.add_argument("action", nargs="?", choices=("scan", "install", "verify"), default="scan")
    parser.add_argument("--home")
    args = parser.parse_args(argv)
    paths = AgentPaths.resolve(args.home)
    config, store = open_worker("patches", paths)
    try:
        if not config.agent.asset_id:
            log.info("not registered: nothing to do")
            return 0
        if args.action == "install":
            return _install(
                store,
                str(config.agent.asset_id),
                lambda phase, spec: run_phase(phase, spec, config.scripts, paths.scripts_dir),
            )
        if args.action == "verify":
            report = verify_after_reboot(store, str(config.agent.asset_id))
            states = [r["state"] for r in report["results"]] if report else []
            log.info("verified after the reboot: %s", ", ".join(states) or "nothing waited")
            return 0 if all(s == "verified" for s in states) else 1
        started = time.time()
        auto_update = apply_planned(store, store.get(PLAN))
        found = scan_os()
        queued = queue_scan(store, str(config.agent.asset_id), found, time.time() - started, auto_update)
        log.info("scan done: %d update(s)%s", len(queued["items"]), f"; {found.error}" if found.error else "")
        return 1 if found.error and not queued["items"] else 0
    finally:
        store.close()


def _install(store: Store, asset_id: str, scripts: ScriptRunner) -> int:
    plan = store.get(PLAN)
    if not plan:
        log.info("no plan from the server: nothing to install")
        return 0
    try:
        report = run_install(store, asset_id, plan, local_now=datetime.now(), scripts=scripts)
    except OutsideWindow as exc:
        log.warning("%s", exc)
        return 3
    if report is None:
        log.info("the plan installs nothing")
        return 0
    states = [r["state"] for r in report["results"]]
    log.info("install run done: %s", ", ".join(f"{s} {states.count(s)}" for s in sorted(set(states))))
    return 0 if all(s in ("installed", "reboot_pending") for s in states) else 1


if __name__ == "__main__":
    sys.exit(main())
