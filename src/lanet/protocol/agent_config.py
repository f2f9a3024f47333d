"""The agent's ``agent_config.json``: exactly the seed's sections and keys, typed and validated.

Unknown keys are refused (``extra="forbid"``): in a hand-edited file a misspelt key is a mistake to
report, not a field to ignore silently.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lanet.protocol.common import UUIDStr
from lanet.protocol.limits import check_log_size, parse_size
from lanet.protocol.registration import LogLevel, default_script_types
from lanet.protocol.values import ScriptType


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AgentSection(_Section):
    version: str = Field(default="1.0.0", max_length=32)
    asset_id: UUIDStr | None = None
    client_id: UUIDStr | None = None
    site_id: UUIDStr | None = None


class BackendSection(_Section):
    url: str = Field(default="https://helpdesk.lanet.mx/api", pattern=r"^https?://\S+$", max_length=2048)
    timeout: Annotated[float, Field(gt=0, le=600)] = 30
    retry_attempts: Annotated[int, Field(ge=0, le=100)] = 3
    retry_delay: Annotated[float, Field(ge=0, le=3600)] = 5


class HeartbeatSection(_Section):
    interval: Annotated[int, Field(ge=5, le=86_400)] = 60
    enabled: bool = True
    include_metrics: bool = True
    include_logs: bool = True


class MonitoringSection(_Section):
    enabled: bool = True
    cpu_threshold: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False)] = 90
    memory_threshold: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False)] = 90
    disk_threshold: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False)] = 85
    service_monitoring: bool = True
    process_monitoring: bool = False


class AlertDelaysSection(_Section):
    """How long a threshold must stay crossed before its alert opens, in minutes: "CPU over 90 %
    for 10 minutes", not one busy sample. 0 alerts at the first sample over the line. Disk usage
    moves slowly and is real when it crosses, so it alerts at once by default."""

    cpu_minutes: Annotated[int, Field(ge=0, le=1440)] = 10
    memory_minutes: Annotated[int, Field(ge=0, le=1440)] = 10
    disk_minutes: Annotated[int, Field(ge=0, le=1440)] = 0


class ScriptsSection(_Section):
    enabled: bool = True
    allowed_types: list[ScriptType] = Field(default_factory=default_script_types)
    timeout: Annotated[int, Field(ge=1, le=86_400)] = 300
    max_concurrent: Annotated[int, Field(ge=1, le=32)] = 3


class LoggingSection(_Section):
    level: LogLevel = "INFO"
    file_path: str = Field(default="C:\\ProgramData\\LANETAgent\\logs\\agent.log", max_length=1024)
    max_size: str = "10MB"
    backup_count: Annotated[int, Field(ge=0, le=100)] = 5
    send_to_backend: bool = True

    @field_validator("max_size")
    @classmethod
    def _size_is_readable(cls, value: str) -> str:
        return check_log_size(value)

    @property
    def max_bytes(self) -> int:
        return parse_size(self.max_size)


#: A local time of day, ``HH:MM``.
CLOCK_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"


class UpdatesSection(_Section):
    """Self-update: when releases may be installed (the seed's ``update_schedule``) and how long
    the new version has to prove itself before the previous one is put back."""

    enabled: bool = True
    schedule: str = Field(default="02:00", pattern=CLOCK_PATTERN)
    window_minutes: Annotated[int, Field(ge=15, le=1440)] = 120
    health_timeout: Annotated[int, Field(ge=30, le=7200)] = 600


class PatchesSection(_Section):
    """OS updates on this machine, set locally by its administrator and never pushed: a machine the
    agent must not restart (a server, a kiosk, a PC running a long job) keeps
    ``allow_restart: false``, and updates that need a reboot then wait for one, whatever the
    patch policy says."""

    allow_restart: bool = True


class SecuritySection(_Section):
    verify_ssl: bool = True
    jwt_refresh_threshold: Annotated[int, Field(ge=0, le=86_400)] = 3600
    encryption_enabled: bool = True


class AgentConfig(_Section):
    """The whole file. Defaults are the seed's example values."""

    agent: AgentSection = Field(default_factory=AgentSection)
    backend: BackendSection = Field(default_factory=BackendSection)
    heartbeat: HeartbeatSection = Field(default_factory=HeartbeatSection)
    monitoring: MonitoringSection = Field(default_factory=MonitoringSection)
    alert_delays: AlertDelaysSection = Field(default_factory=AlertDelaysSection)
    scripts: ScriptsSection = Field(default_factory=ScriptsSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    updates: UpdatesSection = Field(default_factory=UpdatesSection)
    patches: PatchesSection = Field(default_factory=PatchesSection)
