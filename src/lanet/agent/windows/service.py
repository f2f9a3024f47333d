"""The agent as a Windows service (``LANETAgent``), on pywin32's service framework.

The service runs the same :class:`~lanet.agent.core.Agent` as ``lanet-agent run``: it starts at boot
(automatic start), the service control manager restarts it after a failure (recovery actions: after
10 s, 10 s, then 60 s), and a stop request lets the loop flush what it can within the stop hint before
the process ends. Start, stop and failures go to the Windows event log (source ``LANETAgent``).

``lanet-agent service install|uninstall|start|stop`` manages it by hand; the MSI does the same for
users. ``install --home DIR`` keeps the agent's files under DIR (tests); the default is the install
layout under ``C:\\Program Files\\LANET Agent``.
"""

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import servicemanager
import win32service
import win32serviceutil

from lanet.agent.paths import AgentPaths, bundle_root
from lanet.agent.windows import acl

SERVICE_NAME = "LANETAgent"
DISPLAY_NAME = "LANET Agent"
DESCRIPTION = "Agente de LANET Helpdesk: inventario, monitoreo, scripts y tickets de este equipo."
STOP_HINT_MS = 15_000
#: Restart after 10 s, 10 s, then 60 s; the failure count resets after a day without failures.
RECOVERY = [(win32service.SC_ACTION_RESTART, 10_000)] * 2 + [(win32service.SC_ACTION_RESTART, 60_000)]


def _home_setting(name: str) -> str | None:
    try:
        value = win32serviceutil.GetServiceCustomOption(name, "Home")
    except Exception:
        return None
    return str(value) if value else None


class LanetAgentService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
    _svc_name_ = SERVICE_NAME
    _svc_display_name_ = DISPLAY_NAME
    _svc_description_ = DESCRIPTION

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self.agent: Any = None

    def SvcStop(self) -> None:  # noqa: N802 - pywin32's name
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_HINT_MS)
        if self.agent is not None:
            self.agent.stop()

    def SvcDoRun(self) -> None:  # noqa: N802 - pywin32's name
        from lanet.agent.core import Agent
        from lanet.agent.paths import AgentPaths

        home = _home_setting(self._svc_name_)
        paths = AgentPaths.for_home(Path(home)) if home else AgentPaths.default()
        servicemanager.LogInfoMsg(f"{DISPLAY_NAME} starting ({paths.config_dir})")
        try:
            self.agent = Agent(paths, console=False, home_given=bool(home))
            self.ReportServiceStatus(win32service.SERVICE_RUNNING)
            status = self.agent.run()
        except Exception as exc:  # the event log is the only place a service can say why it died
            servicemanager.LogErrorMsg(f"{DISPLAY_NAME} failed: {type(exc).__name__}: {exc}")
            raise
        if status != 0:
            servicemanager.LogErrorMsg(f"{DISPLAY_NAME} stopped with status {status}; see agent.log")
            raise SystemExit(status)  # a failure: the recovery actions restart it
        servicemanager.LogInfoMsg(f"{DISPLAY_NAME} stopped")


def host_executable() -> str:
    """The program the service control manager starts.

    The frozen build has its own service host, ``bin\\agent-service.exe``; from a Python install,
    pywin32's ``pythonservice.exe``, copied beside ``python.exe`` so it finds the same DLLs and paths.
    """
    bundled = Path(sys.executable).with_name("agent-service.exe")
    if bundle_root() is not None and bundled.exists():
        return str(bundled)
    target = Path(sys.executable).with_name("pythonservice.exe")
    if not target.exists():
        source = Path(win32service.__file__).with_name("pythonservice.exe")
        shutil.copy2(source, target)
        for dll in Path(source.parent.parent, "pywin32_system32").glob("*.dll"):
            if not target.with_name(dll.name).exists():
                shutil.copy2(dll, target.with_name(dll.name))
    return str(target)


def install(home: str | None = None) -> None:
    """Install the service, or bring an installed one up to date (repair, upgrade): idempotent.

    The agent's folders are made private to SYSTEM and Administrators first: they hold its identity,
    its encrypted credentials and what it collects.
    """
    paths = AgentPaths.resolve(home)
    acl.secure(paths.folders)
    if status() is None:
        win32serviceutil.InstallService(
            f"{__name__}.LanetAgentService",
            SERVICE_NAME,
            DISPLAY_NAME,
            startType=win32service.SERVICE_AUTO_START,
            exeName=host_executable(),
            description=DESCRIPTION,
        )
    else:
        win32serviceutil.ChangeServiceConfig(
            f"{__name__}.LanetAgentService",
            SERVICE_NAME,
            startType=win32service.SERVICE_AUTO_START,
            exeName=host_executable(),
            displayName=DISPLAY_NAME,
            description=DESCRIPTION,
        )
    if home:
        win32serviceutil.SetServiceCustomOption(SERVICE_NAME, "Home", os.path.abspath(home))
    _set_recovery()
    servicemanager.SetEventSourceName(SERVICE_NAME, True)


def _set_recovery() -> None:
    manager = win32service.OpenSCManager(None, None, win32service.SC_MANAGER_ALL_ACCESS)
    try:
        service = win32service.OpenService(manager, SERVICE_NAME, win32service.SERVICE_ALL_ACCESS)
        try:
            win32service.ChangeServiceConfig2(
                service,
                win32service.SERVICE_CONFIG_FAILURE_ACTIONS,
                {"ResetPeriod": 86_400, "RebootMsg": None, "Command": None, "Actions": RECOVERY},
            )
        finally:
            win32service.CloseServiceHandle(service)
    finally:
        win32service.CloseServiceHandle(manager)


def uninstall() -> None:
    """Stop (the agent flushes what it can) and remove the service; nothing to do if not installed."""
    with_status = status()
    if with_status is None:
        return
    if with_status != "stopped":
        stop()
    win32serviceutil.RemoveService(SERVICE_NAME)


def start() -> None:
    if status() == "running":
        return
    win32serviceutil.StartService(SERVICE_NAME)
    win32serviceutil.WaitForServiceStatus(SERVICE_NAME, win32service.SERVICE_RUNNING, 30)


def stop() -> None:
    win32serviceutil.StopService(SERVICE_NAME)
    win32serviceutil.WaitForServiceStatus(
        SERVICE_NAME, win32service.SERVICE_STOPPED, STOP_HINT_MS // 1000 + 5
    )


_STATES = {
    win32service.SERVICE_STOPPED: "stopped",
    win32service.SERVICE_START_PENDING: "starting",
    win32service.SERVICE_STOP_PENDING: "stopping",
    win32service.SERVICE_RUNNING: "running",
    win32service.SERVICE_PAUSED: "paused",
}


def status() -> str | None:
    """``running``, ``stopped``, ... or None when the service is not installed."""
    try:
        state = win32serviceutil.QueryServiceStatus(SERVICE_NAME)[1]
    except Exception:
        return None
    return _STATES.get(state, str(state))


def dispatch() -> None:
    """Entry of a frozen service executable: hand the process to the service control manager."""
    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(LanetAgentService)
    servicemanager.StartServiceCtrlDispatcher()
