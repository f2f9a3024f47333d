"""The patch policy's scripts around an install run, by the remote-scripts machinery.

A pre-install script runs before the first update is touched (stop the ERP's service, check the
disk); if it does not succeed, nothing is installed in this run and every update says why. A
post-install script runs after the last update, whatever their outcome (start the service again).
Both go through :func:`lanet.agent.executor.process.run_script`, as a technician's script does,
and under the same local settings: ``scripts.enabled``, ``scripts.allowed_types`` and the
``scripts.timeout`` ceiling. The PC's administrator keeps the last word over what runs on it.
"""

from pathlib import Path
from typing import Any

from lanet.agent.executor.process import Refused, run_script
from lanet.protocol import contract
from lanet.protocol.limits import MAX_PATCH_SCRIPT_OUTPUT


def _tail(text: str) -> str:
    return text[-MAX_PATCH_SCRIPT_OUTPUT:]


def run_phase(
    phase: str, spec: dict[str, Any] | None, settings: Any, scripts_dir: Path
) -> dict[str, Any] | None:
    """Run the plan's ``pre_script`` or ``post_script``; returns how it ran (a ``PatchScriptRun``),
    or None when the plan has none. ``settings`` is the agent's ``scripts`` section."""
    if not spec:
        return None
    kind = spec["type"]
    if not settings.enabled:
        return _refused(phase, "remote scripts are disabled on this agent (scripts.enabled is false)")
    if kind not in settings.allowed_types:
        allowed = ", ".join(settings.allowed_types)
        return _refused(phase, f"script type {kind!r} is not allowed here (scripts.allowed_types: {allowed})")
    timeout = min(int(spec.get("timeout") or 600), int(settings.timeout))
    try:
        outcome = run_script(
            f"patch-{phase}",
            kind,
            spec["script"],
            [],
            timeout,
            scripts_dir,
            started=lambda _pid: None,
            stopping=lambda: False,
        )
    except Refused as exc:
        return _refused(phase, str(exc))
    except OSError as exc:  # the interpreter could not start
        return _run(phase, "failed", reason=f"the script could not start: {exc}")
    return _run(
        phase,
        outcome.status,
        exit_code=outcome.exit_code,
        stdout=_tail(outcome.stdout),
        stderr=_tail(outcome.stderr),
        reason=outcome.reason,
    )


def _refused(phase: str, reason: str) -> dict[str, Any]:
    return _run(phase, "refused", reason=reason)


def _run(phase: str, status: str, **extra: Any) -> dict[str, Any]:
    run: dict[str, Any] = contract.drop_none({"phase": phase, "status": status, **extra})
    if "reason" in run:
        run["reason"] = run["reason"][:1000]
    return run


def failure_reason(run: dict[str, Any]) -> str:
    """Why the updates of a run whose pre-install script failed were left alone."""
    detail = run.get("reason") or f"exit code {run.get('exit_code')}"
    return f"the pre-install script did not succeed ({run['status']}: {detail}); nothing was installed"
