"""The reboot that installed updates wait for: when it happens, who is asked, and what the server
is told.

The install run records what waits (:func:`record_pending`): the plan's revision and reboot policy,
the updates with the version each installed, the boot it happened in, and the deadline. The service
then follows the policy on every tick (:meth:`Reboots.tick`):

- ``never``: the machine is never restarted by the agent; the updates stay ``reboot_pending`` until
  someone restarts it;
- ``in_window``: restarted inside the next maintenance window, with the OS's own warning first;
- ``ask_user``: the tray asks the logged-in user (:meth:`Reboots.prompt`, which the tray's status
  poll reads), who restarts now or puts it off (at most ``max_deferrals`` times, each for
  :data:`DEFER_FOR`); at the deadline the machine
  restarts anyway, with the OS's warning.

The service never restarts the machine while the patch worker runs (an install half-way would
leave the packages broken): its ticks wait for the worker to end.

Each step (asked, deferred, restarting, who) reaches the server as a report of its own, so the
server's audit says who restarted a customer's PC and why. A boot newer than the recorded one means
the machine came back, whoever restarted it: the service then starts the worker's ``verify`` step
(:mod:`lanet.agent.patches.verify`), which checks each update against the OS's own records.
"""

import logging
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psutil

from lanet.agent.patches import queue_report
from lanet.agent.store import Store
from lanet.protocol import contract

log = logging.getLogger("lanet.agent.patches")

#: Store key of what waits for a reboot.
AWAITING = "patches.reboot"
#: How long "later" puts the question off.
DEFER_FOR = 3600.0
#: The warning the OS shows before the restart (Windows' shutdown dialog, the wall message).
WARN_SECONDS = 300
#: A restart that was started and did not happen (a user cancelled it with ``shutdown /a``) is
#: started again after this long, by the same rule.
RESTART_GRACE = 1800.0
#: A boot this much later than the recorded one is a new boot (boot times jitter by a second).
BOOT_SLACK = 5.0


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def restart_command(seconds: int, message: str) -> list[str]:
    """The OS's own delayed restart, with its warning to logged-in users."""
    if sys.platform == "win32":
        # /d p:2:17: "Operating System: Hot fix (Planned)" in the event log's shutdown reason.
        return ["shutdown.exe", "/r", "/t", str(seconds), "/c", message[:500], "/d", "p:2:17"]
    minutes = f"+{max(1, math.ceil(seconds / 60))}"
    if sys.platform == "darwin":
        return ["/sbin/shutdown", "-r", minutes]
    return ["shutdown", "-r", minutes, message]


def os_restart(seconds: int, message: str) -> None:
    """Ask the OS to restart in ``seconds``; raises OSError or CalledProcessError when it refuses."""
    subprocess.run(  # noqa: S603 - the OS's shutdown command, fixed arguments
        restart_command(seconds, message),
        capture_output=True,
        timeout=60,
        check=True,
        creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
    )


def record_pending(
    store: Store,
    plan: dict[str, Any],
    results: Sequence[dict[str, Any]],
    *,
    now: float,
    boot: float,
    kbs: dict[str, list[str]] | None = None,
) -> dict[str, Any] | None:
    """Keep what waits for a reboot after an install run (None when nothing does). Updates still
    waiting from an earlier run are kept with the new ones; the deadline is the earlier one."""
    waiting = [r for r in results if r["state"] == "reboot_pending"]
    if not waiting:
        return None
    earlier = store.get(AWAITING) or {}
    updates = {u["update_id"]: u for u in earlier.get("updates", [])}
    for result in waiting:
        updates[result["update_id"]] = contract.drop_none(
            {
                "update_id": result["update_id"],
                "version": result.get("installed_version"),
                "kb": (kbs or {}).get(result["update_id"], []),
            }
        )
    deadline = now + 3600.0 * int(plan.get("reboot_deadline_hours", 24))
    pending = {
        "revision": plan["revision"],
        "policy": plan.get("reboot", "in_window"),
        "window": {k: plan[k] for k in ("window_start", "window_minutes", "window_days")},
        "max_deferrals": int(plan.get("max_deferrals", 3)),
        "since": earlier.get("since", now),
        "boot": earlier.get("boot", boot),
        "deadline": min(deadline, float(earlier.get("deadline", deadline))),
        "deferrals": int(earlier.get("deferrals", 0)),
        "next_ask": float(earlier.get("next_ask", now)),
        "restarting_at": None,
        "updates": list(updates.values()),
    }
    store.put(AWAITING, pending)
    return pending


def queue_reboot_report(
    store: Store,
    asset_id: str,
    pending: dict[str, Any],
    action: str,
    *,
    trigger: str | None = None,
    account: str | None = None,
    reason: str,
) -> dict[str, Any]:
    """One reboot step as a report: every waiting update stays ``reboot_pending``, with the why."""
    results = [
        {"update_id": u["update_id"], "state": "reboot_pending", "reason": reason[:1000]}
        for u in pending["updates"]
    ]
    reboot = contract.drop_none(
        {
            "action": action,
            "trigger": trigger,
            "account": account[:255] if account else None,
            "deferrals": pending["deferrals"],
            "deadline": _iso(pending["deadline"]),
        }
    )
    return queue_report(store, asset_id, pending["revision"], results, reboot_pending=True, reboot=reboot)


class RebootRefused(ValueError):
    """The user's answer cannot be taken (nothing waits, no deferral left); the message, shown in
    the tray, says why in the user's words."""


class Reboots:
    """The service's side of a pending reboot (driven by :meth:`tick`, answered by the tray)."""

    def __init__(
        self,
        store: Store,
        asset_id: Callable[[], str | None],
        wake: Callable[[], None],
        *,
        clock: Callable[[], float] = time.time,
        local_now: Callable[[], datetime] = datetime.now,
        boot_time: Callable[[], float] = psutil.boot_time,
        restart: Callable[[int, str], None] = os_restart,
        allowed: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        self.asset_id = asset_id
        self.wake = wake
        self.clock = clock
        self.local_now = local_now
        self.boot_time = boot_time
        self.restart = restart
        self.allowed = allowed

    def pending(self) -> dict[str, Any] | None:
        pending: dict[str, Any] | None = self.store.get(AWAITING)
        return pending

    def rebooted(self) -> bool:
        """Whether the machine was restarted since the updates that wait were installed."""
        pending = self.pending()
        return pending is not None and self.boot_time() > float(pending["boot"]) + BOOT_SLACK

    def tick(self) -> None:
        pending = self.pending()
        if pending is None or self.rebooted():
            return
        now = self.clock()
        restarting = pending.get("restarting_at")
        if restarting is not None and now < float(restarting) + RESTART_GRACE:
            return
        policy = pending["policy"]
        if policy == "in_window":
            from lanet.agent.patches.install import window_of

            if window_of(pending["window"]).contains(self.local_now()):
                self._restart(pending, "window", None)
        elif policy == "ask_user" and now >= float(pending["deadline"]):
            self._restart(pending, "deadline", None)

    def prompt(self) -> dict[str, Any] | None:
        """What the tray asks the user now, if anything: the deadline and the deferrals left."""
        pending = self.pending()
        if pending is None or pending["policy"] != "ask_user" or self.rebooted():
            return None
        now = self.clock()
        if pending.get("restarting_at") is not None or now < float(pending["next_ask"]):
            return None
        if not pending.get("asked"):  # a tray shows it from now on: the user is asked
            pending["asked"] = True
            self._save_and_report(pending, "asked", None, None, "the user is asked to restart")
        return {
            "deadline": _iso(float(pending["deadline"])),
            "deferrals_left": max(0, int(pending["max_deferrals"]) - int(pending["deferrals"])),
            "defer_minutes": int(DEFER_FOR // 60),
            "updates": len(pending["updates"]),
        }

    def accept(self, account: str) -> dict[str, Any]:
        """The user said "restart now"."""
        pending = self.pending()
        if pending is None or self.rebooted():
            raise RebootRefused("no hay un reinicio pendiente")
        self._restart(pending, "user", account)
        return {"restarting_in": WARN_SECONDS}

    def defer(self, account: str) -> dict[str, Any]:
        """The user said "later": asked again in :data:`DEFER_FOR`, never past the deadline."""
        pending = self.pending()
        if pending is None or pending["policy"] != "ask_user" or self.rebooted():
            raise RebootRefused("no hay un reinicio que espere respuesta")
        if int(pending["deferrals"]) >= int(pending["max_deferrals"]):
            raise RebootRefused("el reinicio ya no se puede posponer")
        pending["deferrals"] = int(pending["deferrals"]) + 1
        pending["next_ask"] = min(self.clock() + DEFER_FOR, float(pending["deadline"]))
        pending["asked"] = False
        reason = f"put off by the user ({pending['deferrals']} of {pending['max_deferrals']})"
        self._save_and_report(pending, "deferred", "user", account, reason)
        return {"ask_again_at": _iso(float(pending["next_ask"])), "deferrals_left": self._left(pending)}

    @staticmethod
    def _left(pending: dict[str, Any]) -> int:
        return max(0, int(pending["max_deferrals"]) - int(pending["deferrals"]))

    def _restart(self, pending: dict[str, Any], trigger: str, account: str | None) -> None:
        if not self.allowed():
            if not pending.get("restart_refused"):
                log.warning("updates wait for a restart, which this machine's patches.allow_restart forbids")
                pending["restart_refused"] = True
                self._save_and_report(
                    pending, "blocked", trigger, account, "this machine's settings forbid restarting it"
                )
            return
        from lanet.agent.tray.i18n import choose_language, translations

        _ = translations(choose_language()).gettext
        message = _("LANET Agent: el equipo se reiniciará para terminar de instalar actualizaciones.")
        try:
            self.restart(WARN_SECONDS, message)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("the OS refused to restart: %s", exc)
            pending["restarting_at"] = self.clock()  # tried again after the grace period
            self.store.put(AWAITING, pending)
            return
        log.warning("restarting in %d s to finish installing updates (%s)", WARN_SECONDS, trigger)
        pending["restarting_at"], pending["trigger"] = self.clock(), trigger
        who = f" by {account}" if account else ""
        self._save_and_report(pending, "restarting", trigger, account, f"restart started ({trigger}{who})")

    def _save_and_report(
        self, pending: dict[str, Any], action: str, trigger: str | None, account: str | None, reason: str
    ) -> None:
        self.store.put(AWAITING, pending)
        asset_id = self.asset_id()
        if asset_id:
            queue_reboot_report(
                self.store, asset_id, pending, action, trigger=trigger, account=account, reason=reason
            )
            self.wake()
