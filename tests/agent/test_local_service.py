"""The local channel's operations and rules, without a socket: what each operation checks before
anything reaches the desk, the per-user throttles, and that no request can raise out of ``handle``.
The framing is checked here too; the socket and the pipe are tests/e2e and tests_windows."""

import json
from typing import Any

import pytest

from lanet.agent.local import framing
from lanet.agent.local.framing import LocalError
from lanet.agent.local.service import (
    SYNC_EVERY,
    SYNC_EVERY_PER_USER,
    TICKET_WINDOW,
    TICKETS_PER_WINDOW,
    VIEWS_PER_MINUTE,
    Caller,
    LocalService,
)

JUAN = Caller("juan", "Juan Pérez")
ANA = Caller("ana")


class Desk:
    """A ticket desk that records what reaches it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def categories(self) -> list[dict[str, str]]:
        return [{"id": "hardware", "label": "Hardware"}]

    def preview(self) -> dict[str, Any]:
        return {"computer_name": "PC-01"}

    def create(self, caller: Caller, fields: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("create", caller.account, fields))
        return {"ticket_number": "TKT-000001"}

    def mine(self, caller: Caller, text: str | None) -> dict[str, Any]:
        self.calls.append(("mine", caller.account, text))
        return {"items": []}

    def detail(self, caller: Caller, ref: str) -> dict[str, Any]:
        if ref == "TKT-000666":
            raise RuntimeError("a bug behind the desk")
        self.calls.append(("detail", caller.account, ref))
        return {"ticket_number": ref}

    def comment(self, caller: Caller, ref: str, body: str, author_name: str | None) -> dict[str, Any]:
        self.calls.append(("comment", caller.account, (ref, body, author_name)))
        return {"ok": True}

    def rate(self, caller: Caller, ref: str, rating: int, comment: str | None) -> dict[str, Any]:
        self.calls.append(("rate", caller.account, (ref, rating, comment)))
        return {"ok": True}

    def mine_summary(self, caller: Caller) -> dict[str, Any]:
        return {"open_tickets": 2}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> Any:
    class World:
        desk = Desk()
        clock = Clock()
        syncs: list[int] = []
        service = LocalService(desk, lambda: {"connected": True}, lambda: World.syncs.append(1), clock)

        def ask(self, caller: Caller, op: str, args: Any = None) -> Any:
            return json.loads(self.service.handle(caller, op, {} if args is None else args))

    return World()


def _ok(answer: dict[str, Any]) -> Any:
    assert answer["ok"], answer
    return answer["data"]


def _refused(answer: dict[str, Any]) -> str:
    assert not answer["ok"], answer
    message: str = answer["error"]
    return message


TICKET = {"description": "La impresora no imprime", "category": "hardware", "priority": "alta"}


def test_status_is_the_service_s_plus_the_caller_s_own(world: Any) -> None:
    assert _ok(world.ask(JUAN, "status")) == {
        "connected": True,
        "open_tickets": 2,
        "user": "juan",
        "reboot": None,
    }
    assert _ok(world.ask(JUAN, "preview")) == {"computer_name": "PC-01"}
    assert "unknown operation 'drop_tables'" in _refused(world.ask(JUAN, "drop_tables"))


def test_a_ticket_is_checked_field_by_field_before_it_reaches_the_desk(world: Any) -> None:
    for bad, named in (
        ({**TICKET, "description": "   "}, "description is required"),
        ({**TICKET, "description": 42}, "description must be text"),
        ({**TICKET, "description": "x" * 20_001}, "at most 20000"),
        ({**TICKET, "description": "hola\x1b[2J"}, "control characters"),
        ({**TICKET, "category": "nope"}, "category must be one of"),
        ({**TICKET, "priority": "urgentisima"}, "priority must be one of"),
        ({**TICKET, "subject": "dos\nlineas"}, "subject must be a single line"),
        ({**TICKET, "screenshot_png_base64": 5}, "screenshot"),
    ):
        assert named in _refused(world.ask(JUAN, "create_ticket", bad))
    assert world.desk.calls == []
    assert _ok(world.ask(JUAN, "create_ticket", {**TICKET, "subject": "  Impresora  "}))
    ((_, account, fields),) = world.desk.calls
    assert account == "juan" and fields["subject"] == "Impresora" and fields["include_info"] is True
    assert world.syncs == [1]  # a new ticket leaves at once


def test_one_user_s_tickets_are_throttled_without_holding_back_another_user(world: Any) -> None:
    for _ in range(TICKETS_PER_WINDOW):
        _ok(world.ask(JUAN, "create_ticket", TICKET))
    assert "espere un momento" in _refused(world.ask(JUAN, "create_ticket", TICKET))
    _ok(world.ask(ANA, "create_ticket", TICKET))
    world.clock.now += TICKET_WINDOW
    _ok(world.ask(JUAN, "create_ticket", TICKET))


def test_references_ratings_and_reads_are_checked_and_throttled(world: Any) -> None:
    assert "ref must be a ticket number" in _refused(world.ask(JUAN, "ticket_detail", {"ref": "../etc"}))
    assert _ok(world.ask(JUAN, "ticket_detail", {"ref": " tkt-000123 "})) == {"ticket_number": "TKT-000123"}
    for rating in (0, 6, 4.5, True, "5"):
        assert "rating must be" in _refused(world.ask(JUAN, "rate", {"ref": "TKT-1", "rating": rating}))
    _ok(world.ask(JUAN, "rate", {"ref": "TKT-1", "rating": 5, "comment": "Gracias"}))
    assert "body is required" in _refused(world.ask(JUAN, "comment", {"ref": "TKT-1"}))
    for _ in range(VIEWS_PER_MINUTE - 2):
        _ok(world.ask(JUAN, "ticket_detail", {"ref": "TKT-1"}))
    assert "demasiadas consultas" in _refused(world.ask(JUAN, "ticket_detail", {"ref": "TKT-1"}))
    _ok(world.ask(ANA, "ticket_detail", {"ref": "TKT-1"}))
    assert "single line" in _refused(world.ask(JUAN, "my_tickets", {"q": "a\tb"}))


def test_force_sync_is_throttled_per_user_and_overall_and_always_answered_the_same(world: Any) -> None:
    for caller in (JUAN, JUAN, ANA):
        assert _ok(world.ask(caller, "force_sync")) == {"requested": True}
    assert world.syncs == [1]  # Juan's second and Ana's (within SYNC_EVERY) were absorbed
    world.clock.now += SYNC_EVERY
    _ok(world.ask(ANA, "force_sync"))
    _ok(world.ask(JUAN, "force_sync"))  # Juan's own window is longer
    assert len(world.syncs) == 2
    world.clock.now += SYNC_EVERY_PER_USER
    _ok(world.ask(JUAN, "force_sync"))
    assert len(world.syncs) == 3


def test_no_request_raises_out_of_the_service(world: Any) -> None:
    message = _refused(world.ask(JUAN, "ticket_detail", {"ref": "TKT-000666"}))
    assert message == "internal error in the agent service"  # the details stay in the service's log
    for args in ({"description": None}, {"category": ["hardware"]}, {"ref": {"a": 1}}):
        for op in ("create_ticket", "ticket_detail", "comment", "rate", "my_tickets"):
            world.ask(JUAN, op, args)  # each answers, none raises


def test_the_frame_header_says_how_much_may_follow() -> None:
    request = framing.encode_request("status", {"x": "ñ"})
    header, body = request.split(b"\n", 1)
    assert framing.parse_header(header) == ("status", len(body))
    assert framing.parse_args(body) == {"x": "ñ"}
    for line, named in (
        (b"not json", "not JSON"),
        (b"[1]", '{"op"'),
        (b'{"op": "status", "length": -1}', "whole number"),
        (b'{"op": "status", "length": true}', "whole number"),
        (b'{"op": "status", "length": 20000}', "too large for status"),
    ):
        with pytest.raises(LocalError, match=named):
            framing.parse_header(line)
    assert framing.parse_header(b'{"op": "create_ticket", "length": 7000000}')[1] == 7_000_000
    with pytest.raises(LocalError, match="object"):
        framing.parse_args(b"[]")
    with pytest.raises(LocalError, match="no se pudo"):
        framing.read_answer(framing.encode_answer(error="no se pudo"))
