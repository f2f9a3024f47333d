"""Logging: rotating files as the seed names them, no secret in any of them, the backend buffer."""

import logging
from pathlib import Path

from lanet.agent import logs
from lanet.agent.config import make_config


def test_secrets_never_reach_a_file_or_the_backend(tmp_path: Path) -> None:
    config = make_config()
    buffer = logs.setup(config, tmp_path, console=False)
    log = logging.getLogger("lanet.agent.test")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJhc3NldF9pZCI6IngifQ.c2lnbmF0dXJlLXZhbHVl"
    log.warning(
        "token %s refresh %s header Authorization: Bearer %s",
        "LANET-550E-660E-AEB0F9",
        "lrt_abcdefghijklmnop",
        jwt,
    )
    for handler in logging.getLogger(logs.AGENT).handlers:
        handler.flush()
    text = (tmp_path / "agent.log").read_text()
    assert "AEB0F9" not in text and "abcdefghijklmnop" not in text and jwt not in text
    assert "LANET-550E-660E-******" in text
    sent = buffer.drain()
    assert sent and "AEB0F9" not in sent[0]["message"] and jwt not in sent[0]["message"]


def test_files_rotate_at_the_configured_size(tmp_path: Path) -> None:
    config = make_config({"logging": {"max_size": "4KB", "backup_count": 2, "level": "DEBUG"}})
    logs.setup(config, tmp_path, console=False)
    log = logging.getLogger("lanet.agent.scripts")
    for n in range(400):
        log.info("script line %d %s", n, "x" * 40)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert {"scripts.log", "scripts.log.1", "scripts.log.2"} <= set(names)
    assert "scripts.log.3" not in names
    assert all(p.stat().st_size <= 4096 + 200 for p in tmp_path.glob("scripts.log*"))


def test_the_buffer_keeps_records_at_or_above_the_level(tmp_path: Path) -> None:
    config = make_config({"logging": {"level": "WARNING"}})
    buffer = logs.setup(config, tmp_path, console=False)
    log = logging.getLogger("lanet.agent.core")
    log.info("routine")
    log.error("disk failing")
    logging.getLogger(logs.HEARTBEAT).warning("about the heartbeat itself")
    assert [r["message"] for r in buffer.drain()] == ["disk failing"]
    logs.set_level("INFO", buffer)
    log.info("now visible")
    assert [r["level"] for r in buffer.drain()] == ["INFO"]


def test_the_agent_cuts_log_lines_where_the_contract_does() -> None:
    from lanet.agent.logs import MAX_LOG_CHARS
    from lanet.protocol.heartbeat import MAX_LOG_MESSAGE

    assert MAX_LOG_CHARS == MAX_LOG_MESSAGE
