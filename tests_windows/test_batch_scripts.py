"""Remote scripts on Windows: real .bat files through cmd.exe, exit codes, output, and a timeout that
kills the whole process tree."""

import threading
import time
from pathlib import Path
from typing import Any

import psutil

from lanet.agent.config import make_config
from lanet.agent.executor import Executor
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store


def _executor(tmp_path: Path) -> tuple[Executor, list[dict[str, Any]], threading.Event]:
    results: list[dict[str, Any]] = []
    done = threading.Event()

    def report(result: dict[str, Any]) -> None:
        results.append(result)
        done.set()

    store = Store(tmp_path / "agent.db", PlainProtector())
    settings = make_config({"scripts": {"allowed_types": ["batch"], "timeout": 60}}).scripts
    return Executor(store, tmp_path / "scripts", lambda: settings, report), results, done


def test_a_batch_file_reports_its_output_and_exit_code(tmp_path: Path) -> None:
    executor, results, done = _executor(tmp_path)
    executor.submit(
        {
            "command_id": "cmd-bat-1",
            "type": "batch",
            "script": "@echo off\necho hola desde cmd\nexit /b 3",
            "timeout": 30,
        }
    )
    assert done.wait(60), "the script never reported"
    result = results[0]
    assert result["status"] == "failed" and result["exit_code"] == 3
    assert "hola desde cmd" in result["stdout"]


def test_a_timeout_kills_the_script_and_its_children(tmp_path: Path) -> None:
    executor, results, done = _executor(tmp_path)
    before = {p.pid for p in psutil.process_iter()}
    executor.submit(
        {
            "command_id": "cmd-bat-2",
            "type": "batch",
            "script": "@echo off\nping -n 60 127.0.0.1 > nul",
            "timeout": 2,
        }
    )
    assert done.wait(60), "the script never reported"
    assert results[0]["status"] == "timed_out"
    time.sleep(1)
    left = [
        p
        for p in psutil.process_iter(["name"])
        if p.pid not in before and (p.info["name"] or "").lower() in ("ping.exe", "cmd.exe")
    ]
    assert not left, f"still running: {left}"
