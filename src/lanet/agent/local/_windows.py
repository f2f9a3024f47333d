"""The local channel on Windows: a named pipe, the caller known by its access token.

The pipe's security descriptor gives SYSTEM and Administrators full control and interactive users
(the person at the PC, whose tray asks) read and write; remote clients are refused
(``PIPE_REJECT_REMOTE_CLIENTS``), so the channel never leaves the machine. Who is asking comes from
the client's token (the service impersonates the pipe client just long enough to read its user),
never from the request. A read that does not finish within the deadline is cut off by disconnecting
the pipe, which fails the blocked read.
"""

import contextlib
import logging
import threading
import time
from typing import Any

from lanet.agent.local.connection import Gate, serve
from lanet.agent.local.framing import BUSY, NOT_RUNNING, LocalError, encode_answer
from lanet.agent.local.service import Caller, LocalService

log = logging.getLogger("lanet.agent.local")

#: SYSTEM and Administrators: all; interactive users: read and write. No one else.
PIPE_SDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;IU)"
_REJECT_REMOTE_CLIENTS = 0x8
_BUFFER = 65536
_ERROR_PIPE_BUSY = 231
_ERROR_FILE_NOT_FOUND = 2
_ERROR_PIPE_CONNECTED = 535


def _security_attributes() -> Any:
    import win32security

    attributes = win32security.SECURITY_ATTRIBUTES()
    attributes.SECURITY_DESCRIPTOR = win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
        PIPE_SDDL, win32security.SDDL_REVISION_1
    )
    return attributes


def pipe_client(handle: Any) -> Caller:
    """The pipe client's account (``DOMAIN\\user``) from its token; its process's owner otherwise."""
    import pywintypes
    import win32api
    import win32pipe
    import win32security

    try:
        win32pipe.ImpersonateNamedPipeClient(handle)
        try:
            token = win32security.OpenThreadToken(
                win32api.GetCurrentThread(), win32security.TOKEN_QUERY, True
            )
            sid = win32security.GetTokenInformation(token, win32security.TokenUser)[0]
            display = None
            with contextlib.suppress(pywintypes.error):
                display = win32api.GetUserNameEx(3) or None  # NameDisplay: "Juan Pérez"
        finally:
            win32security.RevertToSelf()
        name, domain, _kind = win32security.LookupAccountSid(None, sid)
        return Caller(f"{domain}\\{name}" if domain else name, display)
    except pywintypes.error as exc:
        log.info("the pipe client's token could not be read (%s); asking its process", exc.strerror)
    import psutil

    pid = win32pipe.GetNamedPipeClientProcessId(handle)
    owner = psutil.Process(pid).username()
    if not owner:
        raise LocalError("no se pudo identificar al usuario que pregunta")
    return Caller(owner)


class PipeServer:
    """Accepts connections on ``name`` in a thread; each is answered in its own short-lived thread."""

    def __init__(self, name: str, service: LocalService, gate: Gate | None = None) -> None:
        self.name = name
        self.service = service
        self.gate = gate or Gate()
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
        self._thread = threading.Thread(target=self._accept, name="local-pipe", daemon=True)
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
                if exc.winerror != _ERROR_PIPE_CONNECTED:  # the client came first: fine
                    log.warning("tray pipe: %s", exc.strerror)
                    handle.Close()
                    handle = self._instance()
                    continue
            if self._stopping.is_set():
                handle.Close()
                break
            if self.gate.connections.acquire(blocking=False):
                threading.Thread(
                    target=self._serve, args=(handle,), name="local-request", daemon=True
                ).start()
            else:
                self._refuse(handle)
            handle = self._instance()  # the next client finds an instance waiting

    @staticmethod
    def _refuse(handle: Any) -> None:
        import pywintypes
        import win32file
        import win32pipe

        with contextlib.suppress(pywintypes.error):
            win32file.WriteFile(handle, encode_answer(error=BUSY))
            win32file.FlushFileBuffers(handle)
        with contextlib.suppress(pywintypes.error):
            win32pipe.DisconnectNamedPipe(handle)
        handle.Close()

    def _serve(self, handle: Any) -> None:
        import pywintypes
        import win32file
        import win32pipe

        done = threading.Event()
        cut = threading.Event()

        def cut_off() -> None:  # a peer that does not finish its request in time
            if not done.is_set():
                cut.set()
                with contextlib.suppress(pywintypes.error):
                    win32pipe.DisconnectNamedPipe(handle)

        def receive(size: int, timeout: float) -> bytes:
            timer = threading.Timer(timeout, cut_off)
            timer.start()
            try:
                _rc, chunk = win32file.ReadFile(handle, min(size, _BUFFER))
            except pywintypes.error:
                if cut.is_set():
                    raise TimeoutError from None
                return b""
            finally:
                timer.cancel()
            return bytes(chunk)

        try:
            answer = serve(receive, lambda: pipe_client(handle), self.service, self.gate)
            done.set()
            win32file.WriteFile(handle, answer)
            win32file.FlushFileBuffers(handle)
        except pywintypes.error as exc:
            log.info("tray pipe client went away: %s", exc.strerror)
        finally:
            done.set()
            with contextlib.suppress(pywintypes.error):
                win32pipe.DisconnectNamedPipe(handle)
            handle.Close()
            self.gate.connections.release()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError), open(self.name, "r+b", buffering=0):
            pass  # a connection wakes the accepting thread
        if self._thread is not None:
            self._thread.join(5)


def exchange(name: str, request: bytes, timeout: float) -> bytes:
    """Client side: send one request, read the answer line. Waits for a free instance."""
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
                raise LocalError(NOT_RUNNING) from None
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
