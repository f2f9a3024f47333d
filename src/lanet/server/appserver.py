"""The application's own process: gunicorn's sync workers on a Unix socket only nginx can reach.

Started by ``lanet-server serve`` (:mod:`lanet.server.serve`), never on its own: the socket's folder
is the front end's private runtime folder, so the only peer is nginx, which hands over complete,
buffered requests. That is exactly what sync workers are good at (gunicorn's deployment guide), and
why forwarded headers are trusted for one hop: nginx overwrote them.
"""

import argparse
import os
from typing import Any

from flask import Flask

from lanet.server.frontend import UPSTREAM_TIMEOUT

#: Gunicorn's largest request line and header field; nginx already refuses anything longer.
MAX_REQUEST_LINE = 8190
MAX_HEADER_FIELDS = 32768


def run(socket_path: str, workers: int, *, access_log: bool = False) -> None:
    from gunicorn.app.base import BaseApplication

    from lanet.server.app import create_app
    from lanet.server.settings import Settings

    settings = Settings.from_env()

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"unix:{socket_path}",
                "workers": workers,
                "worker_class": "sync",
                # nginx gives up on a request after UPSTREAM_TIMEOUT; a worker stuck past that is
                # killed and replaced.
                "timeout": UPSTREAM_TIMEOUT + 15,
                "graceful_timeout": 10,
                "loglevel": "info",
                "accesslog": "-" if access_log else None,
                "errorlog": "-",
                "limit_request_line": MAX_REQUEST_LINE,
                "limit_request_fields": MAX_HEADER_FIELDS,
                "limit_request_field_size": MAX_REQUEST_LINE,
                # The socket itself is open to all (gunicorn's umask 0 at bind); its folder is what
                # lets only this account and nginx's workers in (frontend.prepare_runtime_dir).
            }
            if "control_socket_disable" in self.cfg.settings:
                # Gunicorn 27's control socket is one per user: parallel servers would fight over it.
                options["control_socket_disable"] = True
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return create_app(settings, proxy_hops=1)

    _Gunicorn().run()


def main() -> None:
    parser = argparse.ArgumentParser(prog="lanet-appserver", description=__doc__)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--workers", type=int, default=min(4, (os.cpu_count() or 1) + 1))
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args()
    run(args.socket, args.workers, access_log=args.access_log)


if __name__ == "__main__":
    main()
