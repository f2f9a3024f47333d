"""What a running app holds: settings, database and keys, reachable from any request."""

from dataclasses import dataclass

from flask import current_app

from lanet.server.db import Database
from lanet.server.services.credentials import Keys
from lanet.server.settings import Settings


@dataclass
class AppState:
    settings: Settings
    db: Database
    keys: Keys


def state() -> AppState:
    value: AppState = current_app.extensions["lanet"]
    return value
