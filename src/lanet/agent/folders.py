"""Making the agent's folders and keeping them private: where they are is :mod:`.paths`'s.

Config, data and scripts hold the agent's identity, its credentials and what it is sent: on Linux and
macOS they are 0700 (logs 0750); on Windows a folder made here gets the SYSTEM + Administrators access
list (:mod:`lanet.agent.windows.acl`) before anything is written into it.
"""

import os
import sys

from lanet.agent.paths import AgentPaths


def prepare(paths: AgentPaths) -> None:
    """Create the agent's folders, each private to the agent's account."""
    for folder, mode in (
        (paths.config_dir, 0o700),
        (paths.data_dir, 0o700),
        (paths.cache_dir, 0o700),
        (paths.logs_dir, 0o750),
        (paths.scripts_dir, 0o700),
    ):
        if sys.platform == "win32":
            if not folder.exists():
                from lanet.agent.windows import acl

                acl.secure([folder])
            continue
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, mode)
