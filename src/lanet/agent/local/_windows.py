"""The local channel on Windows: a named pipe, the caller known by its access token.

The pipe's security descriptor gives SYSTEM and Administrators full control and interactive users
(the person at the PC, whose tray asks) read and write data, but not the right to create pipe
instances (``FILE_CREATE_PIPE_INSTANCE`` shares its bit with ``FILE_APPEND_DATA``, which
``GENERIC_WRITE`` would grant): nobody else can serve the tray in the service's place. The first
instance is created with ``FILE_FLAG_FIRST_PIPE_INSTANCE``, so a squatter that came first makes the
service refuse the name instead of sharing it. Remote clients are refused
(``PIPE_REJECT_REMOTE_CLIENTS``) and the client asks for the identification level only (SQOS), so the
service can read who asks and nothing more.

All I/O is overlapped with deadlines: Windows serialises I/O on a synchronous handle, so a peer that
never finishes its request could not be cut off otherwise. Who is asking comes from the client's
token (the service impersonates the pipe client just long enough to read its user), never from the
request.
"""

import contextlib
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from lanet.agent.local.connection import Gate, serve
from lanet.agent.local.framing import BUSY, NOT_RUNNING, LocalError, encode_answer
from lanet.agent.local.service import Caller, LocalService

log = logging.getLogger("lanet.agent.local")

PIPE_PREFIX = "\\\\.\\pipe\\"

#: SYSTEM and Administrators: all. Interactive users: FILE_GENERIC_READ | FILE_WRITE_DATA |
#: FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA (0x12019b), not FILE_CREATE_PIPE_INSTANCE. No one else.
PIPE_SDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;IU)"
_REJECT_REMOTE_CLIENTS = 0x8
_FIRST_PIPE_INSTANCE = 0x00080000
_FLAG_OVERLAPPED = 0x40000000
_SQOS_IDENTIFICATION = 0x00100000 | 0x00010000  # SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION
_BUFFER = 65536
_ERROR_FILE_NOT_FOUND = 2
_ERROR_BROKEN_PIPE = 109
_ERROR_PIPE_BUSY = 231
_ERROR_NO_DATA = 232
_ERROR_PIPE_NOT_CONNECTED = 233
_ERROR_PIPE_CONNECTED = 535
_CLOSED = (_ERROR_BROKEN_PIPE, _ERROR_NO_DATA, _ERROR_PIPE_NOT_CONNECTED)
#: Refusals ("busy") answered at once; past this many the connection is just closed.
MAX_REFUSALS = 16
#: How long the service waits for a client to read its answer and hang up (seconds).
LINGER = 5.0


def _security_attributes() -> Any:
    import win32security

    attributes = win32security.SECURITY_ATTRIBUTES()
    attributes.SECURITY_DESCRIPTOR = win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
        PIPE_SDDL, win32security.SDDL_REVISION_1
    )
    return attributes


# --- overlapped I/O with deadlines ---------------------------------------------------------------
def _overlapped() -> Any:
    import pywintypes
    import win32event

    overlapped = pywintypes.OVERLAPPED()
    overlapped.hEvent = win32event.CreateEvent(None, True, False, None)
    return overlapped


def _wait(handle: Any, overlapped: Any, timeout: float) -> int:
    """Bytes moved by the pending operation; TimeoutError (after cancelling it) past ``timeout``."""
    import pywintypes
    import win32event
    import win32file

    if (
        win32event.WaitForSingleObject(overlapped.hEvent, max(0, int(timeout * 1000)))
        != win32event.WAIT_OBJECT_0
    ):
        win32file.CancelIo(handle)
        with contextlib.suppress(pywintypes.error):
            win32file.GetOverlappedResult(handle, overlapped, True)
        raise TimeoutError
    return int(win32file.GetOverlappedResult(handle, overlapped, True))


def _read(handle: Any, size: int, timeout: float) -> bytes:
    """Up to ``size`` bytes; b"" once the other end has closed."""
    import pywintypes
    import win32file

    buffer = win32file.AllocateReadBuffer(min(size, _BUFFER))
    overlapped = _overlapped()
    try:
        win32file.ReadFile(handle, buffer, overlapped)
        count = _wait(handle, overlapped, timeout)
    except pywintypes.error as exc:
        if exc.winerror in _CLOSED:
            return b""
        raise
    return bytes(buffer[:count])


def _write(handle: Any, data: bytes, timeout: float) -> None:
    """All of ``data`` within ``timeout``; TimeoutError otherwise."""
    import win32file

    deadline = time.monotonic() + timeout
    offset = 0
    while offset < len(data):
        overlapped = _overlapped()
        win32file.WriteFile(handle, data[offset : offset + _BUFFER], overlapped)
        offset += _wait(handle, overlapped, deadline - time.monotonic())


def _linger(handle: Any) -> None:
    """Wait (at most :data:`LINGER` in all) for the client to read the answer and hang up:
    disconnecting earlier would discard what it has not read yet. Whatever it still sends (the rest
    of a request refused by its header) is read and dropped a buffer at a time, so its write ends
    and it gets to the answer."""
    deadline = time.monotonic() + LINGER
    with contextlib.suppress(Exception):
        while _read(handle, _BUFFER, deadline - time.monotonic()):
            pass


def pipe_client(handle: Any) -> Caller:
    """The pipe client's account (``DOMAIN\\user``) from its token; its process's owner otherwise."""
    import pywintypes
    import win32api
    import win32pipe
    import win32security

    try:
        win32security.ImpersonateNamedPipeClient(handle)
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

    try:
        owner = psutil.Process(win32pipe.GetNamedPipeClientProcessId(handle)).username()
    except (pywintypes.error, psutil.Error):
        owner = ""
    if not owner:
        raise LocalError("no se pudo identificar al usuario que pregunta")
    return Caller(owner)


class PipeServer:
    """Accepts connections on ``name`` in a thread; each is answered in its own short-lived thread."""

    def __init__(self, name: str, service: LocalService, gate: Gate | None = None) -> None:
        self.name = name
        self.service = service
        self.gate = gate or Gate()
        self._refusals = threading.BoundedSemaphore(MAX_REFUSALS)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._attributes = _security_attributes()
        # Fail here, in the caller, if the pipe cannot be made or someone holds its name already.
        self._first = self._instance(first=True)

    def _instance(self, *, first: bool = False) -> Any:
        import win32pipe

        return win32pipe.CreateNamedPipe(
            self.name,
            win32pipe.PIPE_ACCESS_DUPLEX | _FLAG_OVERLAPPED | (_FIRST_PIPE_INSTANCE if first else 0),
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
        handle: Any = self._first
        while not self._stopping.is_set():
            try:
                if handle is None:
                    handle = self._instance()
                if not self._connect(handle):
                    continue
            except Exception as exc:  # the accepting thread never dies of one bad instance
                log.warning("tray pipe: %s", getattr(exc, "strerror", exc))
                if handle is not None:
                    with contextlib.suppress(Exception):
                        handle.Close()
                handle = None
                self._stopping.wait(1.0)
                continue
            if self.gate.connections.acquire(blocking=False):
                threading.Thread(
                    target=self._serve, args=(handle,), name="local-request", daemon=True
                ).start()
            elif self._refusals.acquire(blocking=False):
                threading.Thread(target=self._refuse, args=(handle,), name="local-busy", daemon=True).start()
            else:
                self._close(handle)
            handle = None  # the next client finds a new instance waiting
        if handle is not None:
            self._close(handle)

    def _connect(self, handle: Any) -> bool:
        """Wait for a client on ``handle``, looking at the stop flag twice a second."""
        import pywintypes
        import win32event
        import win32file
        import win32pipe

        overlapped = _overlapped()
        try:
            result = win32pipe.ConnectNamedPipe(handle, overlapped)
        except pywintypes.error as exc:
            if exc.winerror != _ERROR_PIPE_CONNECTED:
                raise
            return True
        if result == _ERROR_PIPE_CONNECTED:
            return True
        while win32event.WaitForSingleObject(overlapped.hEvent, 500) != win32event.WAIT_OBJECT_0:
            if self._stopping.is_set():
                win32file.CancelIo(handle)
                return False
        win32file.GetOverlappedResult(handle, overlapped, True)
        return True

    @staticmethod
    def _close(handle: Any) -> None:
        import pywintypes
        import win32pipe

        with contextlib.suppress(pywintypes.error):
            win32pipe.DisconnectNamedPipe(handle)
        with contextlib.suppress(pywintypes.error):
            handle.Close()

    def _refuse(self, handle: Any) -> None:
        try:
            with contextlib.suppress(Exception):
                _write(handle, encode_answer(error=BUSY), 1.0)
                _linger(handle)
        finally:
            self._close(handle)
            self._refusals.release()

    def _serve(self, handle: Any) -> None:
        try:
            answer = serve(
                lambda size, timeout: _read(handle, size, timeout),
                lambda: pipe_client(handle),
                self.service,
                self.gate,
            )
            _write(handle, answer, LINGER)
            _linger(handle)
        except Exception as exc:  # the client went away, or took too long to read
            log.info("tray pipe client went away: %s", getattr(exc, "strerror", exc))
        finally:
            self._close(handle)
            self.gate.connections.release()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)


Server = PipeServer


def address(run_dir: Path) -> str:
    """The pipe's name comes from the run directory, so agents with different ``--home`` never
    share a pipe."""
    digest = hashlib.sha256(str(run_dir).lower().encode()).hexdigest()[:12]
    return f"{PIPE_PREFIX}LANETAgent-{digest}"


def exchange(name: str, request: bytes, timeout: float) -> bytes:
    """Client side: send one request, read the answer line, within ``timeout``. Waits for a free
    instance (at most 5 s of it)."""
    import pywintypes
    import win32file
    import win32pipe

    deadline = time.monotonic() + timeout
    connect_by = time.monotonic() + min(timeout, 5.0)
    while True:
        try:
            handle = win32file.CreateFile(
                name,
                win32file.GENERIC_READ | win32file.GENERIC_WRITE,
                0,
                None,
                win32file.OPEN_EXISTING,
                _FLAG_OVERLAPPED | _SQOS_IDENTIFICATION,
                None,
            )
            break
        except pywintypes.error as exc:
            if exc.winerror not in (_ERROR_PIPE_BUSY, _ERROR_FILE_NOT_FOUND) or time.monotonic() > connect_by:
                raise LocalError(NOT_RUNNING) from None
            if exc.winerror == _ERROR_PIPE_BUSY:
                with contextlib.suppress(pywintypes.error):
                    win32pipe.WaitNamedPipe(name, 500)
            else:
                time.sleep(0.05)  # between two instances of a busy server
    try:
        try:
            _write(handle, request, max(0.1, deadline - time.monotonic()))
        except pywintypes.error:
            pass  # a busy service answers without reading the request: its answer is still there
        except TimeoutError:
            raise LocalError("the agent service did not answer in time") from None
        reply = b""
        while not reply.endswith(b"\n"):
            try:
                chunk = _read(handle, _BUFFER, max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                raise LocalError("the agent service did not answer in time") from None
            if not chunk:
                break
            reply += chunk
        return reply
    finally:
        handle.Close()
