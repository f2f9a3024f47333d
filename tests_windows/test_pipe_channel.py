"""The tray channel on Windows: a named pipe that answers one JSON line per connection."""

import threading
from typing import Any

import pytest

from lanet.agent import ipc
from lanet.agent.ipc_windows import PipeServer


class Echo:
    def dispatch(self, op: str, args: dict[str, Any]) -> Any:
        if op == "fail":
            raise ipc.IpcError("no se pudo")
        return {"op": op, "args": args}


def _name() -> str:
    return f"{ipc.PIPE_PREFIX}LANETAgent-test-{threading.get_ident()}"


def test_requests_and_refusals_cross_the_pipe() -> None:
    name = _name()
    server = PipeServer(name, Echo())  # type: ignore[arg-type]
    server.start()
    try:
        assert ipc.call(name, "status", {"x": "ñ"}) == {"op": "status", "args": {"x": "ñ"}}
        with pytest.raises(ipc.IpcError, match="no se pudo"):
            ipc.call(name, "fail")
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


def test_without_the_service_the_tray_gets_a_clear_message() -> None:
    with pytest.raises(ipc.IpcError, match="no está en ejecución"):
        ipc.call(_name() + "-absent", "status", timeout=1)
