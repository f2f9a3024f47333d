"""Build hook of the Windows lane (``LANET_BUILD_HOOK``): makes the staged agent a broken release.

Its service starts and reports running (so the MSI installs it), then the agent dies a few seconds
later without ever completing a heartbeat: what the self-update's health gate must catch. Runs on
the host, with the staged ``site-packages`` folder as its argument.
"""

import sys
from pathlib import Path

BREAK = """

def _broken_run(self: Agent) -> int:
    import time

    time.sleep(8)
    raise SystemExit("this build crashes at start")


Agent.run = _broken_run  # type: ignore[method-assign]
"""


def main() -> int:
    core = Path(sys.argv[1]) / "lanet" / "agent" / "core.py"
    core.write_text(core.read_text(encoding="utf-8") + BREAK, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
