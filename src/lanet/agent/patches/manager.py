"""The service's side of OS update scans: when to start the scan worker, and when to stop it.

A scan runs every :data:`SCAN_EVERY` and at once when a heartbeat's answer carries a technician's
request. The worker gets :data:`SCAN_TIMEOUT` to finish: past it, it is killed and the server is
told why (the Windows Update Agent's search is known to hang for hours). A scan that failed that
way is tried again after :data:`RETRY_AFTER`, at most :data:`MAX_RETRIES` times before the next
scheduled one.
"""

import logging
import subprocess
import sys
import time
from collections.abc import Callable

from lanet.agent.patches import SCAN_REQUESTED, OsScan, queue_scan
from lanet.agent.paths import AgentPaths, module_runner
from lanet.agent.store import Store
from lanet.protocol.contract import Record

log = logging.getLogger("lanet.agent.patches")

SCAN_EVERY = 6 * 3600.0
SCAN_TIMEOUT = 1800.0
RETRY_AFTER = 1800.0
MAX_RETRIES = 3
#: Store keys: when the last scan was started, and how many in a row were stopped at the timeout.
LAST_ATTEMPT = "patches.last_attempt"
FAILURES = "patches.failures"


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
        command: list[str] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.wake = wake
        self.clock = clock
        # The worker finds this agent's files the way the service did: the same --home, if any.
        home = ["--home", str(paths.config_dir.parent)] if home_given else []
        self.command = command or [*module_runner(), "-m", "lanet.agent.patches.worker", *home]
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0

    def request(self) -> None:
        """A technician asked for a scan now (the heartbeat's answer said so)."""
        if not self.store.get(SCAN_REQUESTED):
            log.info("an OS update scan was requested")
            self.store.put(SCAN_REQUESTED, True)
            self.wake()

    def _running(self) -> bool:
        if self._proc is None:
            return False
        code = self._proc.poll()
        if code is None:
            if self.clock() - self._started <= SCAN_TIMEOUT:
                return True
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None
            self.store.put(FAILURES, int(self.store.get(FAILURES, 0)) + 1)
            self.store.put(LAST_ATTEMPT, self.clock())  # the retry waits from the failure
            reason = f"the scan did not finish within {SCAN_TIMEOUT / 60:.0f} min and was stopped"
            log.warning("%s", reason)
            asset_id = self.config().agent.asset_id
            if asset_id:
                source = "windows_update" if sys.platform == "win32" else "apt"
                queue_scan(
                    self.store, str(asset_id), OsScan(source, error=reason), self.clock() - self._started
                )
            self.wake()
            return False
        log.info("the scan worker ended with status %s", code)
        self._proc = None
        self.store.put(FAILURES, 0)
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
        if self._running() or not self.config().agent.asset_id or not self.due():
            return
        self.store.put(SCAN_REQUESTED, False)
        self.store.put(LAST_ATTEMPT, self.clock())
        self._started = self.clock()
        log.info("starting an OS update scan")
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
