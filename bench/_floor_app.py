"""The floor: an empty Flask JSON route on gunicorn sync workers bound to a Unix socket, as
``lanet.server.appserver`` runs the real application. ``python _floor_app.py SOCKET WORKERS``."""

import sys
from typing import Any

from flask import Flask, jsonify
from gunicorn.app.base import BaseApplication

app = Flask(__name__)


@app.post("/floor")
def floor() -> Any:
    return jsonify(success=True, data={})


class _Floor(BaseApplication):  # type: ignore[misc]
    def load_config(self) -> None:
        self.cfg.set("bind", f"unix:{sys.argv[1]}")
        self.cfg.set("workers", int(sys.argv[2]))
        self.cfg.set("worker_class", "sync")
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        return app


if __name__ == "__main__":
    _Floor().run()
