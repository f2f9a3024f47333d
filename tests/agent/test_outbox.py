"""The outbox drain against a real HTTP server on loopback: one bad item never blocks the others.

Before: a command result the server answered 500 was retried forever at priority 1, ahead of
heartbeats, and the drain stopped at the first failure (seen live: no heartbeat for 75 s); one it
refused with a 4xx was dropped without a trace.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanet.agent import heartbeat
from lanet.agent.outbox import MAX_SERVER_ERRORS_PER_PASS, Kind, Outbox
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store
from lanet.agent.transport import Credentials, Transport
from tests.agent.stub_server import Canned, StubServer

ASSET = "456e7890-e89b-12d3-a456-426614174000"
BEAT_REPLY = {"received_at": "2026-12-01T00:00:00Z", "next_heartbeat": "2026-12-01T00:01:00Z"}


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "agent.db", PlainProtector())
    yield opened
    opened.close()


def _outbox(stub: StubServer, store: Store, delivered: list[tuple[str, dict[str, Any]]]) -> Outbox:
    creds = Credentials(ASSET, "jwt", "lrt_refresh", time.time() + 86400)
    transport = Transport(stub.url, load_credentials=lambda: creds, allow_plain_http=True, backoff_base=30)
    outbox = Outbox(store, transport)
    for name, path, priority, precious in (
        ("command_result", "/agents/commands/result", 1, True),
        ("ticket", "/tickets/create-from-agent", 1, True),
        ("heartbeat", "/agents/heartbeat", 5, False),
    ):
        outbox.register(
            Kind(
                name, path, priority, precious, delivered=lambda p, d, sent, n=name: delivered.append((n, p))
            )
        )
    return outbox


def test_a_result_the_server_fails_on_backs_off_alone_while_heartbeats_flow(
    stub: StubServer, store: Store
) -> None:
    stub.on("/agents/commands/result", Canned.error(500, "INTERNAL_ERROR"))
    stub.on("/agents/heartbeat", Canned.ok(BEAT_REPLY))
    delivered: list[tuple[str, dict[str, Any]]] = []
    outbox = _outbox(stub, store, delivered)
    outbox.put(
        "command_result", "cmd-1", {"command_id": "cmd-1", "status": "failed", "exit_code": 3221225477}
    )
    for n in range(3):
        outbox.put("heartbeat", f"hb-{n}", {"asset_id": ASSET, "n": n})
        assert outbox.drain() == 1
    assert [name for name, _ in delivered] == ["heartbeat"] * 3
    # The result was tried once and now waits on its own backoff; nothing else waits.
    assert len(stub.seen("/agents/commands/result")) == 1
    assert outbox.transport.ready_at() == 0.0 and not outbox.transport.offline
    assert store.outbox_counts() == {"command_result": 1}
    # Once its backoff is over it goes out again, first (priority 1), and is delivered.
    stub.on(
        "/agents/commands/result", Canned.ok({"command_id": "cmd-1", "status": "failed", "duplicate": False})
    )
    assert outbox.drain() == 0  # still backing off
    outbox._clock = lambda: time.time() + 3600
    assert outbox.drain() == 1
    assert store.outbox_counts() == {}


def test_a_server_failing_everything_gets_a_few_items_per_pass_not_the_whole_backlog(
    stub: StubServer, store: Store
) -> None:
    stub.on("/tickets/create-from-agent", Canned.error(500, "INTERNAL_ERROR"))
    outbox = _outbox(stub, store, [])
    for n in range(10):
        outbox.put("ticket", f"t-{n}", {"description": str(n)})
    assert outbox.drain() == 0
    assert len(stub.seen("/tickets/create-from-agent")) == MAX_SERVER_ERRORS_PER_PASS
    assert store.outbox_counts() == {"ticket": 10}  # precious: nothing dropped


def test_an_item_refused_with_a_4xx_is_kept_shown_and_reported_once(stub: StubServer, store: Store) -> None:
    stub.on("/tickets/create-from-agent", Canned.error(422, "VALIDATION_ERROR"))
    stub.on("/agents/heartbeat", Canned.ok(BEAT_REPLY))
    delivered: list[tuple[str, dict[str, Any]]] = []
    outbox = _outbox(stub, store, delivered)
    outbox.put("ticket", "t-poison", {"description": "x"})
    outbox.put("heartbeat", "hb-1", {"asset_id": ASSET})
    assert outbox.drain() == 1
    assert len(stub.seen("/tickets/create-from-agent")) == 1  # never sent again
    dead = store.dead_letters()
    assert [(d.id, d.kind, d.status, d.code, d.reported) for d in dead] == [
        ("t-poison", "ticket", 422, "VALIDATION_ERROR", False)
    ]
    assert store.outbox_counts() == {}
    # The next heartbeat to leave names it; once that heartbeat is delivered it is reported, and kept.
    queued = heartbeat.build(heartbeat.Gathered(asset_id=ASSET))
    assert queued.get("dead_letters", []) == []  # attached when sent, not when queued
    body = heartbeat.with_dead_letters(queued, store.dead_letters(unreported=True))
    assert body["dead_letters"][0]["item_id"] == "t-poison"
    assert body["dead_letters"][0]["status"] == 422
    store.mark_reported([d["item_id"] for d in body["dead_letters"]])
    assert store.dead_letters(unreported=True) == []
    assert [d.id for d in store.dead_letters()] == ["t-poison"]
    reopened = Store(store.path, PlainProtector())
    try:
        assert [d.id for d in reopened.dead_letters()] == ["t-poison"]  # kept across restarts
    finally:
        reopened.close()


def test_an_item_of_a_kind_this_agent_does_not_know_is_dead_lettered(stub: StubServer, store: Store) -> None:
    outbox = _outbox(stub, store, [])
    store.enqueue("firmware_report", "fw-1", {"x": 1})
    assert outbox.drain() == 0
    assert [(d.id, d.kind) for d in store.dead_letters()] == [("fw-1", "firmware_report")]
    assert stub.requests == []


def test_a_broken_answer_handler_does_not_stop_the_drain(stub: StubServer, store: Store) -> None:
    stub.on("/agents/heartbeat", Canned.ok(BEAT_REPLY))
    creds = Credentials(ASSET, "jwt", "lrt_refresh", time.time() + 86400)
    outbox = Outbox(store, Transport(stub.url, load_credentials=lambda: creds, allow_plain_http=True))

    def broken(_payload: dict[str, Any], _data: dict[str, Any], _sent: dict[str, Any]) -> None:
        raise KeyError("bug")

    outbox.register(Kind("heartbeat", "/agents/heartbeat", 5, False, delivered=broken))
    for n in range(3):
        outbox.put("heartbeat", f"hb-{n}", {"n": n})
    assert outbox.drain() == 3


def test_a_kind_is_registered_once() -> None:
    outbox = Outbox.__new__(Outbox)
    outbox.kinds = {}
    outbox.register(Kind("ticket", "/x", 1, True))
    with pytest.raises(ValueError, match="twice"):
        outbox.register(Kind("ticket", "/y", 1, True))


def test_a_rate_limited_endpoint_holds_its_own_items_only(stub: StubServer, store: Store) -> None:
    stub.on("/tickets/create-from-agent", Canned.error(429, "RATE_LIMITED", {"Retry-After": "3600"}))
    stub.on("/agents/heartbeat", Canned.ok(BEAT_REPLY))
    delivered: list[tuple[str, dict[str, Any]]] = []
    outbox = _outbox(stub, store, delivered)
    for n in range(3):
        outbox.put("ticket", f"t-{n}", {"description": str(n)})
    outbox.put("heartbeat", "hb-1", {"asset_id": ASSET})
    assert outbox.drain() == 1
    assert [name for name, _ in delivered] == ["heartbeat"]
    assert len(stub.seen("/tickets/create-from-agent")) == 1  # the others were not even tried
    assert store.outbox_counts() == {"ticket": 3}  # all kept, none counted as a failed attempt
    outbox.put("heartbeat", "hb-2", {"asset_id": ASSET})
    assert outbox.drain() == 1 and len(stub.seen("/tickets/create-from-agent")) == 1


def test_a_dead_letter_from_another_version_never_keeps_the_heartbeat_from_leaving() -> None:
    from lanet.agent.store import DeadLetter

    odd = [
        DeadLetter("x" * 300, "Firmware-Report v2!", 999, "C" * 200, "e" * 2000, 1.0e9, False),
        DeadLetter("ok-1", "ticket", 422, "VALIDATION_ERROR", "bad\x00text", 1.0e9, False),
    ]
    body = heartbeat.with_dead_letters(heartbeat.build(heartbeat.Gathered(asset_id=ASSET)), odd)
    assert [d["kind"] for d in body["dead_letters"]] == ["firmwarereportv", "ticket"]
    assert body["dead_letters"][0]["item_id"] == "x" * 64 and "status" not in body["dead_letters"][0]
    assert "\x00" not in body["dead_letters"][1]["error"]
