"""The service's side of OS updates: when to start the patch worker, and when to stop it.

A scan runs every :data:`SCAN_EVERY` and at once when a heartbeat's answer carries a technician's
request. The worker gets :data:`SCAN_TIMEOUT` to finish: past it, it is killed and the server is
told why (the Windows Update Agent's search is known to hang for hours). A scan that failed that
way is tried again after :data:`RETRY_AFTER`, at most :data:`MAX_RETRIES` times before the next
scheduled one.

The answer to a scan carries the server's plan. Its approved updates are installed by the same
worker (``install``) once per plan and window: inside the maintenance window on this machine's
clock, or at once when a technician said so. An agent that was off during its window installs in
the next one. An install run is never killed: stopping dpkg half-way would leave the packages
broken; it is only logged when it runs past :data:`INSTALL_WARN_AFTER`.

Updates that wait for a reboot are :mod:`lanet.agent.patches.reboot`'s: this ticks it, and once the
machine booted again starts the worker's ``verify`` step (once per boot).
"""

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lanet.agent.patches import PLAN, SCAN_REQUESTED, OsScan, linux_source, queue_scan
from lanet.agent.patches.install import window_of
from lanet.agent.patches.reboot import Reboots
from lanet.agent.paths import AgentPaths, module_runner
from lanet.agent.store import Store
from lanet.agent.workers import home_args
from lanet.protocol import contract
from lanet.protocol.contract import Record

log = logging.getLogger("lanet.agent.patches")

SCAN_EVERY = 6 * 3600.0
SCAN_TIMEOUT = 1800.0
INSTALL_WARN_AFTER = 3 * 3600.0
RETRY_AFTER = 1800.0
MAX_RETRIES = 3
#: Store keys: when the last scan was started, and how many in a row were stopped at the timeout.
LAST_ATTEMPT = "patches.last_attempt"
FAILURES = "patches.failures"
#: The install runs started (plan revision and window): each is attempted once, even if its worker dies.
INSTALL_ATTEMPTS = "patches.install_attempts"
#: The boot whose verification was started: once per boot, even if its worker dies.
VERIFIED_BOOT = "patches.verified_boot"


def _asset_id(config: Record) -> str | None:
    return str(config.agent.asset_id) if config.agent.asset_id else None


class Patches:
    def __init__(
        self,
        store: Store,
        config: Callable[[], Record],
        paths: AgentPaths,
        home_given: bool,
        wake: Callable[[], None],
        *,
        clock: Callable[[], float] = time.time,
        local_now: Callable[[], datetime] = datetime.now,
        command: list[str] | None = None,
        reboots: Reboots | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.wake = wake
        self.clock = clock
        self.command = command or [*module_runner(), "-m", "lanet.agent.patches.worker"]
        self.home = home_args(paths, home_given)
        self.local_now = local_now
        self._proc: subprocess.Popen[bytes] | None = None
        self._action = "scan"
        self._started = 0.0
        self._warned = False
        self.reboots = reboots or Reboots(
            store,
            lambda: _asset_id(config()),
            wake,
            clock=clock,
            local_now=local_now,
            allowed=lambda: bool(config().patches.allow_restart),
        )

    def request(self) -> None:
        """A technician asked for a scan now (the heartbeat's answer said so)."""
        if not self.store.get(SCAN_REQUESTED):
            log.info("an OS update scan was requested")
            self.store.put(SCAN_REQUESTED, True)
            self.wake()

    def delivered(self, _payload: dict[str, Any], data: dict[str, Any], _sent: dict[str, Any]) -> None:
        """The answer to a scan: keep the server's plan (validated; a bad one is logged and kept out)."""
        try:
            answer = contract.validate("PatchScanAck", data)
        except contract.ContractError as exc:
            log.warning("the answer to a scan has an unexpected shape, ignored: %s", exc.listed(5))
            return
        plan = answer.get("plan")
        before = self.store.get(PLAN)
        if plan is not None and plan != before:
            log.info("patch plan %s: %d update(s) to install", plan["revision"], len(plan["install"]))
            self.store.put(PLAN, plan)
            # The scan applies the Windows Update settings and reports them: one now, not in 6 hours.
            if plan.get("windows_auto_update", "leave") != (before or {}).get("windows_auto_update", "leave"):
                self.store.put(SCAN_REQUESTED, True)
            self.wake()

    def _install_due(self) -> dict[str, str] | None:
        """The install run to start now (plan revision and window), if one is due and not attempted."""
        plan = self.store.get(PLAN)
        if not plan or not plan.get("install"):
            return None
        run = self._run_key(plan)
        return run if run is not None and run not in (self.store.get(INSTALL_ATTEMPTS) or []) else None

    def _run_key(self, plan: dict[str, Any]) -> dict[str, str] | None:
        """This plan in this window (or "now"): what is attempted once, whatever the worker does."""
        if plan.get("now"):
            return {"revision": plan["revision"], "window": "now"}
        opened = window_of(plan).opened_at(self.local_now())
        return None if opened is None else {"revision": plan["revision"], "window": opened.isoformat()}

    def _running(self) -> bool:
        if self._proc is None:
            return False
        code = self._proc.poll()
        if code is None:
            elapsed = self.clock() - self._started
            if self._action == "install":
                if elapsed > INSTALL_WARN_AFTER and not self._warned:
                    log.warning("the install run has taken %.0f min so far", elapsed / 60)
                    self._warned = True
                return True
            if elapsed <= SCAN_TIMEOUT:
                return True
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None
            if self._action == "verify":  # tried again after the next boot
                log.warning("the verification after the reboot did not finish in time and was stopped")
                return False
            self.store.put(FAILURES, int(self.store.get(FAILURES, 0)) + 1)
            self.store.put(LAST_ATTEMPT, self.clock())  # the retry waits from the failure
            reason = f"the scan did not finish within {SCAN_TIMEOUT / 60:.0f} min and was stopped"
            log.warning("%s", reason)
            asset_id = self.config().agent.asset_id
            if asset_id:
                source = "windows_update" if sys.platform == "win32" else linux_source()
                queue_scan(
                    self.store, str(asset_id), OsScan(source, error=reason), self.clock() - self._started
                )
            self.wake()
            return False
        log.info("the %s worker ended with status %s", self._action, code)
        self._proc = None
        if self._action == "scan":
            self.store.put(FAILURES, 0)
        else:
            self.store.put(SCAN_REQUESTED, True)  # the server's next plan starts from what is now
        self.wake()  # its result is in the outbox
        return False

    def due(self) -> bool:
        if self.store.get(SCAN_REQUESTED):
            return True
        since = self.clock() - float(self.store.get(LAST_ATTEMPT, 0))
        failures = int(self.store.get(FAILURES, 0))
        if 0 < failures <= MAX_RETRIES:
            return since >= RETRY_AFTER
        return since >= SCAN_EVERY

    def tick(self) -> None:
        if self._running() or not self.config().agent.asset_id:
            return
        self.reboots.tick()
        run = self._install_due()
        if self.reboots.rebooted() and self.store.get(VERIFIED_BOOT) != self.reboots.boot_time():
            self.store.put(VERIFIED_BOOT, self.reboots.boot_time())
            self._start("verify")  # before anything new is installed
        elif run is not None:
            attempts = list(self.store.get(INSTALL_ATTEMPTS) or [])[-20:]
            self.store.put(INSTALL_ATTEMPTS, [*attempts, run])
            self._start("install")
        elif self.due():
            self.store.put(SCAN_REQUESTED, False)
            self.store.put(LAST_ATTEMPT, self.clock())
            self._start("scan")

    def _start(self, action: str) -> None:
        self._action, self._started, self._warned = action, self.clock(), False
        log.info("starting the patch worker: %s", action)
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*self.command, action, *self.home],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
