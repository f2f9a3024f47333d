"""Run before the service starts (systemd's ``ExecStartPre``): finish a swap that was cut short.

If the machine lost power or the installer was killed while ``dpkg -i`` was replacing the agent's
files, the agent on disk may be half of each version. This puts the previous package (the one that
ran before the swap, known good) back with dpkg and leaves a note the agent reports at its start.

Standard library only, run as ``python3 -I .../recover.py``: it must work when the agent's own
modules are the broken ones.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path("/var/lib/lanet-agent")


def _installer_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"lanet.agent.update.install" in cmdline


def recover(data_dir: Path) -> str | None:
    """What was done, or None when no swap was cut short."""
    folder = data_dir / "cache" / "updates"
    swap = folder / "swap.json"
    if not swap.exists():
        return None
    try:
        info = json.loads(swap.read_text())
    except (OSError, ValueError):
        swap.unlink(missing_ok=True)
        return None
    if _installer_alive(info.get("pid")):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["/usr/bin/dpkg", "--configure", "-a"], env=env, capture_output=True, timeout=600, check=False
    )
    previous = str(info.get("previous", ""))
    done = subprocess.run(  # noqa: S603 - the package path the installer recorded
        ["/usr/bin/dpkg", "-i", previous], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    outcome = "reinstalled" if done.returncode == 0 else f"could not be reinstalled: {done.stderr[-300:]}"
    reason = (
        f"the swap to {info.get('version')} was cut short (the installer stopped); "
        f"{info.get('from_version')} {outcome}"
    )
    note = {
        "version": info.get("version"),
        "from_version": info.get("from_version"),
        "reason": reason,
        "at": time.time(),
    }
    (folder / "recovered.json").write_text(json.dumps(note))
    swap.unlink(missing_ok=True)
    return reason


def main() -> int:
    parser = argparse.ArgumentParser(prog="lanet-agent-recover")
    parser.add_argument("--home", help="the agent's --home (its data folder is HOME/data)")
    args = parser.parse_args()
    data = Path(args.home) / "data" if args.home else DEFAULT_DATA
    reason = recover(data)
    if reason:
        print(reason, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
