"""One install run: the plan's approved updates, inside the maintenance window (or at once when a
technician said so), each installed and then verified against what the package database says.

On Windows, the Windows Update Agent downloads and installs the updates by ``UpdateID`` and says
per update whether it succeeded and whether it needs a reboot (:mod:`lanet.agent.patches.wua`).
On apt (Debian and Ubuntu): ``apt-get update``; the dry run of the whole plan (reported as it is);
then one ``apt-get install --only-upgrade package=version`` per update, so one that fails never
keeps the others from installing; then ``dpkg-query`` for the version on disk. A package manager
that says it installed what is not there is reported as ``not_upgraded``, not as a success. An
update installed that needs a reboot is ``reboot_pending``, and is recorded as waiting for one
(:mod:`lanet.agent.patches.reboot` decides when, by the plan's reboot policy).

The policy's pre-install script runs first, and if it does not succeed nothing is installed; its
post-install script runs last (:mod:`lanet.agent.patches.scripts`). Both are in the report.
"""

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psutil

from lanet.agent.patches import KBS, apt, dnf, linux_source, queue_report
from lanet.agent.patches.apt import Installed
from lanet.agent.patches.reboot import record_pending
from lanet.agent.patches.scripts import failure_reason
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


class RefreshFailed(Exception):
    """The package lists could not be refreshed: nothing is installed from stale ones."""


class PackageManager(Protocol):
    """What an install run and its verification need of a Linux package manager."""

    @property
    def source(self) -> str: ...

    def refresh(self) -> None: ...
    def dry_run(self, targets: Sequence[str]) -> str: ...
    def install_one(self, target: str) -> "Installed": ...
    def installed_version(self, package: str) -> str | None: ...
    def reboot_pending(self) -> tuple[bool, list[str]]: ...
    def needs_reboot(self, package: str) -> bool: ...


@dataclass(frozen=True)
class Apt:
    """apt behind :class:`PackageManager` (``options``: extra ``-o`` settings)."""

    options: tuple[str, ...] = ()
    source: str = "apt"

    def refresh(self) -> None:
        try:
            apt.refresh(self.options)
        except apt.AptError as exc:
            raise RefreshFailed(str(exc)) from None

    def dry_run(self, targets: Sequence[str]) -> str:
        return apt.dry_run(targets, self.options)

    def install_one(self, target: str) -> "Installed":
        return apt.install_one(target, self.options)

    def installed_version(self, package: str) -> str | None:
        return apt.installed_version(package)

    def reboot_pending(self) -> tuple[bool, list[str]]:
        return apt.reboot_pending()

    def needs_reboot(self, package: str) -> bool:
        return package in apt.reboot_packages() or bool(apt.REBOOT_PACKAGES.match(package))


@dataclass(frozen=True)
class Dnf:
    """dnf behind :class:`PackageManager` (``options``: extra dnf command-line options)."""

    options: tuple[str, ...] = ()
    source: str = "dnf"

    def refresh(self) -> None:
        try:
            dnf.refresh(self.options)
        except dnf.DnfError as exc:
            raise RefreshFailed(str(exc)) from None

    def dry_run(self, targets: Sequence[str]) -> str:
        return dnf.dry_run(targets, self.options)

    def install_one(self, target: str) -> "Installed":
        return dnf.install_one(target, self.options)

    def installed_version(self, package: str) -> str | None:
        return dnf.installed_version(package, self.options)

    def reboot_pending(self) -> tuple[bool, list[str]]:
        return dnf.reboot_pending(self.options)

    def needs_reboot(self, package: str) -> bool:
        return dnf.needs_reboot(package, self.options)


def package_manager(options: Sequence[str] = ()) -> PackageManager | None:
    """This system's package manager (apt where both are installed, as on a Debian host with dnf
    for building RPMs), None when it has none the agent supports."""
    source = linux_source()
    if source == "apt":
        return Apt(tuple(options))
    if source == "dnf":
        return Dnf(tuple(options))
    return None


def _package_results(
    manager: PackageManager, targets: Sequence[str]
) -> tuple[list[dict[str, Any]], str, bool]:
    try:
        manager.refresh()
    except RefreshFailed as exc:
        return (
            [_result(t, "failed", f"refreshing the package lists failed: {exc}") for t in targets],
            "",
            False,
        )
    dry = manager.dry_run(targets)
    results = []
    for target in targets:
        package, _, version = target.partition("=")
        done = manager.install_one(target)
        on_disk = manager.installed_version(package)
        if done.ok and on_disk == version:
            results.append(_result(target, "installed", installed_version=on_disk))
        elif done.ok:
            said = (
                f"{manager.source} reported success, but the package database has "
                f"{on_disk or 'nothing'} installed, not {version}"
            )
            results.append(_result(target, "not_upgraded", said, installed_version=on_disk))
        else:
            code = None if done.exit_code is None else str(done.exit_code)
            results.append(_result(target, "failed", done.output, error_code=code, installed_version=on_disk))
    pending, _sources = manager.reboot_pending()
    for result in results:
        package = result["update_id"].partition("=")[0]
        if result["state"] == "installed" and pending and manager.needs_reboot(package):
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


def _install_os(targets: list[str], options: Sequence[str]) -> tuple[list[dict[str, Any]], str, bool]:
    if sys.platform == "win32":
        return _wua_results(targets)
    manager = package_manager(options)
    if manager is None:
        return (
            [_result(t, "failed", "no supported package manager on this system") for t in targets],
            "",
            False,
        )
    return _package_results(manager, targets)


#: Runs one of the plan's scripts (phase, its spec or None) and says how (None when there is none).
ScriptRunner = Callable[[str, dict[str, Any] | None], dict[str, Any] | None]


def run_install(
    store: Store,
    asset_id: str,
    plan: dict[str, Any],
    *,
    local_now: datetime,
    options: Sequence[str] = (),
    scripts: ScriptRunner = lambda _phase, _spec: None,
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
    runs = [run for run in (scripts("pre", plan.get("pre_script")),) if run is not None]
    if runs and runs[0]["status"] != "succeeded":
        results = [_result(t, "failed", failure_reason(runs[0])) for t in targets]
        dry, pending = "", False
    else:
        # The portal shows "downloading" while the run goes (the service sends it meanwhile).
        started = [_result(t, "downloading", "the install run started") for t in targets]
        queue_report(store, asset_id, plan["revision"], started)
        results, dry, pending = _install_os(targets, options)
        post = scripts("post", plan.get("post_script"))
        runs += [post] if post is not None else []
    extra: dict[str, Any] = {"scripts": runs} if runs else {}
    checked = queue_report(
        store, asset_id, plan["revision"], results, dry_run=dry[-20_000:], reboot_pending=pending, **extra
    )
    record_pending(store, plan, results, now=time.time(), boot=psutil.boot_time(), kbs=store.get(KBS))
    return checked
