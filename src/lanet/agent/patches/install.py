"""One install run: the plan's approved updates, inside the maintenance window (or at once when a
technician said so), each installed and then verified against what the package database says.

On Windows, the Windows Update Agent downloads and installs the updates by ``UpdateID`` and says
per update whether it succeeded and whether it needs a reboot (:mod:`lanet.agent.patches.wua`).
On apt (Debian and Ubuntu): ``apt-get update``; the dry run of the whole plan (reported as it is);
then one ``apt-get install --only-upgrade package=version`` per update, so one that fails never
keeps the others from installing; then ``dpkg-query`` for the version on disk. A package manager
that says it installed what is not there is reported as ``not_upgraded``, not as a success. An
update installed that needs a reboot is ``reboot_pending``.
"""

import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lanet.agent.patches import REPORTS
from lanet.agent.store import Store
from lanet.protocol import contract
from lanet.protocol.maintenance_window import MaintenanceWindow


class OutsideWindow(Exception):
    """Not inside the maintenance window and not asked for now: nothing is installed."""


def window_of(plan: dict[str, Any]) -> MaintenanceWindow:
    return MaintenanceWindow(plan["window_start"], int(plan["window_minutes"]), tuple(plan["window_days"]))


def _result(update_id: str, state: str, reason: str = "", **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = contract.drop_none(
        {"update_id": update_id, "state": state, "reason": reason[:1000], **extra}
    )
    return result


def _apt_results(targets: Sequence[str], options: Sequence[str]) -> tuple[list[dict[str, Any]], str, bool]:
    from lanet.agent.patches import apt

    try:
        apt.refresh(options)
    except apt.AptError as exc:
        return [_result(t, "failed", f"apt-get update failed: {exc}") for t in targets], "", False
    dry = apt.dry_run(targets, options)
    results = []
    for target in targets:
        package, _, version = target.partition("=")
        done = apt.install_one(target, options)
        on_disk = apt.installed_version(package)
        if done.ok and on_disk == version:
            results.append(_result(target, "installed", installed_version=on_disk))
        elif done.ok:
            said = f"apt-get reported success, but dpkg has {on_disk or 'nothing'} installed, not {version}"
            results.append(_result(target, "not_upgraded", said, installed_version=on_disk))
        else:
            code = None if done.exit_code is None else str(done.exit_code)
            results.append(_result(target, "failed", done.output, error_code=code, installed_version=on_disk))
    pending, _sources = apt.reboot_pending()
    asked = apt.reboot_packages()
    for result in results:
        package = result["update_id"].partition("=")[0]
        if (
            result["state"] == "installed"
            and pending
            and (package in asked or apt.REBOOT_PACKAGES.match(package))
        ):
            result["state"], result["reason"] = "reboot_pending", "installed; takes effect after a reboot"
    return results, dry, pending


def _wua_results(targets: Sequence[str]) -> tuple[list[dict[str, Any]], str, bool]:
    from lanet.agent.patches import wua

    try:
        done = wua.install(list(targets))
    except (wua.WuaUnavailable, wua.WuaError) as exc:
        return [_result(t, "failed", str(exc)) for t in targets], "", False
    results = [_result(r.update_id, r.state, r.reason, error_code=r.error_code) for r in done]
    return results, "", any(r.state == "reboot_pending" for r in done)


def run_install(
    store: Store, asset_id: str, plan: dict[str, Any], *, local_now: datetime, options: Sequence[str] = ()
) -> dict[str, Any] | None:
    """Install the plan's updates now, if the window allows; returns the queued report (None when
    the plan has nothing to install)."""
    window = window_of(plan)
    if not plan.get("now") and not window.contains(local_now):
        raise OutsideWindow(
            f"outside the maintenance window ({window.start} for {window.minutes} min); nothing installed"
        )
    targets = list(plan.get("install") or [])
    if not targets:
        return None
    if sys.platform == "win32":
        results, dry, pending = _wua_results(targets)
    else:
        results, dry, pending = _apt_results(targets, options)
    report_id = str(uuid.uuid4())
    body = {
        "asset_id": asset_id,
        "report_id": report_id,
        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "plan_revision": plan["revision"],
        "results": results,
        "dry_run": dry[-20_000:],
        "reboot_pending": pending,
    }
    checked: dict[str, Any] = contract.validate("PatchReport", body)
    store.enqueue(REPORTS.name, report_id, checked, REPORTS.priority, precious=REPORTS.precious)
    return checked
