"""Local logging (rotating files, as the seed lists them) and the buffer of records sent to the backend.

``agent.log`` gets everything, ``heartbeat.log`` the heartbeat exchange, ``scripts.log`` the remote
scripts. Every handler redacts secrets (JWTs, install and refresh tokens, bearer headers) so no file
and no heartbeat ever carries one.
"""

import logging
import logging.handlers
import re
import sys
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lanet.protocol.contract import Record as AgentConfig
from lanet.protocol.limits import parse_size

AGENT = "lanet.agent"
HEARTBEAT = "lanet.agent.heartbeat"
SCRIPTS = "lanet.agent.scripts"

_SECRET_PATTERNS = [
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "<jwt>"),
    (re.compile(r"LANET-([A-Z0-9]{4})-([A-Z0-9]{4})-[A-Z0-9]{6}"), r"LANET-\1-\2-******"),
    (re.compile(r"lrt_[A-Za-z0-9_-]+"), "lrt_<redacted>"),
    (re.compile(r"(?i)(bearer\s+)[^\s'\"]+"), r"\1<redacted>"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites the formatted message with secrets masked (args are merged first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


#: As the heartbeat's contract allows (``lanet.protocol.heartbeat.MAX_LOG_MESSAGE``).
MAX_LOG_CHARS = 4000


class BackendBuffer(logging.Handler):
    """Keeps recent records at or above the configured level for the next heartbeat's ``logs``."""

    def __init__(self, capacity: int = 500) -> None:
        super().__init__()
        self.records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.enabled = True
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        # The heartbeat log describes the exchange with the backend itself: sending it back is noise.
        if not self.enabled or record.name.startswith(HEARTBEAT):
            return
        self.records.append(
            {
                "timestamp": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "level": "WARNING" if record.levelname == "WARN" else record.levelname,
                "logger": record.name[:128],
                "message": record.getMessage()[:MAX_LOG_CHARS],
            }
        )

    def drain(self, limit: int = 200) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while self.records and len(out) < limit:
            out.append(self.records.popleft())
        return out

    def peek(self, limit: int = 200) -> list[dict[str, Any]]:
        """What :meth:`drain` would give, leaving it in place (``lanet-agent collect``)."""
        return list(self.records)[:limit]


_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def _file_handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactingFilter())
    return handler


def log_dir_for(config: AgentConfig, default: Path, home_given: bool) -> Path:
    """``logging.file_path``'s folder when it is a real absolute path on this OS, else ``default``."""
    configured = Path(config.logging.file_path)
    if home_given or not configured.is_absolute():
        return default
    return configured.parent


def setup(config: AgentConfig, log_dir: Path, *, console: bool) -> BackendBuffer:
    """Install the handlers (again, on reconfiguration) and return the backend buffer."""
    log_dir.mkdir(parents=True, exist_ok=True)
    level = getattr(logging, config.logging.level)
    size, backups = parse_size(config.logging.max_size), config.logging.backup_count
    agent = logging.getLogger(AGENT)
    for name in (AGENT, HEARTBEAT, SCRIPTS):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    agent.setLevel(level)
    agent.propagate = False
    agent.addHandler(_file_handler(log_dir / "agent.log", size, backups))
    for name, filename in ((HEARTBEAT, "heartbeat.log"), (SCRIPTS, "scripts.log")):
        logger = logging.getLogger(name)
        logger.addHandler(_file_handler(log_dir / filename, size, backups))
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter(_FORMAT))
        stream.addFilter(RedactingFilter())
        agent.addHandler(stream)
    buffer = BackendBuffer()
    buffer.setLevel(level)
    buffer.enabled = config.logging.send_to_backend
    agent.addHandler(buffer)
    return buffer


def follow(config: AgentConfig, buffer: BackendBuffer) -> None:
    """Apply ``logging.level`` and ``logging.send_to_backend`` to the running loggers."""
    set_level(config.logging.level, buffer)
    buffer.enabled = config.logging.send_to_backend


def set_level(level: str, buffer: BackendBuffer | None) -> None:
    value = getattr(logging, level)
    logging.getLogger(AGENT).setLevel(value)
    if buffer is not None:
        buffer.setLevel(value)
