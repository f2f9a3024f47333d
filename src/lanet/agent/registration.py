"""``lanet-agent register``: trade an install token for the agent's identity and configuration."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import lanet
from lanet.agent import collectors, folders, logs
from lanet.agent.backend import make_transport
from lanet.agent.config import apply_updates, load_config, make_config, save_config, write_atomic
from lanet.agent.inventory import inventory_digest
from lanet.agent.paths import AgentPaths
from lanet.agent.secrets import credentials
from lanet.agent.secrets.protect import default_protector
from lanet.agent.store import Store
from lanet.agent.transport import Credentials, InsecureBackendError, TransportError
from lanet.protocol import contract
from lanet.protocol.contract import ContractError, Record
from lanet.protocol.errors import TOKEN_REFUSAL_REASONS, ErrorCode

log = logging.getLogger("lanet.agent.registration")

#: How long ``register`` waits out rate limits and an unreachable backend before giving up (seconds).
REGISTER_PATIENCE = 600.0


class RegistrationError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Registered:
    asset_id: str
    client_id: str
    site_id: str
    client_name: str | None
    site_name: str | None
    existing: bool
    replaces: str | None = None


def normalise_server(url: str) -> str:
    """``https://host`` and ``https://host/`` mean the API root ``https://host/api``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistrationError(
            f"--server must be an http(s) URL such as https://helpdesk.example.com/api, not {url!r}", 2
        )
    path = parts.path.rstrip("/") or "/api"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def read_token(paths: AgentPaths, token: str | None) -> str:
    if token:
        return token.strip()
    try:
        value = paths.token_file.read_text(encoding="utf-8-sig").strip()
    except OSError:
        raise RegistrationError(f"no --token given and {paths.token_file} cannot be read", 2) from None
    if not value:
        raise RegistrationError(f"{paths.token_file} is empty", 2)
    return value


def register(
    paths: AgentPaths,
    server: str,
    token: str | None,
    *,
    min_tls13: bool = True,
    keep_token: bool = False,
    allow_insecure_http: bool = False,
) -> Registered:
    """Register; ``keep_token`` also writes a given token to ``config/token.txt`` (the installer's
    layout, in the folder only SYSTEM and Administrators can read) for a later re-registration.

    The seed's first security measure is HTTPS with TLS 1.3: older TLS is refused unless
    ``min_tls13`` is off, and a plain ``http://`` backend only with ``allow_insecure_http``, the
    development switch (the agent then warns at every start)."""
    folders.prepare(paths)
    url = normalise_server(server)
    token_value = read_token(paths, token)
    if keep_token and token:
        write_atomic(paths.token_file, token_value + "\n")
    config = load_config(paths.config_file)
    logs.setup(config, paths.logs_dir, console=False)
    store = Store(paths.database, default_protector(paths.key_file, config.security.encryption_enabled))
    try:
        store.put("min_tls13", min_tls13)
        store.put("insecure_http", allow_insecure_http)
        try:
            transport = make_transport(paths, store, url, config)
        except InsecureBackendError as exc:
            raise RegistrationError(str(exc), 2) from None
        hardware_info = contract.validate("HardwareInfo", collectors.inventory())
        body = {
            "token": token_value,
            "hardware_info": hardware_info,
            "agent_version": lanet.__version__,
            "identity_secret": credentials.identity_secret(store),
        }
        try:
            # Many PCs behind one NAT share the server's per-address quota: a 429 is waited out (as
            # Retry-After says, within REGISTER_PATIENCE) rather than failing the installer.
            data = transport.post_within("/agents/register-with-token", body, budget=REGISTER_PATIENCE)
        except TransportError as exc:
            if exc.code in TOKEN_REFUSAL_REASONS:
                reason = TOKEN_REFUSAL_REASONS[ErrorCode(exc.code)]
                raise RegistrationError(f"registration refused ({exc.code}): {reason}", 3) from None
            raise RegistrationError(f"registration failed: {exc}", 4) from None
        try:
            reply = Record(contract.validate("RegisterResponse", data))
        except ContractError as exc:
            raise RegistrationError(f"the backend's answer is not a registration: {exc}", 4) from None
        if not reply.refresh_token:
            raise RegistrationError("the backend did not hand out a refresh credential", 4)
        _keep(paths, store, config, reply, url, hardware_info)
        if reply.config.backend_url.rstrip("/") != url:
            log.info("the backend calls itself %s; this agent keeps using %s", reply.config.backend_url, url)
        log.info("registered as asset %s (%s / %s)", reply.asset_id, reply.client_name, reply.site_name)
        if reply.replaces_asset_id:
            log.warning(
                "this machine looks like asset %s but could not prove it is that one; it was registered "
                "as a new asset until a technician merges or rejects it",
                reply.replaces_asset_id,
            )
        return Registered(
            reply.asset_id,
            reply.client_id,
            reply.site_id,
            reply.client_name,
            reply.site_name,
            reply.existing_asset,
            reply.replaces_asset_id,
        )
    finally:
        store.close()


def _keep(
    paths: AgentPaths, store: Store, config: Any, reply: Record, url: str, hardware_info: dict[str, Any]
) -> None:
    """Store what the registration answered: credentials, names, the first configuration."""
    credentials.save(
        store,
        Credentials(
            reply.asset_id,
            reply.agent_token,
            reply.refresh_token,
            datetime.fromisoformat(reply.token_expires_at).timestamp() if reply.token_expires_at else 0.0,
        ),
    )
    store.put("client_name", reply.client_name)
    store.put("site_name", reply.site_name)
    store.put("inventory_digest", inventory_digest(hardware_info))
    store.put("inventory_sent_at", time.time())
    # The answer's config block is the seed's flat keys: applied exactly as a pushed update would be
    # (its backend_url is how the server calls itself, reported by register(), not a setting).
    settings = {key: value for key, value in reply.config.items() if key != "backend_url"}
    pushed, _applied, refused = apply_updates(config, settings)
    for key, reason in refused.items():
        log.warning("the registration's %s was not applied: %s", key, reason)
    data_config: dict[str, Any] = pushed.to_dict()
    data_config["agent"].update(
        asset_id=reply.asset_id,
        client_id=reply.client_id,
        site_id=reply.site_id,
        version=lanet.__version__,
    )
    data_config["backend"]["url"] = url
    data_config["logging"]["file_path"] = str(paths.logs_dir / "agent.log")
    save_config(paths.config_file, make_config(data_config))
