"""What the agent says about itself: ``lanet-agent status`` (read from the files, never from the
backend) and the live state the tray's status window shows."""

import time
from pathlib import Path
from typing import Any

import lanet
from lanet.agent.config import load_config
from lanet.agent.monitor import Monitor
from lanet.agent.paths import AgentPaths
from lanet.agent.secrets import credentials
from lanet.agent.secrets.protect import default_protector
from lanet.agent.store import Store
from lanet.agent.transport import Transport
from lanet.protocol.contract import Record


def live_status(config: Record, store: Store, transport: Transport, monitor: Monitor) -> dict[str, Any]:
    """The running service's state, the same for every user of the PC (see the local channel)."""
    open_alerts = len(monitor.open)
    state = "offline" if transport.offline else ("warning" if open_alerts else "online")
    if store.get("last_contact") is None:
        state = "starting"
    return {
        "state": state,
        "client_name": store.get("client_name"),
        "site_name": store.get("site_name"),
        "asset_id": config.agent.asset_id,
        "backend": config.backend.url,
        "version": config.agent.version,
        "heartbeat_interval": config.heartbeat.interval,
        "last_contact": store.get("last_contact"),
        "open_alerts": sorted(monitor.open),
        "last_error": transport.last_error,
    }


def status_report(paths: AgentPaths) -> dict[str, Any]:
    """What ``lanet-agent status`` shows; reads the files, never contacts the backend."""
    config = load_config(paths.config_file)
    report: dict[str, Any] = {
        "version": lanet.__version__,
        "home": str(paths.config_dir.parent),
        "backend": config.backend.url,
        "asset_id": config.agent.asset_id,
        "client_id": config.agent.client_id,
        "site_id": config.agent.site_id,
        "heartbeat_interval": config.heartbeat.interval,
        "registered": False,
    }
    if not Path(paths.database).exists():
        return report
    store = Store(paths.database, default_protector(paths.key_file, config.security.encryption_enabled))
    try:
        creds = credentials.load(store)
        report.update(
            registered=creds is not None and config.agent.asset_id is not None,
            client_name=store.get("client_name"),
            site_name=store.get("site_name"),
            token_expires_at=_iso(creds.expires_at) if creds else None,
            last_contact=_iso(store.get("last_contact")),
            last_heartbeat=_iso(store.get("last_heartbeat")),
            outbox=store.outbox_counts(),
            dead_letters=[
                {
                    "kind": dead.kind,
                    "id": dead.id,
                    "status": dead.status,
                    "code": dead.code,
                    "error": dead.error,
                    "refused_at": _iso(dead.refused_at),
                    "reported": dead.reported,
                }
                for dead in store.dead_letters()
            ],
            heartbeats_queued=store.get("heartbeats_queued", 0),
            dropped_heartbeats=store.get("dropped_heartbeats", 0),
            config_revision=store.get("config_revision"),
        )
    finally:
        store.close()
    return report


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
