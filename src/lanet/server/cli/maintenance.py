"""``lanet-server maintenance``: the periodic upkeep, once or in a loop."""

import argparse
import contextlib
from typing import Any

from lanet.server.cli._common import database, settings


def cmd_maintenance(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from lanet.server.maintenance import maintenance_loop, maintenance_pass

    logging.basicConfig(level=logging.INFO, format="%(asctime)s [maintenance] %(message)s")
    if not args.loop:
        import time

        from lanet.server.services.timeseries import SETTLE, newest_sample

        db = database()
        # A single pass has no earlier one to have seen the newest samples: it waits for the
        # heartbeats in flight to commit, then folds everything up to what it saw.
        newest = newest_sample(db)
        time.sleep(SETTLE)
        maintenance_pass(db, settings().release_folder, settings().retention, rollup_upto=newest)
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        maintenance_loop(settings(), stop)
    return 0


def register(sub: Any) -> None:
    maint = sub.add_parser(
        "maintenance",
        help="upkeep: offline assets, expired commands, metric roll-ups, retention, predictions",
    )
    maint.add_argument("--loop", action="store_true", help="repeat every 30 s until stopped")
    maint.set_defaults(func=cmd_maintenance)
