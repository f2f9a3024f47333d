"""The tray channel on Windows: a local named pipe served by the agent service.

The pipe's security descriptor gives SYSTEM and Administrators full control and interactive users
(the person at the PC, whose tray asks) read and write; remote clients are refused
(``PIPE_REJECT_REMOTE_CLIENTS``), so the channel never leaves the machine. Each connection carries one
request line and one answer line (:func:`lanet.agent.ipc.answer`), as the Unix socket does.
"""

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from lanet.agent.ipc import MAX_REQUEST, NOT_RUNNING, IpcError, answer

if TYPE_CHECKING:
    from lanet.agent.ipc import Handlers

log = logging.getLogger("lanet.agent.ipc")

#: SYSTEM and Administrators: all; interactive users: read and write. No one else.
PIPE_SDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;IU)"
_REJECT_REMOTE_CLIENTS = 0x8
_BUFFER = 65536
_ERROR_PIPE_BUSY = 231
_ERROR_FILE_NOT_FOUND = 2


def _security_attributes() -> Any:
    import win32security

    attributes = win32security.SECURITY_ATTRIBUTES()
    attributes.SECURITY_DESCRIPTOR = win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
        PIPE_SDDL, win32security.SDDL_REVISION_1
    )
    return attributes


class PipeServer:
    """Accepts connections on ``name`` in a thread; each is answered in its own short-lived thread."""

    def __init__(self, name: str, handlers: "Handlers") -> None:
        self.name = name
        self.handlers = handlers
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._attributes = _security_attributes()
        self._first = self._instance()  # fail here, in the caller, if the pipe cannot be made

    def _instance(self) -> Any:
        import win32pipe

        return win32pipe.CreateNamedPipe(
            self.name,
            win32pipe.PIPE_ACCESS_DUPLEX,
            win32pipe.PIPE_TYPE_BYTE
            | win32pipe.PIPE_READMODE_BYTE
            | win32pipe.PIPE_WAIT
            | _REJECT_REMOTE_CLIENTS,
            win32pipe.PIPE_UNLIMITED_INSTANCES,
            _BUFFER,
            _BUFFER,
            0,
            self._attributes,
        )

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._accept, name="ipc-pipe", daemon=True)
        self._thread.start()
        return self._thread

    def _accept(self) -> None:
        import pywintypes
        import win32pipe

        handle = self._first
        while not self._stopping.is_set():
            try:
                win32pipe.ConnectNamedPipe(handle, None)
            except pywintypes.error as exc:
                if exc.winerror != 535:  # ERROR_PIPE_CONNECTED: the client came first, fine
                    log.warning("tray pipe: %s", exc.strerror)
                    handle.Close()
                    handle = self._instance()
                    continue
            if self._stopping.is_set():
                handle.Close()
                break
            threading.Thread(target=self._serve, args=(handle,), name="ipc-request", daemon=True).start()
            handle = self._instance()  # the next client finds an instance waiting

    def _serve(self, handle: Any) -> None:
        import pywintypes
        import win32file
        import win32pipe

        try:
            raw = b""
            while b"\n" not in raw and len(raw) <= MAX_REQUEST:
                _rc, chunk = win32file.ReadFile(handle, _BUFFER)
                if not chunk:
                    break
                raw += chunk
            win32file.WriteFile(handle, answer(self.handlers, raw.split(b"\n", 1)[0]))
            win32file.FlushFileBuffers(handle)
        except pywintypes.error as exc:
            log.info("tray pipe client went away: %s", exc.strerror)
        finally:
            with contextlib.suppress(pywintypes.error):
                win32pipe.DisconnectNamedPipe(handle)
            handle.Close()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError), open(self.name, "r+b", buffering=0):
            pass  # a connection wakes the accepting thread
        if self._thread is not None:
            self._thread.join(5)


def exchange(name: str, request: bytes, timeout: float) -> bytes:
    """Client side: send one request line, read the answer line. Waits for a free instance."""
    import pywintypes
    import win32file
    import win32pipe

    deadline = time.monotonic() + min(timeout, 5.0)
    while True:
        try:
            handle = win32file.CreateFile(
                name,
                win32file.GENERIC_READ | win32file.GENERIC_WRITE,
                0,
                None,
                win32file.OPEN_EXISTING,
                0,
                None,
            )
            break
        except pywintypes.error as exc:
            if exc.winerror not in (_ERROR_PIPE_BUSY, _ERROR_FILE_NOT_FOUND) or time.monotonic() > deadline:
                raise IpcError(NOT_RUNNING) from None
            if exc.winerror == _ERROR_PIPE_BUSY:
                with contextlib.suppress(pywintypes.error):
                    win32pipe.WaitNamedPipe(name, 500)
            else:
                time.sleep(0.05)  # between two instances of a busy server
    try:
        win32file.WriteFile(handle, request)
        reply = b""
        while not reply.endswith(b"\n"):
            try:
                _rc, chunk = win32file.ReadFile(handle, _BUFFER)
            except pywintypes.error:  # the server closed its end: the answer is complete
                break
            if not chunk:
                break
            reply += chunk
        return reply
    finally:
        handle.Close()
