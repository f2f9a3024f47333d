"""Remote scripts (the seed's Script Executor), the policy half: allowed types, the timeout ceiling,
``max_concurrent``, and at most one run per ``command_id``. Running one script as a process (its
interpreter, capped output, a timeout that kills the whole process tree) is :mod:`.process`'s.

The command id goes into the ledger before anything else happens, and its status becomes ``running``
before the process starts. After a crash, a ``running`` entry is reported ``interrupted`` and never
started again; an ``accepted`` one (never started) is queued again. Results travel through the durable
outbox, so they survive the network, the server and the agent going down.
"""

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

import lanet
from lanet.agent.executor.process import (
    Outcome,
    Refused,
    command_line,
    end_orphan,
    kill_tree,
    resolve_type,
    run_script,
)
from lanet.agent.logs import SCRIPTS
from lanet.agent.store import Store
from lanet.protocol import contract
from lanet.protocol.contract import Record

__all__ = ["Executor", "Outcome", "Refused", "checked_result"]

log = logging.getLogger(SCRIPTS)
ACK_WINDOW = 3600.0


def checked_result(result: dict[str, Any]) -> dict[str, Any]:
    """A result as the outbox sends it: validated with the contract first. One that does not fit is a
    bug of ours, reported as a failure that says so instead of a result the server would refuse."""
    try:
        checked = contract.validate("CommandResult", result)
    except contract.ContractError as exc:
        log.error("the result of command %s does not fit the contract: %s", result["command_id"], exc)
        reason = f"the agent built an invalid result: {exc.listed(3)}"[:1000]
        checked = contract.validate(
            "CommandResult", {"command_id": result["command_id"], "status": "failed", "reason": reason}
        )
    cleaned: dict[str, Any] = contract.drop_none(checked)
    return cleaned


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class Executor:
    def __init__(
        self,
        store: Store,
        scripts_dir: Path,
        settings: Callable[[], Record],
        report: Callable[[dict[str, Any]], None],
    ) -> None:
        self.store = store
        self.scripts_dir = scripts_dir
        self.settings = settings
        self.report = report
        self._lock = threading.Lock()
        self._waiting: deque[dict[str, Any]] = deque()
        self._running: dict[str, int | None] = {}
        self._stopping = False

    # --- intake -----------------------------------------------------------------------------------
    def recover(self) -> None:
        """After a restart: report what died mid-run, queue what never started."""
        for command_id, _payload in self.store.ledger_with("running"):
            log.warning("command %s was running when the agent stopped: reported interrupted", command_id)
            orphan = self.store.ledger_orphan(command_id)
            if orphan is not None:
                end_orphan(*orphan)
            self._finish(command_id, Outcome("interrupted", reason="the agent stopped while the script ran"))
        for _command_id, payload in self.store.ledger_with("accepted"):
            self._take(payload)

    def submit(self, offered: Any) -> None:
        """Take one command as the server offered it: checked against the contract here, so one
        this agent cannot read is refused and reported on its own (when it has an id to report
        under) instead of failing the whole answer it came in."""
        command_id = offered.get("command_id") if isinstance(offered, dict) else None
        if not isinstance(command_id, str) or not 1 <= len(command_id) <= 64:
            shape = sorted(map(str, offered))[:10] if isinstance(offered, dict) else type(offered).__name__
            log.warning("a command without a usable command_id was ignored (%s)", shape)  # no script text
            return
        if not self.store.ledger_accept(command_id, offered):
            return  # recorded before: re-offered by the server, never run twice
        self._take(offered)

    def _take(self, offered: dict[str, Any]) -> None:
        """Run a recorded command, or say why it will not run."""
        command_id = offered["command_id"]
        try:
            command: dict[str, Any] = contract.validate_field("HeartbeatResponse", "commands", [offered])[0]
        except contract.ContractError as exc:
            log.warning("command %s refused: it does not fit this agent: %s", command_id, exc.listed(3))
            reason = f"this agent ({lanet.__version__}) cannot read the command: {exc.listed(3)}"
            self._finish(command_id, Outcome("refused", reason=reason[:1000]))
            return
        try:
            self._check(command)
        except Refused as exc:
            log.warning("command %s refused: %s", command_id, exc)
            self._finish(command_id, Outcome("refused", reason=str(exc)))
            return
        expires = command.get("expires_at")
        if expires and _parse(expires) <= time.time():
            self._finish(command_id, Outcome("expired", reason="expired before the agent could run it"))
            return
        self._enqueue(command)

    def _check(self, command: dict[str, Any]) -> None:
        settings = self.settings()
        if not settings.enabled:
            raise Refused("remote scripts are disabled on this agent (scripts.enabled is false)")
        kind = resolve_type(str(command.get("type")))
        if kind not in settings.allowed_types:
            raise Refused(
                f"script type {kind!r} is not allowed here (scripts.allowed_types: "
                f"{', '.join(settings.allowed_types)})"
            )
        command_line(kind, Path("probe"), [])  # raises Refused when the interpreter is missing

    def _enqueue(self, command: dict[str, Any]) -> None:
        with self._lock:
            self._waiting.append(command)
        self._pump()

    def _pump(self) -> None:
        with self._lock:
            while (
                self._waiting and not self._stopping and len(self._running) < self.settings().max_concurrent
            ):
                command = self._waiting.popleft()
                self._running[command["command_id"]] = None
                threading.Thread(
                    target=self._run, args=(command,), name=f"script-{command['command_id'][:8]}", daemon=True
                ).start()

    # --- running ----------------------------------------------------------------------------------
    def _run(self, command: dict[str, Any]) -> None:
        command_id = command["command_id"]
        try:
            outcome = self._execute(command)
        except Exception as exc:  # never lose a result to a bug of ours
            log.exception("command %s failed to run", command_id)
            outcome = Outcome(
                "failed", reason=f"the agent could not run the script: {type(exc).__name__}: {exc}"
            )
        with self._lock:
            self._running.pop(command_id, None)
        self._finish(command_id, outcome)
        self._pump()

    def _execute(self, command: dict[str, Any]) -> Outcome:
        command_id = command["command_id"]
        self.store.ledger_set(command_id, "running")  # before the process exists: at most once

        def started(pid: int) -> None:
            with self._lock:
                self._running[command_id] = pid
            with contextlib.suppress(psutil.Error):
                self.store.ledger_process(command_id, pid, psutil.Process(pid).create_time())

        return run_script(
            command_id,
            resolve_type(command["type"]),
            command["script"],
            [str(a) for a in command.get("arguments") or []],
            min(int(command.get("timeout") or 300), self.settings().timeout),
            self.scripts_dir,
            started=started,
            stopping=lambda: self._stopping,
        )

    def _finish(self, command_id: str, outcome: Outcome) -> None:
        result = {
            "command_id": command_id,
            "status": outcome.status,
            "exit_code": outcome.exit_code,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "stdout_truncated": outcome.stdout_truncated,
            "stderr_truncated": outcome.stderr_truncated,
            "started_at": _iso(outcome.started_at),
            "finished_at": _iso(outcome.finished_at),
            "reason": outcome.reason,
        }
        self.report(result)
        self.store.ledger_set(command_id, "done")

    # --- state ------------------------------------------------------------------------------------
    def acks(self) -> list[str]:
        """Recently recorded commands, for the heartbeat: the server stops offering them."""
        return self.store.ledger_recent(time.time() - ACK_WINDOW)

    def shutdown(self) -> None:
        """Stop taking work; running scripts are killed and reported ``interrupted``."""
        with self._lock:
            self._stopping = True
            pids = [pid for pid in self._running.values() if pid]
        for pid in pids:
            kill_tree(pid)


def _parse(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp).timestamp()
