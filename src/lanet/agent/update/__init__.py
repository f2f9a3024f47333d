"""Agent self-update: what this install can update itself from, and the update's steps.

A package build writes ``lanet/agent/_package.py`` (``PLATFORM = "linux-deb"`` or
``"windows-x64"``) and, from the MSP's ``keygen``, ``lanet/agent/update/trusted_root.json``: the TUF
root every release must chain to. An install without them (``pip install``, a source checkout)
cannot update itself and says so instead of half-doing it. The heavy work (TUF, downloads) runs in
a short-lived worker process (:mod:`lanet.agent.update.worker`), so the service never loads it.
"""

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lanet.agent.outbox import Kind
from lanet.agent.paths import AgentPaths
from lanet.agent.store import Store
from lanet.protocol import contract

#: Said where an update cannot happen because of how the agent was installed.
UNSUPPORTED = "self-update not supported for this install (not installed from the MSI or the .deb)"
#: The outbox kind of the agent's update reports (registered by the service, used by the worker).
REPORTS = Kind("update_report", "/agents/update-status", priority=2, precious=True)
#: Store keys: the release the server offers, the last attempt at it, the release downloaded and
#: verified, the swap under way, the version that proved itself, and the package of what runs.
OFFER = "update.offer"
ATTEMPT = "update.attempt"
STAGED = "update.staged"
PENDING = "update.pending"
HEALTHY = "update.healthy"
INSTALLED_PACKAGE = "update.installed_package"
TRUSTED_ROOT = Path(__file__).with_name("trusted_root.json")


def updates_dir(paths: AgentPaths) -> Path:
    """Where releases are verified, downloaded and swapped: ``data/cache/updates``."""
    return paths.cache_dir / "updates"


def package_platform() -> str | None:
    """The release platform this install was packaged for; None for a development install."""
    try:
        from lanet.agent import _package  # type: ignore[attr-defined]
    except ImportError:
        return None
    platform = getattr(_package, "PLATFORM", None)
    return platform if isinstance(platform, str) else None


def report(
    store: Store, asset_id: str, version: str, state: str, reason: str = "", running: str | None = None
) -> dict[str, Any]:
    """Queue one step for the server, validated first (a bad report is a bug, not something to send)."""
    import lanet

    report_id = str(uuid.uuid4())
    body = contract.drop_none(
        {
            "asset_id": asset_id,
            "report_id": report_id,
            "version": version,
            "state": state,
            "reason": reason[:1000],
            "running_version": running or lanet.__version__,
            "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    )
    checked: dict[str, Any] = contract.validate("UpdateReport", body)
    store.enqueue(REPORTS.name, report_id, checked, REPORTS.priority, precious=REPORTS.precious)
    return checked
