"""The local channel on Linux and macOS: a Unix socket, the caller known by its peer credentials.

The socket is open to every local user on purpose (mode 0666): whoever sits at the PC runs the tray
and may report a problem. What a caller may see and do is decided by who the kernel says it is
(``SO_PEERCRED`` on Linux, ``getpeereid`` semantics through ``LOCAL_PEERCRED`` on macOS), never by
what it claims: it reads and comments only on its own tickets.
"""

import contextlib
import os
import pwd
import socket
import struct
import sys
import threading
from pathlib import Path

from lanet.agent.local.connection import Gate, serve
from lanet.agent.local.framing import BUSY, NOT_RUNNING, LocalError, encode_answer
from lanet.agent.local.service import Caller, LocalService

_SO_PEERCRED = getattr(socket, "SO_PEERCRED", 17)
_LOCAL_PEERCRED = 0x001  # macOS: struct xucred from SOL_LOCAL
_SOL_LOCAL = 0


def peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end, as the kernel recorded it at connect."""
    if sys.platform == "darwin":
        raw = sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERCRED, struct.calcsize("2iH16i"))
        return int(struct.unpack_from("2i", raw)[1])
    raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def caller_of(uid: int) -> Caller:
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return Caller(f"uid:{uid}")
    full_name = entry.pw_gecos.split(",")[0].strip() or None
    return Caller(entry.pw_name, full_name)


class SocketServer:
    """Accepts on the socket in one thread; each connection is served in a short-lived thread."""

    def __init__(self, address: str, service: LocalService, gate: Gate | None = None) -> None:
        self.path = Path(address)
        self.service = service
        self.gate = gate or Gate()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        # Any local user's tray may connect; who it is comes from the kernel (see above).
        os.chmod(self.path.parent, 0o755)  # noqa: S103 - the tray runs as the desktop user
        os.chmod(self.path, 0o666)  # noqa: S103 - likewise; identity is checked per request
        self.sock.listen(64)
        self.sock.settimeout(0.5)  # the accepting thread looks at the stop flag twice a second
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._accept, name="local-channel", daemon=True)
        self._thread.start()
        return self._thread

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            if not self.gate.connections.acquire(blocking=False):
                with contextlib.suppress(OSError):
                    conn.settimeout(1.0)
                    conn.sendall(encode_answer(error=BUSY))
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), name="local-request", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:

            def receive(size: int, timeout: float) -> bytes:
                conn.settimeout(timeout)
                try:
                    return conn.recv(size)
                except TimeoutError:
                    raise
                except OSError:
                    return b""

            uid = peer_uid(conn)
            answer = serve(receive, lambda: caller_of(uid), self.service, self.gate)
            conn.settimeout(5.0)
            conn.sendall(answer)
        except OSError:
            pass  # the client went away
        finally:
            conn.close()
            self.gate.connections.release()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


Server = SocketServer


def address(run_dir: Path) -> str:
    return str(run_dir / "agent.sock")


def exchange(address: str, request: bytes, timeout: float) -> bytes:
    """Client side: one request, the whole answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            raise LocalError(NOT_RUNNING) from None
        # A busy service answers at once and closes without reading: its answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)
