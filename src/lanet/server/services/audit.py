"""Writing the audit log. Callers pass the session of the change they audit, so the entry commits
(or rolls back) with the change itself."""

from typing import Any

from sqlalchemy.orm import Session

from lanet.server.models import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    client_id: str | None = None,
    ip_address: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor[:255],
            action=action,
            target_type=target_type,
            target_id=target_id,
            client_id=client_id,
            ip_address=ip_address,
            outcome=outcome,
            details=details,
        )
    )
