"""The agent's identity: JWT, refresh credential, identity secret and ids, kept encrypted in the
local store."""

import secrets

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
    """All of the identity at once (the refresh credential works once: it must never be half-saved)."""
    store.put_together(
        {"refresh_token": creds.refresh_token, "agent_token": creds.agent_token},
        {"asset_id": creds.asset_id, "token_expires_at": creds.expires_at},
    )


def identity_secret(store: Store) -> str:
    """The secret that proves this machine is the one registered before, made once, before the
    first registration is sent (so a retry after a lost answer carries the same one), and kept with
    the data: a reinstall that keeps the data keeps the asset, a reimaged disk starts a new one."""
    secret = store.get_secret("identity_secret")
    if secret is None:
        secret = secrets.token_urlsafe(48)
        store.put_secret("identity_secret", secret)
    return secret
