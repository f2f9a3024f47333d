"""The tray channel on Windows: a named pipe that answers one JSON line per connection."""

import threading
from typing import Any

import pytest

from lanet.agent import local as ipc
from lanet.agent.local._windows import PIPE_PREFIX, PipeServer
from lanet.agent.local.framing import LocalError, encode_answer
from lanet.agent.local.service import Caller


class Echo:
    """Answers with what it was asked and who asked it (the pipe client's account)."""

    def handle(self, caller: Caller, op: str, args: dict[str, Any]) -> bytes:
        if op == "fail":
            return encode_answer(error="no se pudo")
        if op == "whoami":
            return encode_answer({"account": caller.account})
        return encode_answer({"op": op, "args": args})


def _name() -> str:
    return f"{PIPE_PREFIX}LANETAgent-test-{threading.get_ident()}"


def test_requests_and_refusals_cross_the_pipe() -> None:
    name = _name()
    server = PipeServer(name, Echo())  # type: ignore[arg-type]
    server.start()
    try:
        assert ipc.call(name, "status", {"x": "ñ"}) == {"op": "status", "args": {"x": "ñ"}}
        with pytest.raises(LocalError, match="no se pudo"):
            ipc.call(name, "fail")
        # The caller is who Windows says it is, from its token: the lane runs as Wine's user.
        account = ipc.call(name, "whoami")["account"]
        assert account.split("\\")[-1], account
        # Sizes are checked per operation before anything is read.
        with pytest.raises(LocalError, match="too large"):
            ipc.call(name, "status", {"d": "x" * 300_000})
        big = "x" * 300_000
        assert ipc.call(name, "create_ticket", {"d": big})["args"]["d"] == big
        answers: list[Any] = []
        threads = [
            threading.Thread(target=lambda: answers.append(ipc.call(name, "status"))) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(answers) == 8
    finally:
        server.stop()


def test_a_peer_that_never_finishes_is_cut_off_and_others_are_served() -> None:
    import win32file

    name = _name()
    server = PipeServer(name, Echo())  # type: ignore[arg-type]
    server.start()
    try:
        handle = win32file.CreateFile(
            name, win32file.GENERIC_READ | win32file.GENERIC_WRITE, 0, None, win32file.OPEN_EXISTING, 0, None
        )
        win32file.WriteFile(handle, b'{"op": "status", "len')  # and then nothing
        assert ipc.call(name, "status") == {"op": "status", "args": {}}
        try:
            _rc, answer = win32file.ReadFile(handle, 4096)
        except Exception:  # the server disconnected the pipe
            answer = b""
        assert answer == b"" or b"in time" in bytes(answer)
        handle.Close()
    finally:
        server.stop()


def test_without_the_service_the_tray_gets_a_clear_message() -> None:
    with pytest.raises(LocalError, match="no está en ejecución"):
        ipc.call(_name() + "-absent", "status", timeout=1)
