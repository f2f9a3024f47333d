"""Remote scripts (the seed's Script Executor): allowed types, timeouts that kill the whole process
tree, ``max_concurrent``, capped output, and at most one run per ``command_id``.

The command id goes into the ledger before anything else happens, and its status becomes ``running``
before the process starts. After a crash, a ``running`` entry is reported ``interrupted`` and never
started again; an ``accepted`` one (never started) is queued again. Results travel through the durable
outbox, so they survive the network, the server and the agent going down.
"""

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil

from lanet.agent.logs import SCRIPTS
from lanet.agent.paths import bundle_root
from lanet.agent.store import Store
from lanet.protocol.contract import Record
from lanet.protocol.limits import MAX_OUTPUT_CHARS

log = logging.getLogger(SCRIPTS)
KILL_GRACE = 3.0
ACK_WINDOW = 3600.0
_SUFFIX = {"powershell": ".ps1", "batch": ".bat", "bash": ".sh", "sh": ".sh", "python": ".py"}


class Refused(Exception):
    """The command may not or cannot run here; the message says why."""


def resolve_type(kind: str) -> str:
    """The seed's generic ``script`` type is the platform's own shell."""
    if kind == "script":
        return "powershell" if sys.platform == "win32" else "bash"
    return kind


def command_line(kind: str, script: Path, arguments: list[str]) -> list[str]:
    if kind == "powershell":
        if sys.platform == "win32":
            return [
                "powershell.exe",
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Bypass",
                "-File",
                str(script),
                *arguments,
            ]
        pwsh = shutil.which("pwsh")
        if pwsh is None:
            raise Refused("PowerShell (pwsh) is not installed on this machine")
        return [pwsh, "-NoProfile", "-NonInteractive", "-File", str(script), *arguments]
    if kind == "batch":
        if sys.platform != "win32":
            raise Refused("batch scripts run only on Windows")
        return [os.environ.get("COMSPEC", "cmd.exe"), "/c", str(script), *arguments]
    if kind in ("bash", "sh"):
        shell = shutil.which(kind)
        if shell is None:
            raise Refused(f"{kind} is not installed on this machine")
        return [shell, str(script), *arguments]
    if kind == "python":
        interpreter = python_interpreter()
        if not interpreter:
            raise Refused("no Python interpreter found for python scripts")
        return [interpreter, str(script), *arguments]
    raise Refused(f"unknown script type {kind!r}")


def python_interpreter() -> str | None:
    """The Python that runs python scripts: the agent's own, or the frozen build's ``python.exe``.

    In the frozen build ``sys.executable`` is one of the launchers, which only run the agent.
    """
    if bundle_root() is not None:
        bundled = Path(sys.executable).with_name("python.exe")
        return str(bundled) if bundled.exists() else None
    if getattr(sys, "frozen", False):
        return shutil.which("python3")
    return sys.executable


def output_encoding() -> str:
    """The console code page on Windows (what cmd and PowerShell write), UTF-8 elsewhere."""
    if sys.platform == "win32":
        import ctypes

        return f"cp{ctypes.windll.kernel32.GetOEMCP()}"
    return "utf-8"


def kill_tree(pid: int) -> None:
    """Terminate a process and all its descendants, wait briefly, then kill what is left.

    On POSIX the script runs in its own session, so the whole process group is signalled too: a
    grandchild whose parent already exited is no longer anyone's child but is still in the group.
    """
    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        family = []
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    for proc in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _gone, alive = psutil.wait_procs(family, timeout=KILL_GRACE)
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


class _Capped:
    """Reads a stream to its end, keeping the first ``limit`` bytes (never blocking the writer)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.data = bytearray()
        self.truncated = False
        self._limit = limit
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            while chunk := stream.read(8192):
                room = self._limit - len(self.data)
                if room > 0:
                    self.data += chunk[:room]
                if len(chunk) > room:
                    self.truncated = True

    def text(self, encoding: str, timeout: float = 5.0) -> str:
        self._thread.join(timeout)
        return bytes(self.data).decode(encoding, errors="replace")[:MAX_OUTPUT_CHARS]


@dataclass
class Outcome:
    status: str
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    reason: str | None = None


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
                _end_orphan(*orphan)
            self._finish(command_id, Outcome("interrupted", reason="the agent stopped while the script ran"))
        for _command_id, payload in self.store.ledger_with("accepted"):
            self._enqueue(payload)

    def submit(self, command: dict[str, Any]) -> None:
        command_id = str(command["command_id"])
        if not self.store.ledger_accept(command_id, command):
            return  # recorded before: re-offered by the server, never run twice
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
        kind = resolve_type(command["type"])
        script: str = command["script"]
        timeout = min(int(command.get("timeout") or 300), self.settings().timeout)
        self.scripts_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f"cmd-{command_id[:8]}-", suffix=_SUFFIX[kind], dir=self.scripts_dir
        )
        path = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\r\n" if kind == "batch" else "\n") as handle:
                handle.write(script)
            argv = command_line(kind, path, [str(a) for a in command.get("arguments") or []])
            digest = hashlib.sha256(script.encode()).hexdigest()[:16]
            log.info(
                "command %s: %s script (%d chars, sha256 %s), timeout %d s",
                command_id,
                kind,
                len(script),
                digest,
                timeout,
            )
            self.store.ledger_set(command_id, "running")  # before the process exists: at most once
            started = time.time()
            proc = subprocess.Popen(  # noqa: S603 - the technician's script, as the seed intends
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.scripts_dir,
                start_new_session=os.name == "posix",
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
                | getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
            with self._lock:
                self._running[command_id] = proc.pid
            with contextlib.suppress(psutil.Error):
                self.store.ledger_process(command_id, proc.pid, psutil.Process(proc.pid).create_time())
            if proc.stdout is None or proc.stderr is None:  # pragma: no cover - PIPE always gives streams
                raise RuntimeError("no pipes to the script")
            out, err = _Capped(proc.stdout, MAX_OUTPUT_CHARS), _Capped(proc.stderr, MAX_OUTPUT_CHARS)
            timed_out = False
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_tree(proc.pid)
                proc.wait()
            if os.name == "posix" and not timed_out:
                # The script is done; anything it left running in its session goes with it.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            finished = time.time()
            encoding = output_encoding()
            stopped = self._stopping and proc.returncode != 0
            status = (
                "timed_out"
                if timed_out
                else "interrupted"
                if stopped
                else "succeeded"
                if proc.returncode == 0
                else "failed"
            )
            reason = (
                f"killed after the {timeout} s timeout"
                if timed_out
                else "the agent was stopped"
                if stopped
                else None
            )
            outcome = Outcome(
                status,
                proc.returncode,
                out.text(encoding),
                err.text(encoding),
                out.truncated,
                err.truncated,
                started,
                finished,
                reason,
            )
            log.info(
                "command %s: %s, exit %s, %.1f s, output %d/%d chars%s",
                command_id,
                status,
                proc.returncode,
                finished - started,
                len(outcome.stdout),
                len(outcome.stderr),
                " (truncated)" if outcome.stdout_truncated or outcome.stderr_truncated else "",
            )
            return outcome
        finally:
            path.unlink(missing_ok=True)

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

    def busy(self) -> int:
        with self._lock:
            return len(self._running)

    def shutdown(self) -> None:
        """Stop taking work; running scripts are killed and reported ``interrupted``."""
        with self._lock:
            self._stopping = True
            pids = [pid for pid in self._running.values() if pid]
        for pid in pids:
            kill_tree(pid)


def _end_orphan(pid: int, created: float) -> None:
    """End a script a crashed agent left running, if that pid is still that process (not a reuse)."""
    try:
        same = abs(psutil.Process(pid).create_time() - created) < 0.01
    except psutil.Error:
        return
    if same:
        log.warning("ending process %d left running by the previous agent", pid)
        kill_tree(pid)


def _parse(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp).timestamp()
