"""The agent's connection to its backend: the one :class:`~lanet.agent.transport.Transport`, built
from the configuration and the store's credentials, and brought up to date when the backend pushes
new settings. The transport itself knows nothing of configuration files or stores."""

import logging

from lanet.agent.paths import AgentPaths
from lanet.agent.secrets import credentials
from lanet.agent.store import Store
from lanet.agent.transport import Transport
from lanet.protocol.contract import Record

log = logging.getLogger("lanet.agent.core")


def ca_bundle_of(paths: AgentPaths) -> str | None:
    """A private CA for the backend: ``config/ca.pem`` when present."""
    candidate = paths.config_dir / "ca.pem"
    return str(candidate) if candidate.exists() else None


def plain_http_allowed(store: Store, url: str) -> bool:
    """The development switch; an agent registered on http:// before the switch existed (its store
    has no answer either way) keeps working, warned about at every start like one with the switch."""
    chosen = store.get("insecure_http")
    if chosen is None and url.startswith("http://") and store.get("asset_id") is not None:
        return True
    return bool(chosen)


def make_transport(paths: AgentPaths, store: Store, url: str, config: Record) -> Transport:
    """The transport as the configuration says (``backend.*``, ``security.*``)."""
    return Transport(
        url,
        timeout=config.backend.timeout,
        backoff_base=config.backend.retry_delay,
        offline_after=config.backend.retry_attempts,
        verify=config.security.verify_ssl,
        ca_bundle=ca_bundle_of(paths),
        min_tls13=bool(store.get("min_tls13", True)),
        allow_plain_http=plain_http_allowed(store, url),
        refresh_threshold=config.security.jwt_refresh_threshold,
        load_credentials=lambda: credentials.load(store),
        save_credentials=lambda creds: credentials.save(store, creds),
        identity=lambda: credentials.identity_secret(store),
    )


def reconfigure(transport: Transport, config: Record) -> None:
    """Apply pushed settings to the running transport, keeping its backoff and rate-limit state."""
    transport.reconfigure(
        timeout=config.backend.timeout,
        backoff_base=config.backend.retry_delay,
        offline_after=config.backend.retry_attempts,
        refresh_threshold=config.security.jwt_refresh_threshold,
    )


def warn_about_weak_settings(config: Record) -> None:
    """Said at every start: settings that weaken the connection to the backend."""
    if not config.security.verify_ssl:
        log.warning(
            "!!! security.verify_ssl is false: the backend's certificate is NOT checked; anyone "
            "on the network path can impersonate it. Use config/ca.pem for a private CA instead."
        )
    if not config.security.encryption_enabled:
        log.warning("security.encryption_enabled is false: credentials are stored unencrypted")
    if config.backend.url.startswith("http://"):
        log.warning(
            "!!! plain http is allowed (registered with --allow-insecure-http, for development): "
            "tokens and data cross the network unencrypted"
        )
