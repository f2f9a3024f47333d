"""Registration: ``POST /agents/register-with-token`` and the inventory it carries.

Field names and meanings follow the seed's "Hardware Information" and "Software Information"
sections. Every inventory field is optional (null when the OS cannot answer it) except the computer
name, without which a technician cannot tell machines apart.
"""

from typing import Annotated, Literal

from pydantic import Field

from lanet.protocol.common import (
    NonNegativeFloat,
    NonNegativeInt,
    Timestamp,
    UUIDStr,
    WireModel,
    short_text,
)
from lanet.protocol.values import DEFAULT_SCRIPT_TYPES, ScriptType

ServiceState = Literal["running", "stopped", "paused", "starting", "stopping", "failed", "unknown"]
"""A service's run state, normalised across Windows (SCM states) and Linux (systemd active states)."""

StartupType = Literal["automatic", "manual", "disabled", "unknown"]


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

MAX_SOFTWARE_ITEMS = 10_000


def default_script_types() -> list[ScriptType]:
    """The seed's default ``allowed_scripts``: Windows' two shells."""
    return list(DEFAULT_SCRIPT_TYPES)  # type: ignore[arg-type]


MAX_SERVICES = 5_000


class InstalledSoftware(WireModel):
    """One installed program (seed: ``installed_software[]``)."""

    name: str = Field(min_length=1, max_length=512)
    version: str | None = short_text(128)
    publisher: str | None = short_text(255)
    install_date: str | None = Field(
        default=None, max_length=64, description="As the OS reports it; ISO date (YYYY-MM-DD) when known"
    )
    size: str | None = Field(default=None, max_length=64, description="Size on disk, e.g. '245.3 MB'")


class ServiceInfo(WireModel):
    """One OS service (seed: ``services[]``)."""

    name: str = Field(min_length=1, max_length=255)
    display_name: str | None = short_text(255)
    status: ServiceState = "unknown"
    startup: StartupType = "unknown"
    description: str | None = short_text(2000)


class UpdatesInfo(WireModel):
    """OS update state (seed: ``updates``)."""

    last_check: Timestamp | None = None
    pending_count: NonNegativeInt | None = None
    last_install: Timestamp | None = None
    auto_update_enabled: bool | None = None
    pending: list[Annotated[str, Field(max_length=255)]] | None = Field(
        default=None, max_length=2000, description="Names of pending updates, when the OS lists them"
    )


class HardwareInfo(WireModel):
    """The machine's inventory as sent at registration (seed: ``hardware_info``).

    Beside the seed's "Hardware Information" fields it carries the seed example's asset fields
    (``assigned_user``, ``department``, ``estimated_value``, ``warranty_expires``) and the
    "Software Information" lists. ``machine_id`` is ours: a stable OS identity (Windows MachineGuid,
    Linux /etc/machine-id) that lets the server recognise a re-registering machine.
    """

    computer_name: str = Field(min_length=1, max_length=255)
    os: str | None = short_text(255)
    os_version: str | None = short_text(128)
    cpu: str | None = short_text(255)
    cpu_cores: Annotated[int, Field(ge=1, le=4096)] | None = None
    cpu_threads: Annotated[int, Field(ge=1, le=16384)] | None = None
    ram: str | None = short_text(128)
    disk: str | None = short_text(1000)
    mac_address: str | None = Field(
        default=None, pattern=r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$", description="Primary MAC address"
    )
    ip_address: str | None = short_text(64)
    domain: str | None = short_text(255)
    serial_number: str | None = short_text(255)
    motherboard: str | None = short_text(255)
    bios_version: str | None = short_text(255)
    assigned_user: str | None = short_text(255)
    department: str | None = short_text(255)
    estimated_value: NonNegativeFloat | None = None
    warranty_expires: Timestamp | None = None
    machine_id: str | None = short_text(128)
    installed_software: list[InstalledSoftware] = Field(default_factory=list, max_length=MAX_SOFTWARE_ITEMS)
    services: list[ServiceInfo] = Field(default_factory=list, max_length=MAX_SERVICES)
    updates: UpdatesInfo | None = None


IdentitySecret = Annotated[str, Field(min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
"""The agent's proof of identity: random, URL-safe, made on the machine, stored on the server as a digest."""


class RegisterRequest(WireModel):
    """Body of ``POST /agents/register-with-token``.

    The token's form is checked by the endpoint rather than here, so that a malformed token earns the
    seed's specific refusal (``TOKEN_MALFORMED``) instead of a generic validation error.
    """

    token: str = Field(max_length=64, description="Install token, LANET-XXXX-XXXX-XXXXXX")
    hardware_info: HardwareInfo
    agent_version: str | None = short_text(32)
    identity_secret: IdentitySecret | None = Field(
        default=None,
        description="Made by the agent before its first registration and kept: a later registration of "
        "the same machine must present it to get the same asset back (machine id, serial and MAC are "
        "readable by anyone and prove nothing)",
    )


class RegistrationConfig(WireModel):
    """The ``config`` block of the registration answer, exactly the seed's keys."""

    heartbeat_interval: Annotated[int, Field(ge=5, le=86_400)] = 60
    monitoring_enabled: bool = True
    auto_ticket_creation: bool = False
    allowed_scripts: list[ScriptType] = Field(default_factory=default_script_types)
    update_schedule: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    log_level: LogLevel = "INFO"
    backend_url: str = Field(max_length=2048)


class RegisterResponse(WireModel):
    """``data`` of the 201 answer: the seed's fields, plus names and the refresh credential."""

    asset_id: UUIDStr
    client_id: UUIDStr
    site_id: UUIDStr
    agent_token: str
    config: RegistrationConfig
    registered_at: Timestamp
    client_name: str | None = None
    site_name: str | None = None
    refresh_token: str | None = Field(
        default=None, description="Long-lived credential for POST /agents/token/refresh; shown once"
    )
    token_expires_at: Timestamp | None = None
    existing_asset: bool = Field(default=False, description="True when this machine was already registered")
    replaces_asset_id: UUIDStr | None = Field(
        default=None,
        description="Set when this machine looks like an asset already registered but could not prove it "
        "is that one: this is a new asset, until a technician merges or rejects it",
    )


class RefreshRequest(WireModel):
    """Body of ``POST /agents/token/refresh``: trade the refresh credential for a fresh agent JWT."""

    asset_id: UUIDStr
    refresh_token: str = Field(min_length=16, max_length=256)
    identity_secret: IdentitySecret | None = Field(
        default=None, description="Enrols the agent's identity secret when the server has none for it yet"
    )


class RefreshResponse(WireModel):
    agent_token: str
    token_expires_at: Timestamp
    refresh_token: str | None = Field(
        default=None,
        description="The next refresh credential: each one works once (keep this one, forget the old)",
    )
