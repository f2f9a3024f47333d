"""The installed MSI as the Windows lane's tests look at it: msiexec, the product entries in the
registry, the installed agent's own command line."""

import json
import os
import subprocess
import winreg
from pathlib import Path
from typing import Any

UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
RUN_KEY = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
ROOT = Path(os.environ.get("PROGRAMFILES", r"C:\Program Files")) / "LANET Agent"
BIN = ROOT / "bin"
CONFIG = ROOT / "config" / "agent_config.json"


def msiexec(*args: str, log: Path) -> int:
    done = subprocess.run(
        ["msiexec", *args, "/qn", "/l*v", str(log)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=600,
        check=False,
    )
    return done.returncode


def log_text(log: Path) -> str:
    raw = log.read_bytes()
    return raw.decode("utf-16") if raw[:2] == b"\xff\xfe" else raw.decode("utf-8", "replace")


def products() -> dict[str, str]:
    """Product code -> DisplayVersion of the Uninstall entries named LANET Agent."""
    found = {}
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, UNINSTALL) as root:
        index = 0
        while True:
            try:
                name = winreg.EnumKey(root, index)
            except OSError:
                break
            index += 1
            with winreg.OpenKey(root, name) as entry:
                try:
                    display = winreg.QueryValueEx(entry, "DisplayName")[0]
                    version = winreg.QueryValueEx(entry, "DisplayVersion")[0]
                except OSError:
                    continue
            if display == "LANET Agent":
                found[name] = version
    return found


def run_value() -> str | None:
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, RUN_KEY) as key:
            return str(winreg.QueryValueEx(key, "LANET Agent Tray")[0])
    except OSError:
        return None


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
    )


def status() -> dict[str, Any]:
    """``agent.exe status --json`` of the installed agent."""
    done = run(str(BIN / "agent.exe"), "status", "--json")
    assert done.stdout, done.stderr
    return dict(json.loads(done.stdout))
