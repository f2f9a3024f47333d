"""Periodic upkeep of the backend: silent assets marked offline, overdue commands expired, old
sessions removed, tickets opened for critical alerts that lost theirs to a crash, the metric history
rolled up and expired, and the predictions made from it. ``lanet-server serve`` runs it in a process
of its own (``maintenance --loop``)."""

import logging
import threading
from pathlib import Path

from lanet.server.db import Database
from lanet.server.settings import Retention, Settings

log = logging.getLogger(__name__)


def maintenance_pass(
    db: Database,
    releases: Path | None = None,
    retention: Retention | None = None,
    *,
    rollup_upto: int | None = None,
) -> None:
    """One round of upkeep; ``releases`` is the release repository, whose online metadata is
    re-signed here before it expires. ``rollup_upto``: see
    :func:`~lanet.server.services.timeseries.roll_up`."""
    from lanet.server.services import predictions, timeseries
    from lanet.server.services.alerts import open_missing_tickets
    from lanet.server.services.commands import expire_overdue
    from lanet.server.services.telemetry import mark_offline
    from lanet.server.services.users import purge_sessions

    retention = retention or Retention()

    changed = mark_offline(db)
    if changed:
        log.info("%d asset(s) now offline", changed)
    with db.session() as session:
        expired = expire_overdue(session)
        purge_sessions(session)
    if expired:
        log.info("%d command(s) expired before their asset came back", expired)
    made = timeseries.ensure_partitions(db)
    if made:
        log.info("partitions made: %s", ", ".join(made))
    # Before the expiry: what an upgrade finds is rolled up before it goes.
    timeseries.roll_up(db, upto=rollup_upto)
    predicted = predictions.predict(db)
    if predicted.alerts_opened or predicted.alerts_resolved:
        log.info(
            "predictions: %d alert(s) opened, %d resolved, %d ticket(s)",
            predicted.alerts_opened,
            predicted.alerts_resolved,
            len(predicted.tickets),
        )
    deleted = timeseries.expire(db, retention)
    if deleted:
        log.info("history past its retention deleted: %s", ", ".join(f"{t} {n}" for t, n in deleted.items()))
    opened = open_missing_tickets(db)
    if opened:
        log.warning("%d ticket(s) opened for critical alerts whose heartbeat outran them", opened)
    if releases is not None:
        from lanet.server.services.releases.repository import ReleaseRepository

        repository = ReleaseRepository(releases)
        resigned = repository.refresh_online()
        if resigned:
            log.info("release metadata re-signed: %s", ", ".join(resigned))
        for role, left in repository.expiring_offline().items():
            log.warning(
                "the release %s metadata expires in %s: re-sign it with the offline keys"
                " (lanet-server releases resign --keys DIR)",
                role,
                left,
            )


def maintenance_loop(settings: Settings, stop: threading.Event) -> None:
    """Run :func:`maintenance_pass` every ``settings.maintenance_interval`` seconds until ``stop``."""
    db = Database(settings.database_url)
    while not stop.wait(settings.maintenance_interval):
        try:
            maintenance_pass(db, settings.release_folder, settings.retention)
        except Exception:
            log.exception("maintenance pass failed; retrying in %.0f s", settings.maintenance_interval)
