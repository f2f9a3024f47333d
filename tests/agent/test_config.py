"""agent_config.json: errors that name the key, atomic saves, pushed updates."""

import json
import os
from pathlib import Path

import pytest

from lanet.agent.config import ConfigError, apply_updates, load_config, make_config, replace, save_config
from tests.conftest import load_fixture


def test_the_seeds_file_loads_and_a_missing_file_gives_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "agent_config.json"
    path.write_text(json.dumps(load_fixture("seed_agent_config.json")))
    config = load_config(path)
    assert config.heartbeat.interval == 60 and config.scripts.allowed_types == ["powershell", "batch"]
    assert load_config(tmp_path / "absent.json") == make_config()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"heartbeat": {"interval": "often"}}', "heartbeat.interval"),
        ('{"monitoring": {"cpu_threshold": 150}}', "monitoring.cpu_threshold"),
        ('{"logging": {"max_size": "lots"}}', "logging.max_size"),
        ('{"backend": {"url": "ftp://x"}}', "backend.url"),
        ('{"scripts": {"allowed_types": ["cobol"]}}', "scripts.allowed_types.0"),
        ('{"security": {"verify_sll": false}}', "security.verify_sll"),
        ('{"heartbeat": {"interval": 60,}}', "line 1 column"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_errors_name_the_key_and_the_problem(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "agent_config.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value) and str(path) in str(info.value)


def test_save_is_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "config" / "agent_config.json"
    config = replace(make_config(), "heartbeat", "interval", 30)
    save_config(path, config)
    assert load_config(path).heartbeat.interval == 30
    assert [p.name for p in path.parent.iterdir()] == ["agent_config.json"]  # no temporary left behind
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600


def test_pushed_updates_land_in_their_sections_and_bad_keys_are_refused_alone() -> None:
    config, applied, refused = apply_updates(
        make_config(),
        {
            "heartbeat_interval": 30,
            "log_level": "DEBUG",
            "monitoring_enabled": False,
            "cpu_threshold": 95,
            "auto_ticket_creation": True,
            "allowed_scripts": ["bash", "python"],
            "disk_threshold": 500,
            "favourite_colour": "blue",
        },
    )
    assert config.heartbeat.interval == 30 and config.logging.level == "DEBUG"
    assert config.monitoring.enabled is False and config.monitoring.cpu_threshold == 95
    assert config.scripts.allowed_types == ["bash", "python"]
    assert applied["auto_ticket_creation"] is True
    assert set(refused) == {"disk_threshold", "favourite_colour"}
    assert config.monitoring.disk_threshold == 85
