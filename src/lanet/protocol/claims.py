"""Claims of the agent's JWT, exactly the seed's set."""

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lanet.protocol.common import UUIDStr

#: The seed: "Expiración (24 horas)".
AGENT_JWT_LIFETIME = timedelta(hours=24)


class AgentClaims(BaseModel):
    """``asset_id, client_id, site_id, computer_name, type, exp, iat``; nothing more, nothing less."""

    model_config = ConfigDict(extra="forbid")

    asset_id: UUIDStr
    client_id: UUIDStr
    site_id: UUIDStr
    computer_name: str = Field(max_length=255)
    type: Literal["agent"]
    exp: int = Field(ge=0)
    iat: int = Field(ge=0)
