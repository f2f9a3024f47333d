"""After the reboot: each update that waited for it, checked against the OS's own records.

The worker's ``verify`` step, started by the service once the machine booted again
(:mod:`lanet.agent.patches.reboot`). On Windows the Agent's install history merged with
Win32_QuickFixEngineering (:func:`lanet.agent.patches.wua.verify`); on Linux the package database:
the version on disk must be the one installed, else the update is ``not_upgraded``. The outcome
reaches the server as one report, with the reboot step ``rebooted`` and what brought it about.
"""

import sys
from typing import Any

from lanet.agent.patches import queue_report
from lanet.agent.patches.reboot import AWAITING
from lanet.agent.store import Store
from lanet.protocol import contract


def _windows_results(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from lanet.agent.patches import wua

    try:
        history = wua.installed_history()
    except (wua.WuaUnavailable, wua.WuaError) as exc:
        return [{"update_id": u["update_id"], "state": "failed", "reason": str(exc)} for u in updates]
    return [
        contract.drop_none(
            {"update_id": r.update_id, "state": r.state, "reason": r.reason, "error_code": r.error_code}
        )
        for r in wua.verify(updates, history, wua.reboot_sources())
    ]


def _package_results(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from lanet.agent.patches.install import package_manager

    manager = package_manager()
    results = []
    for update in updates:
        package, _, version = update["update_id"].partition("=")
        on_disk = manager.installed_version(package) if manager else None
        if on_disk == version:
            results.append(
                {"update_id": update["update_id"], "state": "verified", "installed_version": on_disk}
            )
        else:
            results.append(
                contract.drop_none(
                    {
                        "update_id": update["update_id"],
                        "state": "not_upgraded",
                        "reason": f"after the reboot the package database has {on_disk or 'nothing'}, "
                        f"not {version}",
                        "installed_version": on_disk,
                    }
                )
            )
    pending = manager.reboot_pending()[0] if manager else False
    for result in results:
        if pending and result["state"] == "verified":
            result["state"], result["reason"] = "reboot_pending", "the OS still asks for a restart"
    return results


def verify_after_reboot(store: Store, asset_id: str) -> dict[str, Any] | None:
    """Verify what waited for the reboot and queue the report; None when nothing waited. What is
    still pending after this boot (a second restart needed) waits for the next one."""
    pending = store.get(AWAITING)
    if not pending:
        return None
    updates = pending["updates"]
    results = _windows_results(updates) if sys.platform == "win32" else _package_results(updates)
    reboot = {
        "action": "rebooted",
        "trigger": pending.get("trigger") or "os",
        "deferrals": pending["deferrals"],
    }
    checked = queue_report(
        store,
        asset_id,
        pending["revision"],
        results,
        reboot_pending=any(r["state"] == "reboot_pending" for r in results),
        reboot=reboot,
    )
    still = [u for u, r in zip(updates, results, strict=True) if r["state"] == "reboot_pending"]
    if still:
        import psutil

        store.put(AWAITING, {**pending, "updates": still, "boot": psutil.boot_time(), "restarting_at": None})
    else:
        store.put(AWAITING, None)
    return checked
