"""Server settings, read once from the environment (``LANET_*``) with safe defaults.

The embedded default is a SQLite file under the data directory; ``LANET_DATABASE_URL`` selects
PostgreSQL (``postgresql+psycopg://user@host/db`` or the plain ``postgresql://`` form).
"""

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_HEARTBEAT_INTERVAL = 60
#: An asset is offline after this many missed heartbeat intervals.
MISSED_INTERVALS_OFFLINE = 3


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` requests per ``seconds`` window."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "RateLimit":
        """Read ``"20/60"`` (count per seconds) or ``"20/minute"``."""
        units = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
        count, _, per = text.partition("/")
        seconds = units.get(per.strip().rstrip("s"))
        if seconds is None:
            seconds = int(per)
        if int(count) < 1 or seconds < 1:
            raise ValueError(f"rate limit {text!r}: count and window must be positive")
        return cls(int(count), seconds)


@dataclass(frozen=True)
class Retention:
    """How long each kind of history is kept, in days (``LANET_RETENTION_RAW_DAYS``, ``_FINE_DAYS``,
    ``_COARSE_DAYS``, ``_LOGS_DAYS``, ``_AUDIT_DAYS``)."""

    raw_days: int = 14
    fine_days: int = 90
    coarse_days: int = 730
    logs_days: int = 30
    audit_days: int = 730
    #: Rate-limit windows older than this are over whatever their length.
    rate_limit_days: int = 2

    @classmethod
    def from_env(cls) -> "Retention":
        return cls(
            **{
                name: _positive_int(f"LANET_RETENTION_{name.upper()}", default)
                for name, default in vars(cls()).items()
            }
        )


def normalise_database_url(url: str) -> str:
    """Make SQLAlchemy use psycopg 3 for a plain ``postgresql://`` URL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _load_secret(data_dir: Path) -> str:
    """The signing secret: ``LANET_SECRET_KEY`` or a random key kept in ``data_dir/secret.key`` (0600).

    Several worker processes share the file, so the first one to start creates it atomically.
    """
    env = os.environ.get("LANET_SECRET_KEY")
    if env:
        if len(env) < 32:
            raise ValueError("LANET_SECRET_KEY must be at least 32 characters")
        return env
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails if another process won the race; theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


#: Next to ``secret.key``: the secrets it replaced, newest first, one per line.
PREVIOUS_SECRETS_FILE = "secret.previous"


def _load_previous_secrets(data_dir: Path) -> tuple[str, ...]:
    """Secrets that still verify what they made: ``LANET_PREVIOUS_SECRET_KEYS`` (separated by spaces,
    commas or new lines) and those ``lanet-server secret-key rotate`` kept in the data directory."""
    found = os.environ.get("LANET_PREVIOUS_SECRET_KEYS", "").replace(",", " ").split()
    path = data_dir / PREVIOUS_SECRETS_FILE
    if path.exists():
        found += path.read_text().split()
    for value in found:
        if len(value) < 32:
            raise ValueError("every previous secret key must be at least 32 characters")
    return tuple(dict.fromkeys(found))


def _positive_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1")
    return value


def parse_trusted_proxies(text: str) -> tuple[str, ...]:
    """``LANET_TRUSTED_PROXIES``: addresses or CIDRs, separated by commas or spaces."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"LANET_TRUSTED_PROXIES: {item!r} is not an address or CIDR") from None
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    data_dir: Path
    #: Earlier secret keys: they still verify the digests and JWTs they made (see ``Keys``).
    previous_secret_keys: tuple[str, ...] = ()
    public_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL
    register_rate: RateLimit = field(default_factory=lambda: RateLimit(30, 60))
    agent_rate: RateLimit = field(default_factory=lambda: RateLimit(120, 60))
    auth_failure_rate: RateLimit = field(default_factory=lambda: RateLimit(60, 60))
    #: Per asset: reads and comments on the PC's tickets, tickets created, agent log lines stored.
    ticket_rate: RateLimit = field(default_factory=lambda: RateLimit(120, 60))
    ticket_create_rate: RateLimit = field(default_factory=lambda: RateLimit(20, 3600))
    agent_log_rate: RateLimit = field(default_factory=lambda: RateLimit(1000, 3600))
    telemetry_async_commit: bool = True
    maintenance_interval: float = 30.0
    #: Proxies in front of ours whose X-Forwarded-For/-Proto are believed (CIDRs).
    trusted_proxies: tuple[str, ...] = ()
    #: Connections the front end holds at once (per nginx worker), and from one address.
    max_connections: int = 4096
    max_connections_per_address: int = 1000
    #: A refresh credential unused for this many days expires (the agent must register again).
    refresh_idle_days: int = 90
    #: The signed release repository (TUF metadata and packages); ``data_dir/releases`` by default.
    releases_dir: Path | None = None
    retention: Retention = field(default_factory=Retention)

    @property
    def release_folder(self) -> Path:
        return self.releases_dir or self.data_dir / "releases"

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        data_dir = Path(os.environ.get("LANET_DATA_DIR", "var")).resolve()
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": normalise_database_url(
                os.environ.get("LANET_DATABASE_URL", f"sqlite:///{data_dir / 'lanet.db'}")
            ),
            "public_url": os.environ.get("LANET_PUBLIC_URL") or None,
            "max_body_bytes": int(os.environ.get("LANET_MAX_BODY_BYTES", DEFAULT_MAX_BODY)),
            "heartbeat_interval": int(os.environ.get("LANET_HEARTBEAT_INTERVAL", DEFAULT_HEARTBEAT_INTERVAL)),
            "telemetry_async_commit": os.environ.get("LANET_TELEMETRY_ASYNC_COMMIT", "1") != "0",
            "trusted_proxies": parse_trusted_proxies(os.environ.get("LANET_TRUSTED_PROXIES", "")),
            "max_connections": _positive_int("LANET_MAX_CONNECTIONS", 4096),
            "max_connections_per_address": _positive_int("LANET_MAX_CONNECTIONS_PER_ADDRESS", 1000),
            "refresh_idle_days": _positive_int("LANET_REFRESH_IDLE_DAYS", 90),
            "retention": Retention.from_env(),
            "releases_dir": Path(os.environ["LANET_RELEASES_DIR"])
            if os.environ.get("LANET_RELEASES_DIR")
            else None,
        }
        for name, env in (
            ("register_rate", "LANET_RATE_REGISTER"),
            ("agent_rate", "LANET_RATE_AGENT"),
            ("auth_failure_rate", "LANET_RATE_AUTH_FAILURES"),
            ("ticket_rate", "LANET_RATE_TICKETS"),
            ("ticket_create_rate", "LANET_RATE_TICKET_CREATE"),
            ("agent_log_rate", "LANET_RATE_AGENT_LOGS"),
        ):
            if os.environ.get(env):
                values[name] = RateLimit.parse(os.environ[env])
        values.update(overrides)
        if "secret_key" not in values:
            values["secret_key"] = _load_secret(Path(str(values["data_dir"])))
        if "previous_secret_keys" not in values:
            values["previous_secret_keys"] = _load_previous_secrets(Path(str(values["data_dir"])))
        return cls(**values)  # type: ignore[arg-type]
