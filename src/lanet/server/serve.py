"""``lanet-server serve``: gunicorn (sync workers) where available, Werkzeug's server elsewhere.

With certificates the server speaks HTTPS only and refuses anything below TLS 1.3. Gunicorn ignores
``--ssl-version`` for that purpose, so the minimum is set in its ``ssl_context`` hook.
"""

import logging
import os
import ssl
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from flask import Flask

from lanet.server.settings import Settings

if TYPE_CHECKING:
    from lanet.server.db import Database

log = logging.getLogger(__name__)


def tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(certfile, keyfile)
    return context


def maintenance_pass(db: "Database") -> None:
    """One round of upkeep: silent assets marked offline, overdue commands expired, old sessions gone."""
    from lanet.server.services.commands import expire_overdue
    from lanet.server.services.telemetry import mark_offline
    from lanet.server.services.users import purge_sessions

    changed = mark_offline(db)
    if changed:
        log.info("%d asset(s) now offline", changed)
    with db.session() as session:
        expired = expire_overdue(session)
        purge_sessions(session)
    if expired:
        log.info("%d command(s) expired before their asset came back", expired)


def maintenance_loop(settings: Settings, stop: threading.Event) -> None:
    """Run :func:`maintenance_pass` every ``settings.maintenance_interval`` seconds until ``stop``."""
    from lanet.server.db import Database

    db = Database(settings.database_url)
    while not stop.wait(settings.maintenance_interval):
        try:
            maintenance_pass(db)
        except Exception:
            log.exception("maintenance pass failed; retrying in %.0f s", settings.maintenance_interval)


def _spawn_maintenance() -> subprocess.Popen[bytes]:
    """Gunicorn's master forks workers, so it must not run threads (a thread holding an import or
    I/O lock at fork time deadlocks the child); upkeep runs in a process of its own instead."""
    return subprocess.Popen([sys.executable, "-m", "lanet.server.cli", "maintenance", "--loop"])


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        proc.terminate()


def serve(
    host: str,
    port: int,
    *,
    workers: int | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    access_log: bool = False,
) -> None:
    settings = Settings.from_env()
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # Windows: no gunicorn
        _serve_werkzeug(settings, host, port, certfile, keyfile)
        return

    from lanet.server.app import create_app

    helpers: list[subprocess.Popen[bytes]] = []

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": workers or min(4, (os.cpu_count() or 1) + 1),
                "worker_class": "sync",
                "timeout": 60,
                "graceful_timeout": 10,
                "loglevel": "info",
                "accesslog": "-" if access_log else None,
                "errorlog": "-",
                "when_ready": lambda _server: helpers.append(_spawn_maintenance()),
                "on_exit": lambda _server: _stop_all(helpers),
            }
            if certfile and keyfile:
                options.update(
                    certfile=certfile,
                    keyfile=keyfile,
                    ssl_context=lambda _conf, _default: tls_context(certfile, keyfile),
                )
            if "control_socket_disable" in self.cfg.settings:
                # Gunicorn 27's control socket is one per user: parallel servers would fight over it.
                options["control_socket_disable"] = True
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return create_app(settings)

    _Gunicorn().run()


def _serve_werkzeug(
    settings: Settings, host: str, port: int, certfile: str | None, keyfile: str | None
) -> None:
    from werkzeug.serving import run_simple

    from lanet.server.app import create_app

    threading.Thread(
        target=maintenance_loop, args=(settings, threading.Event()), name="maintenance", daemon=True
    ).start()
    context = tls_context(certfile, keyfile) if certfile and keyfile else None
    run_simple(host, port, create_app(settings), threaded=True, ssl_context=context)
