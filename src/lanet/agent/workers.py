"""What every short-lived worker process of the agent opens first: its log on stderr, the agent's
files, its configuration and its store (the update worker, the installer, the scan worker)."""

import logging
import sys

from lanet.agent.config import load_config
from lanet.agent.paths import AgentPaths
from lanet.agent.secrets.protect import default_protector
from lanet.agent.store import Store
from lanet.protocol.contract import Record


def open_worker(tag: str, paths: AgentPaths) -> tuple[Record, Store]:
    """Log to stderr as ``[tag]`` (the service discards it; the detached installer's goes to a
    file), and open the configuration and the store of the agent at ``paths``."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s [{tag}] %(message)s", stream=sys.stderr)
    config = load_config(paths.config_file)
    store = Store(paths.database, default_protector(paths.key_file, config.security.encryption_enabled))
    return config, store


def home_args(paths: AgentPaths, home_given: bool) -> list[str]:
    """How a worker started by the service finds this agent's files: the same ``--home``, if any."""
    return ["--home", str(paths.config_dir.parent)] if home_given else []
