"""Agent self-update on the wire: the offer in the heartbeat's answer and the agent's reports.

The offer only says which signed release applies to the agent; what it installs is decided by the
TUF metadata its trusted root verifies, never by these fields (a compromised backend can offer, not
forge). ``POST /agents/update-status`` is how the agent says where it is with a release.
"""

from typing import Annotated

from pydantic import Field

from lanet.protocol.common import Timestamp, UUIDStr, WireModel
from lanet.protocol.values import ReleasePlatform, UpdateState
from lanet.protocol.versions import MAX_VERSION_LENGTH, VERSION_PATTERN

Version = Annotated[str, Field(pattern=VERSION_PATTERN, max_length=MAX_VERSION_LENGTH)]
#: A TUF target path: ``<platform>/<file name>``.
TARGET_PATTERN = r"^(windows-x64|linux-deb)/[A-Za-z0-9][A-Za-z0-9._+~-]{0,126}$"
MAX_UPDATE_REASON = 1000


class UpdateOffer(WireModel):
    """A release this agent should install (in ``HeartbeatResponse.update``)."""

    version: Version
    platform: ReleasePlatform
    target: str = Field(pattern=TARGET_PATTERN, max_length=160)
    rollback: bool = Field(default=False, description="Signed as a rollback: may be older than what runs")
    now: bool = Field(default=False, description="A technician asked for it now, outside the update window")
    previous_target: str | None = Field(
        default=None,
        pattern=TARGET_PATTERN,
        max_length=160,
        description="The package of the version the agent runs now, if published: its way back",
    )


class UpdateReport(WireModel):
    """Body of ``POST /agents/update-status``: one step of one asset with one release."""

    asset_id: UUIDStr
    report_id: UUIDStr = Field(description="Made once per report and kept across retries")
    version: Version = Field(description="The release this report is about")
    state: UpdateState
    reason: str = Field(default="", max_length=MAX_UPDATE_REASON)
    running_version: Version | None = Field(default=None, description="The version the agent runs now")
    at: Timestamp


class UpdateReportAck(WireModel):
    """``data`` of the answer: the state the server recorded."""

    state: UpdateState
