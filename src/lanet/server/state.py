"""What a running app holds: settings, database and keys, reachable from any request."""

from dataclasses import dataclass, field

from flask import current_app

from lanet.server.db import Database
from lanet.server.services.credentials import Keys
from lanet.server.services.patches.requests import ScanRequests
from lanet.server.services.releases.rollouts import RolloutCache
from lanet.server.settings import Settings


@dataclass
class AppState:
    settings: Settings
    db: Database
    keys: Keys
    #: The active rollouts as this process last read them (the heartbeat's offers come from here).
    rollouts: RolloutCache = field(default_factory=RolloutCache)
    #: Technicians' open "scan now" requests, as this process last read them.
    scan_requests: ScanRequests = field(default_factory=ScanRequests)


def state() -> AppState:
    value: AppState = current_app.extensions["lanet"]
    return value
