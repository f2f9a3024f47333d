"""The offline rule, once: an asset is offline as soon as its deadline (three missed heartbeat
intervals after the last one) has passed, whether or not the maintenance pass has written it yet.
Every reader (the portal's lists and filters, ``assets list``) asks here; the maintenance pass
writes what this says."""

import time
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_

from lanet.server.models import Asset
from lanet.server.models.assets import STATUS_OFFLINE


def overdue(now: float | None = None) -> ColumnElement[bool]:
    """SQL: the asset's deadline has passed."""
    epoch = int(time.time() if now is None else now)
    return and_(Asset.offline_deadline.is_not(None), Asset.offline_deadline < epoch)


def status_now(asset: Any, now: float | None = None) -> str:
    """The asset's state now (``agent_status``, or offline once its deadline passed)."""
    moment = time.time() if now is None else now
    if asset.offline_deadline is not None and asset.offline_deadline < moment:
        return STATUS_OFFLINE
    return str(asset.agent_status)


def with_status(status: str, now: float | None = None) -> ColumnElement[bool]:
    """SQL: assets whose :func:`status_now` is ``status``."""
    late = overdue(now)
    if status == STATUS_OFFLINE:
        return or_(Asset.agent_status == status, late)
    return and_(Asset.agent_status == status, ~late)


def status_case(now: float | None = None) -> ColumnElement[str]:
    """SQL: :func:`status_now` as a value, to group and count by."""
    return case((overdue(now), STATUS_OFFLINE), else_=Asset.agent_status)
