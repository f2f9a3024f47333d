"""The scan worker: ``python -m lanet.agent.patches.worker [--home H]``, started by the service.

It asks the OS what it would install and queues the result in the agent's outbox (the service
sends it). Its own process, so the service's memory never holds apt's output or the Windows Update
Agent's COM objects, and the service can kill it at a hard timeout.
"""

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from lanet.agent.patches import queue_scan, scan_os
from lanet.agent.paths import AgentPaths
from lanet.agent.workers import open_worker

log = logging.getLogger("lanet.agent.patches")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanet-agent-patches")
    parser.add_argument("--home")
    args = parser.parse_args(argv)
    config, store = open_worker("patches", AgentPaths.resolve(args.home))
    try:
        if not config.agent.asset_id:
            log.info("not registered: nothing to scan for")
            return 0
        started = time.time()
        found = scan_os()
        queued = queue_scan(store, str(config.agent.asset_id), found, time.time() - started)
        log.info("scan done: %d update(s)%s", len(queued["items"]), f"; {found.error}" if found.error else "")
        return 1 if found.error and not queued["items"] else 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
