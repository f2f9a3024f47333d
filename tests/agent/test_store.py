"""The local store: encrypted secrets, the durable outbox, metric history."""

import os
from pathlib import Path

from lanet.agent.secrets.protect import FernetProtector, PlainProtector
from lanet.agent.store import MAX_QUEUED_HEARTBEATS, Store


def _store(tmp_path: Path) -> Store:
    return Store(tmp_path / "agent.db", FernetProtector(tmp_path / "agent.key"))


def test_secrets_are_encrypted_at_rest_with_a_private_key_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.put_secret("agent_token", "eyJhbGciOi.secret.value")
    assert store.get_secret("agent_token") == "eyJhbGciOi.secret.value"
    raw = store.raw_secret("agent_token")
    assert raw is not None and b"secret" not in raw
    assert b"secret.value" not in (tmp_path / "agent.db").read_bytes()
    if os.name == "posix":
        assert (tmp_path / "agent.key").stat().st_mode & 0o777 == 0o600
    store.close()
    # A second process with the same key file reads it; one without it cannot.
    assert _store(tmp_path).get_secret("agent_token") == "eyJhbGciOi.secret.value"


def test_outbox_items_survive_a_crash_in_flight(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.enqueue("ticket", "t-1", {"description": "x"}, priority=1)
    assert not store.enqueue("ticket", "t-1", {"description": "x"})  # the same id is not queued twice
    store.enqueue("heartbeat", "h-1", {"n": 1})
    taken = store.next_ready()
    assert taken is not None and taken.id == "t-1"  # higher priority first
    store.close()  # the process dies with t-1 in flight
    again = _store(tmp_path)
    first = again.next_ready()
    assert first is not None and first.id == "t-1" and first.payload == {"description": "x"}
    again.delivered("t-1")
    second = again.next_ready()
    assert second is not None and second.id == "h-1"
    again.delivered("h-1")
    assert again.next_ready() is None and again.outbox_counts() == {}


def test_retry_later_defers_an_item(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.enqueue("heartbeat", "h", {})
    item = store.next_ready(now=100.0)
    assert item is not None
    store.retry_later("h", at=200.0, error="down")
    assert store.next_ready(now=150.0) is None
    retried = store.next_ready(now=250.0)
    assert retried is not None and retried.attempts == 1


def test_heartbeat_backlog_is_bounded_but_tickets_are_never_dropped(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db", PlainProtector())
    store.enqueue("ticket", "ticket-1", {"t": 1})
    for n in range(MAX_QUEUED_HEARTBEATS + 25):
        store.enqueue("heartbeat", f"h-{n}", {"n": n}, precious=False)  # as the outbox registry declares
    counts = store.outbox_counts()
    assert counts == {"heartbeat": MAX_QUEUED_HEARTBEATS, "ticket": 1}
    assert store.get("dropped_heartbeats") == 25
    assert store.pending_items("heartbeat")[0].payload == {"n": 25}  # the oldest went first
