"""The allowed values of the contract, declared once: what scripts, commands and tickets may be.

Plain ``typing`` only, so the agent's service and the tray read them without pydantic; the pydantic
models, the server's columns and forms, the CLI's choices, the agent's checks and the tray's menus all
take them from here. Each ``Literal`` is the declaration; its tuple is derived from it.
"""

from typing import Literal, get_args

ScriptType = Literal["powershell", "batch", "bash", "sh", "python"]
"""Interpreters a remote script may be written for."""
SCRIPT_TYPES: tuple[str, ...] = get_args(ScriptType)
#: The seed's default ``allowed_scripts``: Windows' two shells.
DEFAULT_SCRIPT_TYPES: tuple[str, ...] = ("powershell", "batch")

CommandType = Literal[ScriptType, "script"]
"""``script`` is the seed example's generic type: the platform's default shell."""
COMMAND_TYPES: tuple[str, ...] = get_args(CommandType)

CommandPriority = Literal["low", "normal", "high"]
COMMAND_PRIORITIES: tuple[str, ...] = get_args(CommandPriority)

FinalCommandStatus = Literal["succeeded", "failed", "timed_out", "refused", "interrupted", "expired"]
FINAL_COMMAND_STATUSES: tuple[str, ...] = get_args(FinalCommandStatus)
#: Queued for the asset, or offered to it and not yet recorded by its agent.
PENDING_COMMAND_STATUSES: tuple[str, ...] = ("queued", "delivered")
COMMAND_STATUSES: tuple[str, ...] = (*PENDING_COMMAND_STATUSES, "running", *FINAL_COMMAND_STATUSES)

TicketPriority = Literal["baja", "media", "alta", "critica"]
TICKET_PRIORITIES: tuple[str, ...] = get_args(TicketPriority)

TicketStatus = Literal["nuevo", "asignado", "en_progreso", "esperando_cliente", "resuelto", "cerrado"]
TICKET_STATUSES: tuple[str, ...] = get_args(TicketStatus)
OPEN_TICKET_STATUSES: tuple[str, ...] = TICKET_STATUSES[:4]
#: A ticket may be rated once it is in one of these.
RATEABLE_TICKET_STATUSES: tuple[str, ...] = ("resuelto", "cerrado")

TicketChannel = Literal["agente", "portal", "email", "api", "telefono"]
TICKET_CHANNELS: tuple[str, ...] = get_args(TicketChannel)

ReleasePlatform = Literal["windows-x64", "linux-deb"]
"""What a release package installs on: the MSI on 64-bit Windows, the .deb on Debian and Ubuntu."""
RELEASE_PLATFORMS: tuple[str, ...] = get_args(ReleasePlatform)

UpdateState = Literal["offered", "downloading", "staged", "installed", "healthy", "rolled_back", "failed"]
"""Where one asset is with one release, as its agent reports it (``offered`` is the server's own)."""
UPDATE_STATES: tuple[str, ...] = get_args(UpdateState)
#: An asset in one of these is done with the release: the server stops offering it.
FINAL_UPDATE_STATES: tuple[str, ...] = ("healthy", "rolled_back", "failed")
#: These count against the rollout's failure threshold.
FAILED_UPDATE_STATES: tuple[str, ...] = ("rolled_back", "failed")

PatchSource = Literal["windows_update", "apt", "dnf"]
"""Where an OS update comes from: the Windows Update Agent, Debian's apt, Fedora's dnf."""
PATCH_SOURCES: tuple[str, ...] = get_args(PatchSource)

PatchClassification = Literal["critical", "security", "definition", "feature", "driver", "other"]
"""Windows Update's categories, folded; apt and dnf say ``security`` by origin or advisory."""
PATCH_CLASSIFICATIONS: tuple[str, ...] = get_args(PatchClassification)

PatchSeverity = Literal["critical", "important", "moderate", "low", "unspecified"]
"""The MSRC severity (``MsrcSeverity``) or the advisory's; ``unspecified`` where none is given."""
PATCH_SEVERITIES: tuple[str, ...] = get_args(PatchSeverity)

PatchState = Literal[
    "available",
    "approved",
    "denied",
    "downloading",
    "installed",
    "failed",
    "reboot_pending",
    "verified",
    "not_upgraded",
]
"""Where one update is on one asset: ``available``, ``approved`` and ``denied`` are the server's
decisions; the rest the agent reports (``not_upgraded``: the package manager said it installed, the
version on disk says otherwise)."""
PATCH_STATES: tuple[str, ...] = get_args(PatchState)
#: The states an agent reports for an update it was told to install.
AGENT_PATCH_STATES: tuple[str, ...] = (
    "downloading",
    "installed",
    "failed",
    "reboot_pending",
    "verified",
    "not_upgraded",
)

RebootPolicy = Literal["never", "in_window", "ask_user"]
"""After updates that need it: never reboot, reboot inside the window, or ask the logged-in user."""
REBOOT_POLICIES: tuple[str, ...] = get_args(RebootPolicy)

RebootAction = Literal["asked", "deferred", "restarting", "rebooted", "blocked"]
"""What happened about a pending reboot: the user was asked, put it off, the restart was started, the
machine came back (its updates are then verified), or the machine's own setting
(``patches.allow_restart``) forbids the agent to restart it."""
REBOOT_ACTIONS: tuple[str, ...] = get_args(RebootAction)

#: What the agent does to the PC's own Windows Update settings: nothing (the default), make them
#: notify before downloading, or turn automatic updates off; switching back to ``leave`` restores
#: what was there before the agent first changed them.
AutoUpdateMode = Literal["leave", "notify", "disable"]
AUTO_UPDATE_MODES: tuple[str, ...] = get_args(AutoUpdateMode)

#: When a patch policy's script runs: before the run's first install, or after its last.
PatchScriptPhase = Literal["pre", "post"]
PATCH_SCRIPT_PHASES: tuple[str, ...] = get_args(PatchScriptPhase)

RebootTrigger = Literal["window", "user", "deadline", "os"]
"""Who or what brought the reboot about: the maintenance window (policy ``in_window``), the
logged-in user, the deadline of ``ask_user``, or the OS itself (someone restarted the machine)."""
REBOOT_TRIGGERS: tuple[str, ...] = get_args(RebootTrigger)
