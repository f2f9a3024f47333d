"""Customers co-managing their updates: where the MSP turns on ``customer_may_approve`` for a
client, that client's administrators approve an update (it then installs in the MSP's window,
which they cannot change) or postpone one for at most ``customer_defer_days``.

The MSP stays in charge: a technician's deny is final for the customer, and a technician's later
decision replaces the customer's. Every customer decision is audited like a technician's.
"""

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from lanet.server.models import Client
from lanet.server.models.users import ROLE_CLIENT_ADMIN
from lanet.server.services.patches import decisions
from lanet.server.services.patches.policy import Policy

CustomerVerdict = Literal["approve", "postpone"]
#: The roles of a client's users who may co-approve (never a plain requester).
CO_APPROVER_ROLES = (ROLE_CLIENT_ADMIN,)


class CoApprovalRefused(ValueError):
    """The customer may not make this decision; ``code`` says why (the portal words it)."""

    def __init__(self, code: Literal["not_allowed", "denied_by_msp", "too_far"], message: str) -> None:
        super().__init__(message)
        self.code = code


def may_co_approve(session: Session, client_id: str | None, role: str) -> bool:
    """Whether a user of this client and role co-approves its updates."""
    if client_id is None or role not in CO_APPROVER_ROLES:
        return False
    return _allows(decisions.client_policy(session, client_id), role)


def _allows(policy: Policy, role: str) -> bool:
    return role in CO_APPROVER_ROLES and policy.customer_may_approve


def customer_decide(
    session: Session,
    client: Client,
    update_id: str,
    verdict: CustomerVerdict,
    *,
    role: str,
    actor: str,
    now: datetime,
    days: int = 0,
) -> datetime | None:
    """Approve, or postpone for ``days``, one update of the customer's client; returns the end of a
    postponement. Raises :class:`CoApprovalRefused`."""
    policy = decisions.client_policy(session, client.id)
    if not _allows(policy, role):
        raise CoApprovalRefused("not_allowed", "the MSP has not let this client co-approve its updates")
    explicit, _ = decisions.client_decisions(session, client.id)
    if explicit.get(update_id, ("", ""))[0] == "deny":
        raise CoApprovalRefused("denied_by_msp", f"{update_id} was denied by the MSP")
    if verdict == "approve":
        decisions.decide(session, client, update_id, "approve", actor=actor, reason=None, now=now)
        return None
    allowed = policy.customer_defer_days
    if not 1 <= days <= allowed:
        raise CoApprovalRefused("too_far", f"a postponement lasts from 1 to {allowed} days")
    until = now + timedelta(days=days)
    decisions.postpone(session, client, update_id, until, actor=actor, now=now)
    return until
