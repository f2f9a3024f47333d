"""OS updates on the wire: what a scan found, and where each update is on an asset.

A scan lists every applicable update with its identity (the Windows Update ``UpdateID`` and its
KBs; on Linux the package and its versions, identified as ``<package>=<version>`` so an approval is
of one version), title, classification, severity, size, whether it needs a reboot and whether it is
already downloaded. ``POST /agents/patches/scan`` carries it through the outbox; the server keeps the
latest state per asset and update, and every scan and state change as history.
"""

from typing import Annotated

from pydantic import Field

from lanet.protocol.commands import EXIT_CODE_MAX, EXIT_CODE_MIN
from lanet.protocol.common import Timestamp, UUIDStr, WireModel
from lanet.protocol.limits import (
    MAX_PATCH_SCRIPT_CHARS,
    MAX_PATCH_SCRIPT_OUTPUT,
    MAX_PATCH_SCRIPT_TIMEOUT,
    MAX_SCAN_ITEMS,
    UPDATE_ID_PATTERN,
)
from lanet.protocol.values import (
    AutoUpdateMode,
    FinalCommandStatus,
    PatchClassification,
    PatchScriptPhase,
    PatchSeverity,
    PatchSource,
    PatchState,
    RebootAction,
    RebootPolicy,
    RebootTrigger,
    ScriptType,
)

UpdateId = Annotated[str, Field(pattern=UPDATE_ID_PATTERN, max_length=160)]
KB = Annotated[str, Field(pattern=r"^KB[0-9]{4,10}$")]
PackageVersion = Annotated[str, Field(min_length=1, max_length=128)]
MAX_PATCH_ERROR = 1000


class PatchItem(WireModel):
    """One applicable update."""

    update_id: UpdateId
    source: PatchSource
    title: str = Field(min_length=1, max_length=500)
    kb: list[KB] = Field(default_factory=list, max_length=16)
    package: str | None = Field(default=None, max_length=128)
    current_version: PackageVersion | None = None
    available_version: PackageVersion | None = None
    classification: PatchClassification
    severity: PatchSeverity = "unspecified"
    size_bytes: int | None = Field(default=None, ge=0, le=2**53)
    reboot_required: bool = False
    downloaded: bool = False
    origin: str | None = Field(default=None, max_length=255, description="apt's origin, dnf's repository")


class AutoUpdateState(WireModel):
    """The PC's own Windows Update settings as the agent left them at this scan: the policy's mode
    it applied, the managed values now (absent: not set), and whether it changed them this time."""

    mode: AutoUpdateMode
    no_auto_update: int | None = Field(default=None, ge=0, le=2**32 - 1)
    au_options: int | None = Field(default=None, ge=0, le=2**32 - 1)
    changed: bool = False
    restored: bool = Field(default=False, description="Switched back to leave: the earlier values restored")
    error: str | None = Field(default=None, max_length=MAX_PATCH_ERROR)


class PatchScan(WireModel):
    """Body of ``POST /agents/patches/scan``: one scan of one asset."""

    asset_id: UUIDStr
    scan_id: UUIDStr = Field(description="Made once per scan and kept across retries")
    scanned_at: Timestamp
    source: PatchSource | None = Field(default=None, description="None: no update source on this OS")
    items: list[PatchItem] = Field(default_factory=list, max_length=MAX_SCAN_ITEMS)
    reboot_pending: bool = False
    reboot_sources: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=8)
    error: str | None = Field(default=None, max_length=MAX_PATCH_ERROR, description="Why the scan failed")
    duration_ms: int | None = Field(default=None, ge=0, le=86_400_000)
    auto_update: AutoUpdateState | None = Field(default=None, description="Windows only")


class PatchScript(WireModel):
    """A policy's script around an install run (say, stop the ERP's service first and start it
    after). The agent runs it like a remote script, under its own ``scripts`` settings: a type it
    does not allow, or scripts turned off, refuses it."""

    type: ScriptType
    script: str = Field(min_length=1, max_length=MAX_PATCH_SCRIPT_CHARS)
    timeout: int = Field(default=600, ge=1, le=MAX_PATCH_SCRIPT_TIMEOUT)


class PatchPlan(WireModel):
    """What the agent installs, and when: the approved updates of its latest scan, inside its
    maintenance window on its own clock (or at once with ``now``), and what to do about a reboot."""

    revision: str = Field(min_length=1, max_length=64, description="Changes whenever the plan does")
    window_start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    window_minutes: int = Field(ge=1, le=1440)
    window_days: list[Annotated[int, Field(ge=0, le=6)]] = Field(min_length=1, max_length=7)
    install: list[UpdateId] = Field(default_factory=list, max_length=MAX_SCAN_ITEMS)
    now: bool = Field(default=False, description="A technician said install now, outside the window")
    reboot: RebootPolicy = "in_window"
    reboot_deadline_hours: int = Field(default=24, ge=1, le=720)
    max_deferrals: int = Field(default=3, ge=0, le=20)
    pre_script: PatchScript | None = Field(
        default=None, description="Runs before the first install; if it fails, nothing is installed"
    )
    post_script: PatchScript | None = Field(default=None, description="Runs after the last install")
    windows_auto_update: AutoUpdateMode = Field(
        default="leave", description="The PC's own Windows Update settings: left alone unless the policy says"
    )


class PatchScanAck(WireModel):
    """``data`` of the answer: how many updates the server now lists as applicable, and the plan."""

    applicable: int
    plan: PatchPlan | None = None


class PatchResult(WireModel):
    """Where one update of a plan is on the asset."""

    update_id: UpdateId
    state: PatchState
    reason: str = Field(default="", max_length=MAX_PATCH_ERROR)
    error_code: str | None = Field(default=None, max_length=32, description="apt's exit status, a HRESULT")
    installed_version: PackageVersion | None = None


class PatchReboot(WireModel):
    """A step of the reboot the plan's updates wait for: which, brought about by whom (the local
    account that accepted or put it off), and where the deferrals and the deadline stand."""

    action: RebootAction
    trigger: RebootTrigger | None = None
    account: str | None = Field(default=None, max_length=255, description="The PC user who answered")
    deferrals: int = Field(default=0, ge=0, le=20)
    deadline: Timestamp | None = None


class PatchScriptRun(WireModel):
    """How a policy's script ran in one install run (the end of each stream)."""

    phase: PatchScriptPhase
    status: FinalCommandStatus
    exit_code: int | None = Field(default=None, ge=EXIT_CODE_MIN, le=EXIT_CODE_MAX)
    stdout: str = Field(default="", max_length=MAX_PATCH_SCRIPT_OUTPUT)
    stderr: str = Field(default="", max_length=MAX_PATCH_SCRIPT_OUTPUT)
    reason: str | None = Field(default=None, max_length=MAX_PATCH_ERROR)


class PatchReport(WireModel):
    """Body of ``POST /agents/patches/report``: the outcome of one install run."""

    asset_id: UUIDStr
    report_id: UUIDStr = Field(description="Made once per report and kept across retries")
    at: Timestamp
    plan_revision: str = Field(min_length=1, max_length=64)
    results: list[PatchResult] = Field(min_length=1, max_length=MAX_SCAN_ITEMS)
    dry_run: str = Field(
        default="", max_length=20_000, description="What the package manager said it would do"
    )
    reboot_pending: bool = False
    reboot: PatchReboot | None = Field(default=None, description="Set on a report about the reboot")
    scripts: list[PatchScriptRun] = Field(default_factory=list, max_length=2)


class PatchReportAck(WireModel):
    recorded: int
