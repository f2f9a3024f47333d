"""Install reports from agents: each update's outcome on the asset, kept as history, audited.

A report is recorded once (by its ``report_id``). Each result moves the asset's update to the state
the agent saw (``installed``, ``failed`` with its error code, ``not_upgraded`` when the package
manager said it installed and the version on disk says otherwise, ``reboot_pending``) and adds an
event; the whole run, with the package manager's dry run, stays in ``patch_reports``.

A report about the reboot the updates wait for (the user was asked, put it off, the restart was
started, the machine came back and its updates were verified) is audited as ``patches.reboot``,
naming the PC user who answered: restarting a customer's PC is a remote action like any other.
The policy's pre- and post-install scripts are audited the same way, each as ``patches.script``
with its outcome: they are remote scripts run as the agent.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lanet.protocol.patches import PatchReport
from lanet.server.models import Asset, AssetPatch, PatchEvent, PatchReportRecord
from lanet.server.services import audit


def record_report(session: Session, asset: Asset, report: PatchReport, *, now: datetime) -> int:
    """Store one report; returns how many results it carried (0 for a repeated report)."""
    if session.scalar(select(PatchReportRecord.id).where(PatchReportRecord.report_id == report.report_id)):
        return 0
    session.add(
        PatchReportRecord(
            asset_id=asset.id,
            report_id=report.report_id,
            at=report.at,
            received_at=now,
            plan_revision=report.plan_revision,
            results=[r.model_dump(mode="json") for r in report.results],
            dry_run=report.dry_run,
            reboot_pending=report.reboot_pending,
            reboot=report.reboot.model_dump(mode="json", exclude_none=True) if report.reboot else None,
            scripts=[run.model_dump(mode="json", exclude_none=True) for run in report.scripts],
        )
    )
    counts: dict[str, int] = {}
    for result in report.results:
        counts[result.state] = counts.get(result.state, 0) + 1
        row = session.get(AssetPatch, (asset.id, result.update_id))
        if row is not None:
            row.state, row.reason, row.updated_at = result.state, result.reason or None, now
            if result.installed_version:
                row.current_version = result.installed_version
        reason = result.reason + (f" (error {result.error_code})" if result.error_code else "")
        session.add(
            PatchEvent(
                asset_id=asset.id,
                update_id=result.update_id,
                state=result.state,
                reason=reason[:1000] or None,
                actor=f"agent:{asset.id}",
                at=report.at,
                details={"report_id": report.report_id, "installed_version": result.installed_version},
            )
        )
    audit.record(
        session,
        actor=f"agent:{asset.id}",
        action="patches.install_reported",
        target_type="asset",
        target_id=asset.id,
        client_id=asset.client_id,
        outcome="ok" if not counts.get("failed") and not counts.get("not_upgraded") else "failed",
        details={"counts": counts, "reboot_pending": report.reboot_pending, "plan": report.plan_revision},
    )
    if report.reboot is not None:
        audit.record(
            session,
            actor=f"agent:{asset.id}",
            action="patches.reboot",
            target_type="asset",
            target_id=asset.id,
            client_id=asset.client_id,
            outcome="ok",
            details={
                **report.reboot.model_dump(mode="json", exclude_none=True),
                "plan": report.plan_revision,
            },
        )
    for run in report.scripts:
        audit.record(
            session,
            actor=f"agent:{asset.id}",
            action="patches.script",
            target_type="asset",
            target_id=asset.id,
            client_id=asset.client_id,
            outcome="ok" if run.status == "succeeded" else "failed",
            details={
                "phase": run.phase,
                "status": run.status,
                "exit_code": run.exit_code,
                "plan": report.plan_revision,
            },
        )
    session.flush()
    return len(report.results)


def report_history(session: Session, asset_id: str, limit: int = 20) -> list[PatchReportRecord]:
    return list(
        session.scalars(
            select(PatchReportRecord)
            .where(PatchReportRecord.asset_id == asset_id)
            .order_by(PatchReportRecord.at.desc())
            .limit(limit)
        )
    )
