"""What every command group shares: the settings and database from the environment, the actor
name the audit log records, and plain-text tables."""

import getpass
from datetime import datetime
from typing import Any

from lanet.protocol.common import format_timestamp


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def settings() -> Any:
    from lanet.server.settings import Settings

    return Settings.from_env()


def database() -> Any:
    from lanet.server.db import Database

    return Database(settings().database_url)


def keys() -> Any:
    from lanet.server.services.credentials import Keys

    current = settings()
    return Keys(current.secret_key, current.previous_secret_keys)


def timestamp(value: datetime | None) -> str:
    return format_timestamp(value) if value else "-"


def table(rows: list[list[Any]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


class CliError(Exception):
    """A user error: printed without a traceback, exit status 2."""
