"""The heartbeat builder and its answer handler, without a backend: what a heartbeat carries in each
mode, what a dead letter becomes on the wire, and what an answer may and may not cost."""

from pathlib import Path
from typing import Any

import pytest

from lanet.agent import collectors
from lanet.agent.heartbeat import Gathered, HeartbeatSource, build, with_dead_letters
from lanet.agent.logs import BackendBuffer
from lanet.agent.monitor import Monitor
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import DeadLetter, Store
from lanet.protocol import contract
from lanet.protocol.agent_config import AgentConfig
from lanet.protocol.contract import Record

ASSET = "456e7890-e89b-12d3-a456-426614174000"
ANSWER = {"received_at": "2026-12-01T10:00:00Z", "next_heartbeat": "2026-12-01T10:01:00Z"}


def _gathered(**changes: Any) -> Gathered:
    values: dict[str, Any] = {
        "asset_id": ASSET,
        "metrics": {"cpu_usage": 12.5, "memory_usage": 40.0, "temperature": None},
        "services": [{"name": "Spooler", "status": "running", "display_name": "Print Spooler"}],
        "top_processes": [{"name": "python", "pid": 10, "cpu_percent": 1.0, "memory_mb": 20.0}],
        "alerts": [{"type": "cpu_high", "severity": "warning", "message": "CPU al 95 %", "value": 95.0}],
        "logs": [{"level": "WARNING", "message": "algo", "timestamp": "2026-12-01T10:00:00Z"}],
        "command_acks": ["c-1"],
        "config_revision": 4,
    }
    values.update(changes)
    return Gathered(**values)


def test_a_heartbeat_carries_what_was_gathered_and_fits_the_contract() -> None:
    body = build(_gathered(), now=1_764_583_200.0)
    assert body["asset_id"] == ASSET and body["sent_at"] == "2025-12-01T10:00:00Z"
    assert body["status"]["cpu_usage"] == 12.5 and "temperature" not in body["status"]
    assert body["status"]["services_status"] == [{"name": "Spooler", "status": "running"}]
    assert [a["type"] for a in body["alerts"]] == ["cpu_high"] and len(body["logs"]) == 1
    assert body["command_acks"] == ["c-1"] and body["config_revision"] == 4
    assert contract.validate("HeartbeatRequest", body)["message_id"] == body["message_id"]
    assert build(_gathered())["message_id"] != body["message_id"]  # each heartbeat is its own message


def test_metrics_can_be_left_out_and_a_checkin_carries_only_what_keeps_the_agent_reachable() -> None:
    without = build(_gathered(include_metrics=False))
    assert "cpu_usage" not in without["status"] and without["status"]["services_status"]
    checkin = build(_gathered(), checkin=True)
    assert not any(checkin["status"].values()) and checkin["alerts"] == [] and checkin["logs"] == []
    assert checkin["command_acks"] == ["c-1"] and checkin["config_revision"] == 4


def test_a_value_the_contract_refuses_is_an_error_here_not_a_heartbeat_refused_later() -> None:
    with pytest.raises(contract.ContractError, match="cpu_usage"):
        build(_gathered(metrics={"cpu_usage": 250.0}))


def test_dead_letters_travel_trimmed_and_one_that_does_not_fit_is_left_out() -> None:
    letters = [
        DeadLetter("t-1", "ticket", 422, "VALIDATION_ERROR", "x" * 900, 1_764_583_200.0, False),
        DeadLetter("r-1", "command_result", 503, None, "busy", 1_764_583_200.0, False),
        DeadLetter("", "ticket", 400, None, "no id", 1_764_583_200.0, False),
    ]
    sent = with_dead_letters({"asset_id": ASSET}, letters)
    listed = {d["item_id"]: d for d in sent["dead_letters"]}
    assert set(listed) == {"t-1", "r-1"}
    assert len(listed["t-1"]["error"]) == 500 and listed["t-1"]["status"] == 422
    assert "status" not in listed["r-1"]  # only a 4xx is a refusal worth naming
    assert with_dead_letters({"asset_id": ASSET}, []) == {"asset_id": ASSET}


class Answers:
    """A heartbeat source whose answer handler records what it hands on."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = Store(tmp_path / "agent.db", PlainProtector())
        config = Record(AgentConfig().model_dump(mode="json"))
        self.source = HeartbeatSource(
            lambda: config,
            self.store,
            collectors.MetricsSampler(collectors.threads_count),
            Monitor({}),
            BackendBuffer(),
            lambda: [],
        )
        self.configured: list[dict[str, Any]] = []
        self.commands: list[Any] = []
        self.source.on_answer(self.configured.append, self._command)

    def _command(self, command: Any) -> None:
        if command == "boom":
            raise RuntimeError("a bug in the command path")
        self.commands.append(command)


@pytest.fixture
def answers(tmp_path: Path) -> Any:
    made = Answers(tmp_path)
    yield made
    made.store.close()


def test_an_answer_applies_configuration_and_hands_on_every_command(answers: Any) -> None:
    data = {
        **ANSWER,
        "config_updates": {"heartbeat_interval": 120},
        "config_revision": 9,
        "commands": [
            {"command_id": "c-1", "type": "bash", "script": "echo"},
            {"command_id": "c-2", "type": "from_a_newer_server"},
            "boom",
            {"command_id": "c-3", "type": "sh", "script": "echo"},
        ],
    }
    answers.source.answered({}, data, {})
    assert answers.configured == [{"heartbeat_interval": 120}]
    assert answers.store.get("config_revision") == 9 and answers.store.get("last_heartbeat")
    # Each command goes to the executor as offered; it checks them one by one.
    assert [c["command_id"] for c in answers.commands] == ["c-1", "c-2", "c-3"]


def test_an_answer_of_the_wrong_shape_is_ignored_and_loses_nothing_already_stored(answers: Any) -> None:
    answers.store.put("config_revision", 3)
    for data in ({"received_at": "not a time"}, {**ANSWER, "config_revision": -1}, ["a", "list"]):
        answers.source.answered({}, data, {})  # type: ignore[arg-type]
    answers.source.answered({}, {**ANSWER, "commands": {"not": "a list"}}, {})
    assert answers.configured == [] and answers.commands == []
    assert answers.store.get("config_revision") == 3


def test_the_dead_letters_a_delivered_heartbeat_named_are_marked_reported(answers: Any) -> None:
    answers.store.enqueue("ticket", "t-9", {"subject": "x"})
    answers.store.dead_letter("t-9", "refused", status=422)
    assert [d.id for d in answers.store.dead_letters(unreported=True)] == ["t-9"]
    sent = answers.source.as_sent({"asset_id": ASSET})
    assert [d["item_id"] for d in sent["dead_letters"]] == ["t-9"]
    answers.source.answered({}, ANSWER, sent)
    assert answers.store.dead_letters(unreported=True) == []
    assert "dead_letters" not in answers.source.as_sent({"asset_id": ASSET})
