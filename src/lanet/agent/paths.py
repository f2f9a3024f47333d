"""Where the agent keeps its files: the OS install layout, or one folder given with ``--home``.

Windows follows the seed (``C:\\Program Files\\LANET Agent\\{bin,config,logs,data,scripts}``); Linux the
FHS (``/etc/lanet-agent``, ``/var/lib/lanet-agent``, ``/var/log/lanet-agent``); macOS
``/Library/Application Support/LANET Agent``.
"""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

#: The frozen Windows build's executables, all in ``<install folder>\\bin``.
LAUNCHERS = frozenset({"agent.exe", "agent-service.exe", "agent-tray.exe"})
#: The frozen build's own interpreters, beside the launchers: they run the agent's worker processes.
INTERPRETERS = frozenset({"python.exe", "pythonw.exe"})


def bundle_root() -> Path | None:
    """The install folder when this process is one of the frozen build's executables, or its
    ``python.exe`` running one of the agent's workers.

    The MSI lets the administrator choose where the agent goes; the folders follow the program.
    """
    exe = Path(sys.executable)
    if sys.platform != "win32" or exe.parent.name.lower() != "bin":
        return None
    name = exe.name.lower()
    if name in LAUNCHERS or (name in INTERPRETERS and exe.with_name("agent-service.exe").exists()):
        return exe.parent.parent
    return None


def module_runner() -> list[str]:
    """How to start ``python -m <one of the agent's modules>`` from this process: in the frozen
    build ``sys.executable`` is a launcher that runs one fixed module, so its ``python.exe``."""
    if bundle_root() is not None:
        return [str(Path(sys.executable).with_name("python.exe"))]
    return [sys.executable]


@dataclass(frozen=True)
class AgentPaths:
    config_dir: Path
    data_dir: Path
    logs_dir: Path
    scripts_dir: Path
    run_dir: Path

    @classmethod
    def for_home(cls, home: Path) -> "AgentPaths":
        home = home.resolve()
        return cls(home / "config", home / "data", home / "logs", home / "scripts", home / "run")

    @classmethod
    def for_install(cls, root: Path) -> "AgentPaths":
        """The MSI's layout under its install folder (the seed's; the run folder is the data one)."""
        return cls(root / "config", root / "data", root / "logs", root / "scripts", root / "data")

    @classmethod
    def default(cls) -> "AgentPaths":
        if sys.platform == "win32":
            root = bundle_root() or Path(os.environ.get("PROGRAMFILES", "C:\\Program Files")) / "LANET Agent"
            return cls.for_install(root)
        if sys.platform == "darwin":
            root = Path("/Library/Application Support/LANET Agent")
            return cls(
                root / "config",
                root / "data",
                Path("/Library/Logs/LANET Agent"),
                root / "scripts",
                Path("/var/run/lanet-agent"),
            )
        return cls(
            Path("/etc/lanet-agent"),
            Path("/var/lib/lanet-agent"),
            Path("/var/log/lanet-agent"),
            Path("/var/lib/lanet-agent/scripts"),
            Path("/run/lanet-agent"),
        )

    @classmethod
    def resolve(cls, home: str | None) -> "AgentPaths":
        """``--home`` wins, then ``LANET_AGENT_HOME``, then the OS layout."""
        chosen = home or os.environ.get("LANET_AGENT_HOME")
        return cls.for_home(Path(chosen)) if chosen else cls.default()

    @property
    def folders(self) -> list[Path]:
        """Every folder the agent writes to (on Windows the run folder is the data folder)."""
        return sorted({self.config_dir, self.data_dir, self.logs_dir, self.scripts_dir, self.run_dir})

    @property
    def config_file(self) -> Path:
        return self.config_dir / "agent_config.json"

    @property
    def token_file(self) -> Path:
        return self.config_dir / "token.txt"

    @property
    def database(self) -> Path:
        return self.data_dir / "agent.db"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "agent.key"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"
