"""The service's side of self-update: it keeps the release the server offers and starts the update
worker inside the update window (or at once when the technician said "now"). The worker is a
process of its own, so TUF and the download never weigh on the service's memory.

An attempt at a version is made once per window: a failed download is tried again in the next
window, not in a loop.
"""

import json
import logging
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import lanet
from lanet.agent.paths import AgentPaths, module_runner
from lanet.agent.store import Store
from lanet.agent.update import ATTEMPT, HEALTHY, OFFER, PENDING, package_platform, report, updates_dir
from lanet.agent.update.schedule import in_window
from lanet.agent.workers import home_args
from lanet.protocol.contract import ContractError, Record

log = logging.getLogger("lanet.agent.update")

#: An attempt at the same version is not repeated sooner than this (seconds), unless it is "now".
RETRY_AFTER = 6 * 3600


class Updates:
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
    ) -> None:
        self.store = store
        self.config = config
        self.worker_args = home_args(paths, home_given)
        self.wake = wake
        self.clock = clock
        self.local_now = local_now
        self._proc: subprocess.Popen[bytes] | None = None
        self.updates_dir = updates_dir(paths)
        self._checked_recovery = False

    def answered(self, offer: dict[str, Any] | None) -> None:
        """A heartbeat was answered, with its ``update`` (validated; None: nothing offered now). The
        first answered heartbeat of a freshly installed version is what the health gate waits for."""
        pending = self.store.get(PENDING)
        if (
            pending
            and pending.get("version") == lanet.__version__
            and self.store.get(HEALTHY) != lanet.__version__
        ):
            log.info("%s completed its first heartbeat", lanet.__version__)
            self.store.put(HEALTHY, lanet.__version__)
        if offer != self.store.get(OFFER):
            if offer:
                log.info(
                    "release %s offered (%s)",
                    offer["version"],
                    "now" if offer.get("now") else "in the window",
                )
            self.store.put(OFFER, offer)

    def busy(self) -> bool:
        if self._proc is None:
            return False
        code = self._proc.poll()
        if code is None:
            return True
        log.info("the update worker ended with status %s", code)
        self._proc = None
        self.wake()  # its reports are in the outbox
        return False

    def due(self) -> dict[str, Any] | None:
        """The offer to start the worker for now, if any (and records the attempt)."""
        offer: dict[str, Any] | None = self.store.get(OFFER)
        settings = self.config().updates
        if not offer or not settings.enabled or package_platform() is None:
            return None
        attempt = self.store.get(ATTEMPT) or {}
        now = self.clock()
        again = attempt.get("version") != offer["version"] or now - float(attempt.get("at", 0)) >= RETRY_AFTER
        if not again and not (offer.get("now") and not attempt.get("now")):
            return None
        if not offer.get("now") and not in_window(
            settings.schedule, settings.window_minutes, self.local_now()
        ):
            return None
        self.store.put(ATTEMPT, {"version": offer["version"], "at": now, "now": bool(offer.get("now"))})
        return offer

    def _report_recovery(self) -> None:
        """Say what ``recover.py`` did before this start (a swap cut short, the previous version back)."""
        note_file = self.updates_dir / "recovered.json"
        if not note_file.exists():
            return
        try:
            note = json.loads(note_file.read_text())
            asset_id = self.config().agent.asset_id
            if asset_id and note.get("version"):
                report(self.store, asset_id, str(note["version"]), "rolled_back", str(note.get("reason", "")))
        except (OSError, ValueError, ContractError) as exc:
            log.warning("the note of an interrupted update could not be reported: %s", exc)
        note_file.unlink(missing_ok=True)
        self.store.put(PENDING, None)

    def tick(self) -> None:
        if not self._checked_recovery:
            self._checked_recovery = True
            self._report_recovery()
        if self.busy():
            return
        offer = self.due()
        if offer is None:
            return
        log.info("starting the update worker for %s", offer["version"])
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*module_runner(), "-m", "lanet.agent.update.worker", *self.worker_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
