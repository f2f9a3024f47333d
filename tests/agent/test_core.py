"""The service's wiring, without a backend: what ``collect`` shows changes nothing, and a finished
script's result leaves at once instead of waiting for the loop's next pass."""

import logging
from pathlib import Path

from lanet.agent.config import replace
from lanet.agent.core import Agent
from lanet.agent.paths import AgentPaths

ASSET = "456e7890-e89b-12d3-a456-426614174000"


def _agent(tmp_path: Path) -> Agent:
    agent = Agent(AgentPaths.for_home(tmp_path / "agent"))
    agent.config = replace(agent.config, "agent", "asset_id", ASSET)
    return agent


def test_previewing_the_heartbeat_has_no_side_effects(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    try:
        logging.getLogger("lanet.agent.test").warning("something worth sending")
        buffered = list(agent.log_buffer.records)
        agent.monitor.open = {}
        before = (
            agent.store.outbox_counts(),
            agent.store.get("heartbeats_queued"),
            agent.store.get("monitor_open"),
        )
        first = agent.preview_heartbeat()
        second = agent.preview_heartbeat()
        assert first["asset_id"] == ASSET and first["logs"] == second["logs"]
        assert any(entry["message"] == "something worth sending" for entry in first["logs"])
        # Nothing drained (a collector may add its one warning about what it cannot read).
        assert list(agent.log_buffer.records)[: len(buffered)] == buffered
        assert agent.monitor.open == {}
        assert (
            agent.store.outbox_counts(),
            agent.store.get("heartbeats_queued"),
            agent.store.get("monitor_open"),
        ) == before
        queued = agent.enqueue_heartbeat()  # the real one does drain and record
        assert agent.store.outbox_counts() == {"heartbeat": 1} and agent.store.get("heartbeats_queued") == 1
        assert queued["logs"] and not agent.log_buffer.records
    finally:
        agent.store.close()


def test_a_finished_result_wakes_the_loop_and_is_validated_first(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    try:
        agent._wake.clear()
        agent._queue_result(
            {"command_id": "cmd-1", "status": "failed", "exit_code": 3221225477, "stdout": ""}
        )
        assert agent._wake.is_set()
        assert agent.store.outbox_counts() == {"command_result": 1}
        # A result that does not fit the contract (a bug of ours) still reports, as a failure.
        agent._queue_result({"command_id": "cmd-2", "status": "exploded", "exit_code": 2**40})
        queued = {item.id: item.payload for item in agent.store.pending_items("command_result")}
        assert queued["cmd-2"]["status"] == "failed" and "invalid result" in queued["cmd-2"]["reason"]
    finally:
        agent.store.close()
