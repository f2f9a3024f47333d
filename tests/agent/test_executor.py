"""The executor's policy, without a backend: what may run, how many at once, at most once, and what a
restart does with the ledger. The scripts are real bash processes."""

import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lanet.agent.executor import Executor, checked_result
from lanet.agent.executor.process import _SUFFIX
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store
from lanet.protocol.agent_config import ScriptsSection
from lanet.protocol.contract import Record
from lanet.protocol.values import SCRIPT_TYPES

WAIT = 30.0


class Harness:
    """An executor over a real store, whose results land in a queue."""

    def __init__(self, home: Path, **settings: Any) -> None:
        self.scripts = home / "scripts"
        self.scripts.mkdir(parents=True, exist_ok=True)
        self.store = Store(home / "agent.db", PlainProtector())
        self.settings = Record(ScriptsSection(**{"allowed_types": ["bash"], **settings}).model_dump())
        self.results: queue.Queue[dict[str, Any]] = queue.Queue()
        self.executor = Executor(self.store, self.scripts, lambda: self.settings, self.results.put)

    def result(self) -> dict[str, Any]:
        return self.results.get(timeout=WAIT)

    def close(self) -> None:
        self.executor.shutdown()
        self.store.close()


@pytest.fixture
def harness(tmp_path: Path) -> Any:
    made: list[Harness] = []

    def make(**settings: Any) -> Harness:
        made.append(Harness(tmp_path / str(len(made)), **settings))
        return made[-1]

    yield make
    for each in made:
        each.close()


def _command(command_id: str, script: str = "echo hi", **extra: Any) -> dict[str, Any]:
    return {"command_id": command_id, "type": "bash", "script": script, "timeout": 60, **extra}


def test_every_script_type_has_a_file_suffix() -> None:
    assert set(_SUFFIX) == set(SCRIPT_TYPES)


def test_disabled_scripts_and_types_not_allowed_are_refused_with_the_setting_named(harness: Any) -> None:
    off = harness(enabled=False)
    off.executor.submit(_command("c-off"))
    refused = off.result()
    assert refused["status"] == "refused" and "scripts.enabled" in refused["reason"]
    narrow = harness(allowed_types=["sh"])
    narrow.executor.submit(_command("c-type"))
    refused = narrow.result()
    assert refused["status"] == "refused" and "scripts.allowed_types" in refused["reason"]
    assert "'bash'" in refused["reason"]


def test_an_expired_command_is_reported_expired_and_not_run(harness: Any, tmp_path: Path) -> None:
    h = harness()
    marker = tmp_path / "ran"
    h.executor.submit(_command("c-old", f"touch {marker}", expires_at="2020-01-01T00:00:00+00:00"))
    assert h.result()["status"] == "expired"
    assert not marker.exists()


def test_a_command_runs_at_most_once_however_often_it_is_offered(harness: Any, tmp_path: Path) -> None:
    h = harness()
    counter = tmp_path / "count"
    command = _command("c-once", f"echo x >> {counter}")
    h.executor.submit(command)
    assert h.result()["status"] == "succeeded"
    h.executor.submit(command)
    h.executor.submit(dict(command, script="echo again"))
    with pytest.raises(queue.Empty):
        h.results.get(timeout=1.0)
    assert counter.read_text() == "x\n"
    assert "c-once" in h.executor.acks()


def test_no_more_than_max_concurrent_scripts_run_at_once(harness: Any, tmp_path: Path) -> None:
    h = harness(max_concurrent=2)
    gate = tmp_path / "gate"
    running = tmp_path / "running"
    running.mkdir()
    # Each script marks itself running, then waits for the gate file.
    script = f"touch {running}/$$; while [ ! -e {gate} ]; do sleep 0.05; done; rm {running}/$$"
    for n in range(5):
        h.executor.submit(_command(f"c-{n}", script))
    deadline = time.monotonic() + WAIT
    while len(list(running.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a third one, were it allowed, has had time to start
    assert len(list(running.iterdir())) == 2
    gate.touch()
    statuses = sorted(h.result()["status"] for _ in range(5))
    assert statuses == ["succeeded"] * 5


def test_the_setting_caps_the_timeout_a_command_asks_for(harness: Any) -> None:
    h = harness(timeout=1)
    h.executor.submit(_command("c-slow", "sleep 30", timeout=3600))
    result = h.result()
    assert result["status"] == "timed_out"


def test_after_a_restart_running_is_interrupted_and_accepted_runs(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    home.mkdir()
    store = Store(home / "agent.db", PlainProtector())  # what the previous process left
    store.ledger_accept("c-died", _command("c-died"))
    store.ledger_set("c-died", "running")
    store.ledger_accept("c-waiting", _command("c-waiting", "echo later"))
    store.close()

    restarted = Harness(home)
    try:
        restarted.executor.recover()
        results = {r["command_id"]: r for r in (restarted.result(), restarted.result())}
        assert results["c-died"]["status"] == "interrupted"
        assert results["c-waiting"]["status"] == "succeeded" and results["c-waiting"]["stdout"] == "later\n"
        assert restarted.store.ledger_with("running") == [] and restarted.store.ledger_with("accepted") == []
    finally:
        restarted.close()


def test_shutdown_kills_running_scripts_and_reports_them(harness: Any) -> None:
    h = harness()
    h.executor.submit(_command("c-long", "sleep 60"))
    deadline = time.monotonic() + WAIT
    while not h.store.ledger_orphan("c-long") and time.monotonic() < deadline:
        time.sleep(0.05)
    stopper = threading.Thread(target=h.executor.shutdown)
    stopper.start()
    result = h.result()
    stopper.join(WAIT)
    assert result["status"] == "interrupted" and result["exit_code"] != 0


def test_a_result_that_breaks_the_contract_becomes_a_failure_that_says_so() -> None:
    good = checked_result({"command_id": "c-1", "status": "succeeded", "exit_code": 0, "stdout": "ok"})
    assert good["status"] == "succeeded" and good["stdout"] == "ok" and "reason" not in good
    bad = checked_result({"command_id": "c-2", "status": "exploded", "exit_code": 0})
    assert bad["status"] == "failed" and bad["reason"].startswith("the agent built an invalid result")


def test_a_command_this_agent_cannot_read_is_refused_once_and_named(harness: Any) -> None:
    h = harness()
    newer = {"command_id": "c-new", "type": "self_update", "script": "", "channel": "beta"}
    h.executor.submit(newer)
    refused = h.result()
    assert refused["status"] == "refused" and "cannot read the command" in refused["reason"]
    assert "type" in refused["reason"]
    h.executor.submit(newer)  # offered again: recorded, not reported twice
    h.executor.submit({"type": "bash", "script": "echo no id"})  # nothing to report under
    h.executor.submit("not even an object")
    h.executor.submit(_command("c-fine"))
    assert h.result()["command_id"] == "c-fine"
    assert h.results.empty()
