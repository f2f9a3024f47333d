"""``lanet-server serve``: nginx in front, gunicorn's sync workers behind it, upkeep beside them.

This process only supervises. It writes the front end's configuration (:mod:`lanet.server.frontend`)
into a private runtime folder, starts the application on a Unix socket in that folder
(:mod:`lanet.server.appserver`), then nginx on the public address, then the maintenance loop, and
waits. SIGTERM or Ctrl-C stops them in order (nginx first, so nothing new arrives; it finishes what
is in flight), and if any of them dies the others are stopped and the exit status is 1, so the
service manager restarts the whole set rather than leaving a front end without an application. Each
part runs in a session of its own so that a signal meant for this process does not reach them
directly (under systemd, use ``KillMode=mixed`` for the same reason).
"""

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

from lanet.server.frontend import (
    FrontEnd,
    FrontEndError,
    find_nginx,
    prepare_runtime_dir,
    render,
    worker_user,
)
from lanet.server.settings import Settings

log = logging.getLogger(__name__)

#: How long the application may take to bind its socket at start.
APP_START_TIMEOUT = 60.0
#: How long each part may take to stop before it is killed: longer than nginx's own
#: worker_shutdown_timeout, so a graceful stop is never cut short by this supervisor.
STOP_TIMEOUT = 25.0


def _runtime_dir() -> Path:
    """A fresh private folder per run: two servers on one machine never share a socket."""
    base = os.environ.get("LANET_RUNTIME_DIR") or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="lanet-serve-", dir=base))


def _die_with_parent() -> None:
    """Run in each child before it starts: it gets SIGTERM if this supervisor dies, even by SIGKILL,
    so no nginx is left holding the port with no application behind it (Linux prctl)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_for_socket(path: Path, app: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + APP_START_TIMEOUT
    while not path.exists():
        if app.poll() is not None:
            raise FrontEndError(f"the application exited with status {app.returncode} before serving")
        if time.monotonic() > deadline:
            raise FrontEndError(f"the application did not open {path} within {APP_START_TIMEOUT:.0f} s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    """Ask one part to stop; past STOP_TIMEOUT kill its whole process group (nginx's workers and
    gunicorn's included: each part leads a session of its own)."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("pid %d did not stop within %.0f s; killed", proc.pid, STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def serve(
    host: str,
    port: int,
    *,
    workers: int | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    access_log: bool = False,
) -> int:
    """Run until SIGTERM/SIGINT (exit 0) or until a part dies (exit 1)."""
    if sys.platform == "win32":
        raise FrontEndError("the backend runs on Linux (nginx in front of gunicorn)")
    settings = Settings.from_env()
    nginx = find_nginx()
    runtime = _runtime_dir()
    front = FrontEnd(
        host=host,
        port=port,
        app_socket=runtime / "app.sock",
        runtime_dir=runtime,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_proxies,
        certfile=os.path.abspath(certfile) if certfile else None,
        keyfile=os.path.abspath(keyfile) if keyfile else None,
        access_log=access_log,
        max_connections=settings.max_connections,
        max_connections_per_address=settings.max_connections_per_address,
        worker_user=worker_user(),
    )
    stop = threading.Event()

    def _request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    app = proxy = upkeep = None
    try:
        prepare_runtime_dir(front)
        front.config_file.write_text(render(front))
        nginx_args = [nginx, "-p", str(runtime), "-c", str(front.config_file), "-e", "stderr"]
        checked = subprocess.run([*nginx_args, "-t", "-q"], capture_output=True, text=True, check=False)
        if checked.returncode != 0:
            raise FrontEndError(f"nginx refused its configuration: {checked.stderr.strip()}")
        app_args = [sys.executable, "-m", "lanet.server.appserver", "--socket", str(front.app_socket)]
        app_args += ["--workers", str(workers or min(4, (os.cpu_count() or 1) + 1))]
        if access_log:
            app_args.append("--access-log")
        # Each part in a session of its own: a Ctrl-C or a signal to this process group reaches this
        # supervisor only, which stops them in order (nginx first, letting it finish what is in flight).
        app = subprocess.Popen(app_args, preexec_fn=_die_with_parent, start_new_session=True)  # noqa: PLW1509 - one thread here
        _wait_for_socket(front.app_socket, app)
        proxy = subprocess.Popen(nginx_args, preexec_fn=_die_with_parent, start_new_session=True)  # noqa: PLW1509
        upkeep = subprocess.Popen(
            [sys.executable, "-m", "lanet.server.cli", "maintenance", "--loop"],
            preexec_fn=_die_with_parent,  # noqa: PLW1509
            start_new_session=True,
        )
        scheme = "https" if front.tls else "http"
        log.info("serving on %s://%s:%d (nginx in front of %s)", scheme, host, port, front.app_socket)
        parts = {"nginx": proxy, "application": app, "maintenance": upkeep}
        while not stop.wait(0.5):
            died = next((name for name, proc in parts.items() if proc.poll() is not None), None)
            if died is not None:
                log.error("%s exited with status %s; stopping", died, parts[died].returncode)
                return 1
        return 0
    finally:
        _stop(proxy, signal.SIGQUIT)  # graceful: stop accepting, finish requests in flight
        _stop(app, signal.SIGTERM)
        _stop(upkeep, signal.SIGTERM)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(runtime, ignore_errors=True)
