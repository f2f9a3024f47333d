"""The tray channel on Linux and macOS: a Unix socket the desktop user can reach.

The socket is world-writable on purpose: the tray runs as whichever user sits at the PC, and the
channel only lets it ask (:mod:`lanet.agent.ipc` lists what); credentials never cross it.
"""

import contextlib
import os
import socketserver
import threading
from pathlib import Path

from lanet.agent.ipc import MAX_REQUEST, Handlers, answer


class _Handler(socketserver.StreamRequestHandler):
    server: "SocketServer"

    def handle(self) -> None:
        self.wfile.write(answer(self.server.handlers, self.rfile.readline(MAX_REQUEST + 1)))


class SocketServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The Unix-socket channel."""

    daemon_threads = True

    def __init__(self, address: str, handlers: Handlers) -> None:
        path = Path(address)
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.handlers = handlers
        super().__init__(str(path), _Handler)
        # The desktop user's tray must reach it; it can only ask, never read credentials.
        os.chmod(path.parent, 0o755)  # noqa: S103 - the tray runs as the desktop user
        os.chmod(path, 0o666)  # noqa: S103 - likewise; it can ask, not read secrets
        self.path = path

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="ipc", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
