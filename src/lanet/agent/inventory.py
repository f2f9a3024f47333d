"""The full inventory (hardware, software, services, updates): built, compared with what the server
has, queued when it changed or is a day old. The pending-updates list comes from the OS's package
manager in a thread of its own, because it can take seconds (apt) to minutes (Windows Update)."""

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from lanet.agent import collectors
from lanet.agent.collectors._common import warn_once
from lanet.agent.outbox import Outbox
from lanet.agent.store import Store
from lanet.protocol import contract

log = logging.getLogger("lanet.agent.inventory")

CHECK_EVERY = 1800.0
MAX_AGE = 86400.0
UPDATES_CHECK_EVERY = 6 * 3600.0


def inventory_digest(hardware_info: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(hardware_info, sort_keys=True).encode()).hexdigest()


class Inventory:
    def __init__(
        self, store: Store, outbox: Outbox, asset_id: Callable[[], str | None], changed: Callable[[], None]
    ) -> None:
        self.store = store
        self.outbox = outbox
        self._asset_id = asset_id
        self._changed = changed  # new pending updates: check the inventory again soon
        self._updates_thread: threading.Thread | None = None

    def build(self) -> dict[str, Any]:
        """The inventory as it would be sent now (validated; no side effect)."""
        info = collectors.inventory()
        cached = self.store.get("pending_updates")
        if info.get("updates") is not None and cached is not None:
            info["updates"]["pending_count"] = len(cached["names"])
            info["updates"]["pending"] = cached["names"][:2000]
        checked: dict[str, Any] = contract.validate("HardwareInfo", contract.scrub(info))
        return checked

    def check(self) -> None:
        """Queue the inventory when it changed or the server's copy is a day old."""
        hardware_info = self.build()
        digest = inventory_digest(hardware_info)
        stale = time.time() - float(self.store.get("inventory_sent_at", 0)) > MAX_AGE
        if digest != self.store.get("inventory_digest") or stale:
            body = {"asset_id": self._asset_id(), "hardware_info": hardware_info}
            self.outbox.replace("inventory", f"inventory-{digest[:32]}", {"digest": digest, "body": body})
            log.info("inventory changed or due; queued for upload")

    def delivered(self, payload: dict[str, Any], _data: dict[str, Any], _sent: dict[str, Any]) -> None:
        self.store.put("inventory_digest", payload["digest"])
        self.store.put("inventory_sent_at", time.time())

    def refresh_updates(self, now: float) -> None:
        """Ask the OS for its pending updates in the background, at most every UPDATES_CHECK_EVERY."""
        cached = self.store.get("pending_updates")
        if cached and now - cached["checked_at"] < UPDATES_CHECK_EVERY:
            return
        if self._updates_thread and self._updates_thread.is_alive():
            return

        def refresh() -> None:
            try:
                names = collectors.pending_updates()
            except Exception as exc:
                warn_once("updates.pending_count", f"{type(exc).__name__}: {exc}")
                self.store.put("pending_updates", {"names": [], "checked_at": time.time(), "failed": True})
                return
            self.store.put("pending_updates", {"names": names, "checked_at": time.time()})
            self._changed()

        self._updates_thread = threading.Thread(target=refresh, name="updates-check", daemon=True)
        self._updates_thread.start()
