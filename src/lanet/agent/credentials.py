"""The agent's identity: JWT, refresh credential and ids, kept encrypted in the local store."""

from datetime import datetime

from lanet.agent.store import Store
from lanet.agent.transport import Credentials


def load(store: Store) -> Credentials | None:
    asset_id = store.get("asset_id")
    token = store.get_secret("agent_token")
    refresh = store.get_secret("refresh_token")
    if not (asset_id and token and refresh):
        return None
    return Credentials(asset_id, token, refresh, float(store.get("token_expires_at", 0)))


def save(store: Store, creds: Credentials) -> None:
    store.put_secret("agent_token", creds.agent_token)
    store.put_secret("refresh_token", creds.refresh_token)
    store.put("asset_id", creds.asset_id)
    store.put("token_expires_at", creds.expires_at)


def expiry_of(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()
