"""OS updates (patch management): scanning what the OS would install, through the outbox.

The scan runs in a short-lived worker process (:mod:`lanet.agent.patches.worker`), started by the
service (:mod:`lanet.agent.patches.manager`) on a schedule and when a technician asks, and killed at
a hard timeout: a package manager or the Windows Update Agent that hangs never hangs the service.
Per-OS code sits behind :func:`scan_os`: the Windows Update Agent (:mod:`lanet.agent.patches.wua`)
apt on Debian and Ubuntu (:mod:`lanet.agent.patches.apt`) and dnf on Fedora and the RHEL family
(:mod:`lanet.agent.patches.dnf`).
"""

import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lanet.agent.outbox import Kind
from lanet.agent.store import Store
from lanet.protocol import contract
from lanet.protocol.limits import MAX_SCAN_ITEMS

#: The outbox kinds of scan results and install reports: the worker writes them, the service sends
#: them (the service registers the scans' kind with the handler that keeps the plan in the answer).
SCANS = Kind("patch_scan", "/agents/patches/scan", priority=6, precious=True)
REPORTS = Kind("patch_report", "/agents/patches/report", priority=2, precious=True)
#: Store keys: when the last scan finished, a technician's request for one now, the server's plan.
LAST_SCAN = "patches.last_scan"
SCAN_REQUESTED = "patches.scan_requested"
PLAN = "patches.plan"
#: The KBs of the updates in the last scan (by update id): what verifies them in QFE after a reboot.
KBS = "patches.kbs"


@dataclass
class OsScan:
    source: str | None
    items: list[dict[str, Any]] = field(default_factory=list)
    reboot_pending: bool = False
    reboot_sources: list[str] = field(default_factory=list)
    error: str | None = None


def scan_os() -> OsScan:
    """What this OS would install now, from its own update source."""
    if sys.platform == "win32":
        from lanet.agent.patches import wua

        try:
            return wua.scan()
        except (wua.WuaUnavailable, wua.WuaError) as exc:
            return OsScan("windows_update", error=str(exc))
    source = linux_source()
    if source == "apt":
        from lanet.agent.patches import apt

        try:
            return apt.scan()
        except apt.AptError as exc:
            return OsScan("apt", error=str(exc))
    if source == "dnf":
        from lanet.agent.patches import dnf

        try:
            return dnf.scan()
        except dnf.DnfError as exc:
            return OsScan("dnf", error=str(exc))
    return OsScan(None, error="no supported package manager (apt, dnf) on this system")


def linux_source() -> str | None:
    """This system's package manager: apt where both are installed (a Debian host with dnf for
    building RPMs), else dnf, else None."""
    from shutil import which

    if which("apt-get"):
        return "apt"
    return "dnf" if which("dnf") else None


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def queue_report(
    store: Store, asset_id: str, revision: str, results: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """Validate one PatchReport (an install run, a reboot step, a verification) and put it in the
    outbox; ``extra`` carries ``dry_run``, ``reboot_pending`` and ``reboot``."""
    report_id = str(uuid.uuid4())
    body = {
        "asset_id": asset_id,
        "report_id": report_id,
        "at": now_iso(),
        "plan_revision": revision,
        "results": results,
        **extra,
    }
    checked: dict[str, Any] = contract.validate("PatchReport", body)
    store.enqueue(REPORTS.name, report_id, checked, REPORTS.priority, precious=REPORTS.precious)
    return checked


def queue_scan(
    store: Store, asset_id: str, found: OsScan, seconds: float, auto_update: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Validate one scan and put it in the outbox; a scan too large for the contract is cut, and
    says so, rather than lost. ``auto_update``: the Windows Update settings as the agent left them."""
    items = found.items
    error = found.error
    if len(items) > MAX_SCAN_ITEMS:
        items = items[:MAX_SCAN_ITEMS]
        error = f"{len(found.items)} updates found; the first {MAX_SCAN_ITEMS} are listed"
    scan_id = str(uuid.uuid4())
    body = contract.drop_none(
        {
            "asset_id": asset_id,
            "scan_id": scan_id,
            "scanned_at": now_iso(),
            "source": found.source,
            "items": items,
            "reboot_pending": found.reboot_pending,
            "reboot_sources": found.reboot_sources,
            "error": error[:1000] if error else None,
            "duration_ms": max(0, int(seconds * 1000)),
            "auto_update": auto_update,
        }
    )
    checked: dict[str, Any] = contract.validate("PatchScan", body)
    store.enqueue(SCANS.name, scan_id, checked, SCANS.priority, precious=SCANS.precious)
    store.put(LAST_SCAN, time.time())
    store.put(KBS, {i["update_id"]: i["kb"] for i in checked["items"] if i.get("kb")})
    return checked
