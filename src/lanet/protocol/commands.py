"""Remote commands (the seed's Script Executor): results the agent reports back."""

from typing import Literal, get_args

from pydantic import Field

from lanet.protocol.common import Timestamp, WireModel, short_text
from lanet.protocol.limits import MAX_OUTPUT_CHARS

FinalStatus = Literal["succeeded", "failed", "timed_out", "refused", "interrupted", "expired"]
COMMAND_STATUSES = (
    "queued",
    "delivered",
    "running",
    "succeeded",
    "failed",
    "timed_out",
    "refused",
    "interrupted",
    "expired",
)
FINAL_STATUSES = frozenset(get_args(FinalStatus))


class CommandResult(WireModel):
    """Body of ``POST /agents/commands/result``. Sent through the agent's outbox; a repeat is ignored."""

    command_id: str = Field(min_length=1, max_length=64)
    status: FinalStatus
    exit_code: int | None = Field(default=None, ge=-(2**31), le=2**32)
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
