"""Credentials at rest on Windows: DPAPI in the machine scope, through the agent's store."""

from pathlib import Path

from lanet.agent.secrets.protect import DpapiProtector, default_protector
from lanet.agent.store import Store


def test_dpapi_seals_and_unseals() -> None:
    protector = DpapiProtector()
    blob = protector.seal(b"refresh-token-value")
    assert b"refresh-token-value" not in blob and protector.unseal(blob) == b"refresh-token-value"


def test_the_store_keeps_secrets_sealed_on_disk(tmp_path: Path) -> None:
    protector = default_protector(tmp_path / "agent.key")
    assert protector.name == "dpapi"
    store = Store(tmp_path / "agent.db", protector)
    store.put_secret("agent_token", "eyJhbGciOi.secret.value")
    store.close()
    assert b"secret.value" not in (tmp_path / "agent.db").read_bytes()
    again = Store(tmp_path / "agent.db", DpapiProtector())
    assert again.get_secret("agent_token") == "eyJhbGciOi.secret.value"
    again.close()
