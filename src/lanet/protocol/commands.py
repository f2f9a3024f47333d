"""Remote commands (the seed's Script Executor): results the agent reports back."""

from pydantic import Field

from lanet.protocol.common import Timestamp, WireModel, short_text
from lanet.protocol.limits import MAX_OUTPUT_CHARS
from lanet.protocol.values import COMMAND_STATUSES, FINAL_COMMAND_STATUSES, FinalCommandStatus

__all__ = ["COMMAND_STATUSES", "FINAL_STATUSES", "CommandResult", "CommandResultAck", "FinalStatus"]

FinalStatus = FinalCommandStatus
FINAL_STATUSES = frozenset(FINAL_COMMAND_STATUSES)
#: Exit codes as the OSes give them: a signed 32-bit value on POSIX (a signal is negative), an
#: unsigned DWORD on Windows (an access violation is 3221225477, ``exit /b -1`` is 4294967295).
EXIT_CODE_MIN = -(2**31)
EXIT_CODE_MAX = 2**32 - 1


class CommandResult(WireModel):
    """Body of ``POST /agents/commands/result``. Sent through the agent's outbox; a repeat is ignored."""

    command_id: str = Field(min_length=1, max_length=64)
    status: FinalStatus
    exit_code: int | None = Field(
        default=None,
        ge=EXIT_CODE_MIN,
        le=EXIT_CODE_MAX,
        description="Negative for a POSIX signal (-9); Windows codes are unsigned 32-bit (0xC0000005)",
    )
    stdout: str = Field(default="", max_length=MAX_OUTPUT_CHARS)
    stderr: str = Field(default="", max_length=MAX_OUTPUT_CHARS)
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    reason: str | None = short_text(1000)


class CommandResultAck(WireModel):
    command_id: str
    status: str
    duplicate: bool = Field(description="True when this result had already been recorded")
