"""The patch policy's scripts around an install run, as real processes: a pre-install script that
does not succeed keeps every update from installing and says why; each run's outcome and the end
of its output go into the report; the agent's own ``scripts`` settings can refuse them."""

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lanet.agent.config import make_config
from lanet.agent.patches import install
from lanet.agent.patches.scripts import run_phase
from lanet.agent.secrets.protect import PlainProtector
from lanet.agent.store import Store
from lanet.protocol.limits import MAX_PATCH_SCRIPT_OUTPUT

ASSET = "0b7f6a0e-4c31-4f0e-9d7e-000000000001"


def _settings(**scripts: Any) -> Any:
    return make_config({"scripts": {"allowed_types": ["bash", "sh"], **scripts}}).scripts


def _run(tmp_path: Path, script: str, *, timeout: int = 30, kind: str = "bash", **settings: Any) -> Any:
    spec = {"type": kind, "script": script, "timeout": timeout}
    return run_phase("pre", spec, _settings(**settings), tmp_path / "scripts")


def test_each_outcome_is_said_as_the_remote_scripts_say_it(tmp_path: Path) -> None:
    ok = _run(tmp_path, "echo stopping the ERP; echo careful >&2")
    assert ok == {
        "phase": "pre",
        "status": "succeeded",
        "exit_code": 0,
        "stdout": "stopping the ERP\n",
        "stderr": "careful\n",
    }
    failed = _run(tmp_path, "echo 'disk full'; exit 3")
    assert failed["status"] == "failed" and failed["exit_code"] == 3 and failed["stdout"] == "disk full\n"
    slow = _run(tmp_path, "sleep 30", timeout=1)
    assert slow["status"] == "timed_out" and slow["reason"] == "killed after the 1 s timeout"
    long = _run(tmp_path, "head -c 20000 /dev/zero | tr '\\0' x")
    assert len(long["stdout"]) == MAX_PATCH_SCRIPT_OUTPUT
    assert not list((tmp_path / "scripts").iterdir())  # the script files are gone


def test_the_agents_own_settings_refuse_what_they_do_not_allow(tmp_path: Path) -> None:
    not_allowed = _run(tmp_path, "print('x')", kind="python")
    assert not_allowed["status"] == "refused"
    assert (
        "script type 'python' is not allowed here (scripts.allowed_types: bash, sh)" in not_allowed["reason"]
    )
    disabled = _run(tmp_path, "echo hi", enabled=False)
    assert disabled == {
        "phase": "pre",
        "status": "refused",
        "reason": "remote scripts are disabled on this agent (scripts.enabled is false)",
    }
    # The agent's timeout ceiling wins over the policy's.
    ceiling = run_phase(
        "post", {"type": "bash", "script": "sleep 30", "timeout": 600}, _settings(timeout=1), tmp_path
    )
    assert ceiling is not None and ceiling["status"] == "timed_out"
    assert run_phase("post", None, _settings(), tmp_path) is None


def test_a_failed_pre_install_script_installs_nothing_and_the_report_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*_args: Any) -> None:
        raise AssertionError("nothing may be installed after a failed pre-install script")

    monkeypatch.setattr(install, "_install_os", never)
    store = Store(tmp_path / "agent.db", PlainProtector())
    plan = {
        "revision": "r-scripts",
        "window_start": "00:00",
        "window_minutes": 1440,
        "window_days": [0, 1, 2, 3, 4, 5, 6],
        "install": ["openssl=3.0.15", "vim=9.0.2"],
        "now": True,
        "reboot": "never",
        "reboot_deadline_hours": 24,
        "max_deferrals": 3,
        "pre_script": {"type": "bash", "script": "echo 'ERP still running' >&2; exit 2", "timeout": 30},
        "post_script": {"type": "bash", "script": "touch post-ran", "timeout": 30},
    }
    settings = _settings()

    report = install.run_install(
        store,
        ASSET,
        plan,
        local_now=datetime.now(),
        scripts=lambda phase, spec: run_phase(phase, spec, settings, tmp_path / "scripts"),
    )
    assert report is not None
    reason = "the pre-install script did not succeed (failed: exit code 2); nothing was installed"
    assert [(r["update_id"], r["state"], r["reason"]) for r in report["results"]] == [
        ("openssl=3.0.15", "failed", reason),
        ("vim=9.0.2", "failed", reason),
    ]
    assert report["scripts"] == [
        {
            "phase": "pre",
            "status": "failed",
            "exit_code": 2,
            "stdout": "",
            "stderr": "ERP still running\n",
            "reason": None,
        }
    ]
    assert not (tmp_path / "scripts" / "post-ran").exists()  # no install run, so no post script
    (queued,) = store.pending_items("patch_report")
    assert queued.payload["scripts"] == report["scripts"]
