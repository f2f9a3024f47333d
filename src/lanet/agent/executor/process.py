"""Running one script as a process: the interpreter for its type, a temporary file, output capped
per stream, and a timeout that ends the script's whole process tree. No policy here (what may run,
how many at once, at most once): that is :mod:`lanet.agent.executor`'s.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from lanet.agent.logs import SCRIPTS
from lanet.agent.paths import bundle_root
from lanet.protocol.limits import MAX_OUTPUT_CHARS

log = logging.getLogger(SCRIPTS)
KILL_GRACE = 3.0
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

    A process that is this agent's own child is watched, never waited for: waiting reaps it, and the
    ``subprocess.Popen.wait`` that owns it would then read exit code 0, so a script killed because the
    agent stops would be reported as having succeeded.
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
    ours = [proc for proc in family if os.name == "posix" and _is_our_child(proc)]
    _gone, alive = psutil.wait_procs([p for p in family if p not in ours], timeout=KILL_GRACE)
    deadline = time.monotonic() + KILL_GRACE
    while ours and time.monotonic() < deadline:
        ours = [proc for proc in ours if not _ended(proc)]
        if ours:
            time.sleep(0.05)
    alive.extend(ours)
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def _is_our_child(proc: psutil.Process) -> bool:
    try:
        return proc.ppid() == os.getpid()
    except psutil.NoSuchProcess:
        return False


def _ended(proc: psutil.Process) -> bool:
    """Exited (a zombie until its owner reaps it) or gone."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


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


def run_script(
    command_id: str,
    kind: str,
    script: str,
    arguments: list[str],
    timeout: int,
    scripts_dir: Path,
    *,
    started: Callable[[int], None],
    stopping: Callable[[], bool],
) -> Outcome:
    """Write ``script`` to a file, run it, wait at most ``timeout`` seconds, and say how it ended.
    ``started(pid)`` is called as soon as the process exists (the ledger records it)."""
    scripts_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"cmd-{command_id[:8]}-", suffix=_SUFFIX[kind], dir=scripts_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\r\n" if kind == "batch" else "\n") as handle:
            handle.write(script)
        argv = command_line(kind, path, arguments)
        digest = hashlib.sha256(script.encode()).hexdigest()[:16]
        log.info(
            "command %s: %s script (%d chars, sha256 %s), timeout %d s",
            command_id,
            kind,
            len(script),
            digest,
            timeout,
        )
        began = time.time()
        proc = subprocess.Popen(  # noqa: S603 - the technician's script, as the seed intends
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=scripts_dir,
            start_new_session=os.name == "posix",
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
            | getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
        started(proc.pid)
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
        stopped = stopping() and proc.returncode != 0
        if timed_out:
            status, reason = "timed_out", f"killed after the {timeout} s timeout"
        elif stopped:
            status, reason = "interrupted", "the agent was stopped"
        else:
            status, reason = ("succeeded" if proc.returncode == 0 else "failed"), None
        outcome = Outcome(
            status,
            proc.returncode,
            out.text(encoding),
            err.text(encoding),
            out.truncated,
            err.truncated,
            began,
            finished,
            reason,
        )
        log.info(
            "command %s: %s, exit %s, %.1f s, output %d/%d chars%s",
            command_id,
            status,
            proc.returncode,
            finished - began,
            len(outcome.stdout),
            len(outcome.stderr),
            " (truncated)" if outcome.stdout_truncated or outcome.stderr_truncated else "",
        )
        return outcome
    finally:
        path.unlink(missing_ok=True)


def end_orphan(pid: int, created: float) -> None:
    """End a script a crashed agent left running, if that pid is still that process (not a reuse)."""
    try:
        same = abs(psutil.Process(pid).create_time() - created) < 0.01
    except psutil.Error:
        return
    if same:
        log.warning("ending process %d left running by the previous agent", pid)
        kill_tree(pid)
