"""The Windows Update Agent's view of the OS updates, through its COM API.

``Microsoft.Update.Session`` gives the searcher (``Search("IsInstalled=0 and IsHidden=0")``: every
applicable update), the downloader and the installer; ``Microsoft.Update.SystemInfo`` says whether
a reboot is pending. This runs in the patch worker, a process of its own that the service kills at
a hard timeout: a search is known to hang for hours.

Only the documented interface is used (``Count`` and ``Item(i)`` on collections, the properties by
name), so the code runs against pywin32's dispatch objects on Windows and against the tests' object
model on Linux, which reproduces the same interface. Where the agent cannot reach the Agent at all
(no such COM class: Wine, a stripped image, a disabled service), :class:`WuaUnavailable` says so.

A pending reboot is read from several places, since each one misses some cases: the Agent's own
``RebootRequired``, Component Based Servicing's ``RebootPending`` key, Windows Update's
``RebootRequired`` key, the Session Manager's ``PendingFileRenameOperations`` and
``UpdateExeVolatile``.
"""

import logging
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lanet.agent.patches import OsScan

log = logging.getLogger("lanet.agent.patches")

SEARCH = "IsInstalled=0 and IsHidden=0"
#: History entries name their KB only in the title ("... (KB5034441)").
KB_IN_TITLE = re.compile(r"\bKB([0-9]{4,10})\b")
E_NOTIMPL = "0x80004001"
CLIENT_ID = "LANET Agent"

#: ``OperationResultCode``.
NOT_STARTED, IN_PROGRESS, SUCCEEDED, SUCCEEDED_WITH_ERRORS, FAILED, ABORTED = range(6)
RESULT_NAMES = ("not started", "in progress", "succeeded", "succeeded with errors", "failed", "aborted")
#: ``InstallationBehavior.RebootBehavior``: never, always, can request one.
REBOOT_BEHAVIOURS_NEEDING_REBOOT = (1, 2)

#: Windows Update's classification categories (their ``CategoryID``, the same on every PC).
CLASSIFICATIONS = {
    "e6cf1350-c01b-414d-a61f-263d14d133b4": "critical",  # Critical Updates
    "0fa1201d-4330-4fa8-8ae9-b877473b6441": "security",  # Security Updates
    "e0789628-ce08-4437-be74-2495b842f43b": "definition",  # Definition Updates
    "b54e7d24-7add-428f-8b75-90a396fa584f": "feature",  # Feature Packs
    "3689bdc8-b205-4af4-8d4a-a63924c5e9d5": "feature",  # Upgrades
    "68c5b0a3-d1a6-4553-ae49-01d3a7827828": "feature",  # Service Packs
    "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0": "driver",  # Drivers
}
#: The same by name, for categories reported without the usual IDs.
CLASSIFICATION_NAMES = {
    "critical updates": "critical",
    "security updates": "security",
    "definition updates": "definition",
    "feature packs": "feature",
    "upgrades": "feature",
    "service packs": "feature",
    "drivers": "driver",
}
#: Most specific first, when an update sits in several classifications.
CLASSIFICATION_ORDER = ("security", "critical", "definition", "driver", "feature", "other")
SEVERITIES = {"critical": "critical", "important": "important", "moderate": "moderate", "low": "low"}

#: Registry evidence of a pending reboot: (source name, key, value or None for "the key exists").
REBOOT_KEYS = (
    ("cbs", r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending", None),
    ("wu", r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired", None),
    (
        "pending_file_rename",
        r"SYSTEM\CurrentControlSet\Control\Session Manager",
        "PendingFileRenameOperations",
    ),
    ("update_exe_volatile", r"SOFTWARE\Microsoft\Updates", "UpdateExeVolatile"),
)


class WuaUnavailable(Exception):
    """The Windows Update Agent cannot be reached; the message says why."""


class WuaError(Exception):
    """The Agent answered with a failure; the message carries its result code and HRESULT."""


def _items(collection: Any) -> Iterator[Any]:
    for index in range(int(collection.Count)):
        yield collection.Item(index)


def _dispatch(prog_id: str) -> Any:
    try:
        import pythoncom  # type: ignore[import-not-found,import-untyped,unused-ignore]
        import win32com.client
    except ImportError as exc:
        raise WuaUnavailable(f"Windows Update Agent not available: pywin32 is missing ({exc})") from None
    try:
        pythoncom.CoInitialize()
        return win32com.client.Dispatch(prog_id)
    except pythoncom.com_error as exc:
        raise WuaUnavailable(
            f"Windows Update Agent not available: {prog_id} cannot be created ({_hresult(exc)})"
        ) from None


def _hresult(exc: BaseException) -> str:
    code = getattr(exc, "hresult", None) or (
        exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    )
    return f"0x{code & 0xFFFFFFFF:08X}" if isinstance(code, int) else str(exc)


def _call(what: str, step: Callable[[], Any]) -> Any:
    """One call into the Agent. A member it lacks or does not implement (a stub Agent, as Wine's
    wuapi.dll is) means the Agent is not available; any other COM error is a failure of the step."""
    try:
        return step()
    except AttributeError as exc:
        raise WuaUnavailable(f"Windows Update Agent not available: {exc}") from None
    except Exception as exc:  # pywintypes.com_error, which only exists where pywin32 does
        if _hresult(exc) == E_NOTIMPL:
            raise WuaUnavailable(
                f"Windows Update Agent not available: {what} is not implemented ({E_NOTIMPL})"
            ) from None
        raise WuaError(f"{what} failed ({_hresult(exc)})") from None


def _session(factory: Callable[[], Any]) -> Any:
    session = factory()
    try:
        session.ClientApplicationID = CLIENT_ID  # how the Agent's log names the caller; optional
    except Exception as exc:  # AttributeError or a COM error: the session works without it
        log.info("the update session did not take the client name: %s", exc)
    return session


def _job(job: Any, updates: Any) -> Any:
    job.Updates = updates
    return job


def classification_of(update: Any) -> str:
    found = set()
    for category in _items(update.Categories):
        if str(getattr(category, "Type", "UpdateClassification")) != "UpdateClassification":
            continue
        by_id = CLASSIFICATIONS.get(str(category.CategoryID).lower())
        found.add(by_id or CLASSIFICATION_NAMES.get(str(category.Name).lower(), "other"))
    return next((c for c in CLASSIFICATION_ORDER if c in found), "other")


def item_of(update: Any) -> dict[str, Any]:
    """One IUpdate as a PatchItem body."""
    kbs = [f"KB{kb}" for kb in _items(update.KBArticleIDs) if str(kb).isdigit()]
    size = update.MaxDownloadSize
    behaviour = int(update.InstallationBehavior.RebootBehavior)
    return {
        "update_id": str(update.Identity.UpdateID).lower(),
        "source": "windows_update",
        "title": str(update.Title)[:500] or str(update.Identity.UpdateID),
        "kb": kbs[:16],
        "classification": classification_of(update),
        "severity": SEVERITIES.get(str(update.MsrcSeverity or "").lower(), "unspecified"),
        "size_bytes": int(size) if size is not None and int(size) >= 0 else None,
        "reboot_required": behaviour in REBOOT_BEHAVIOURS_NEEDING_REBOOT,
        "downloaded": bool(update.IsDownloaded),
    }


def _read_registry(key: str, value: str | None) -> object | None:
    """The value (or True for a key that exists), None when absent."""
    if sys.platform != "win32":
        return None
    import winreg

    try:
        with winreg.OpenKey(
            winreg.HKEY_LOCAL_MACHINE, key, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
        ) as handle:
            return True if value is None else winreg.QueryValueEx(handle, value)[0]
    except OSError:
        return None


def reboot_sources(
    system_info: Callable[[], Any] = lambda: _dispatch("Microsoft.Update.SystemInfo"),
    read: Callable[[str, str | None], object | None] = _read_registry,
) -> list[str]:
    """Every source that says a reboot is pending."""
    sources = []
    try:
        if bool(system_info().RebootRequired):
            sources.append("wua")
    except (WuaUnavailable, AttributeError) as exc:
        log.info("the Agent's RebootRequired could not be read: %s", exc)
    for name, key, value in REBOOT_KEYS:
        found = read(key, value)
        if found not in (None, 0, "", [], ()):
            sources.append(name)
    return sources


def scan(
    session_factory: Callable[[], Any] = lambda: _dispatch("Microsoft.Update.Session"),
    sources: Callable[[], list[str]] = reboot_sources,
) -> OsScan:
    """Every applicable update, and whether a reboot is pending (``error`` carries the warning of
    a search that succeeded with errors)."""
    session = _session(session_factory)
    result = _call("the Windows Update search", lambda: session.CreateUpdateSearcher().Search(SEARCH))
    code = int(result.ResultCode)
    if code not in (SUCCEEDED, SUCCEEDED_WITH_ERRORS):
        raise WuaError(f"the Windows Update search ended {RESULT_NAMES[code] if 0 <= code < 6 else code}")
    found = OsScan("windows_update", [item_of(update) for update in _items(result.Updates)])
    if code == SUCCEEDED_WITH_ERRORS:
        found.error = "the Windows Update search succeeded with errors; some updates may be missing"
    pending = sources()
    found.reboot_pending, found.reboot_sources = bool(pending), pending
    return found


@dataclass
class WuaResult:
    update_id: str
    state: str
    reason: str = ""
    error_code: str | None = None


def install(
    update_ids: list[str],
    session_factory: Callable[[], Any] = lambda: _dispatch("Microsoft.Update.Session"),
    collection_factory: Callable[[], Any] = lambda: _dispatch("Microsoft.Update.UpdateColl"),
) -> list[WuaResult]:
    """Download and install these updates (by ``UpdateID``); one result each. An update the search
    no longer finds is reported as such, not silently dropped."""
    session = _session(session_factory)
    wanted = {u.lower() for u in update_ids}
    chosen = collection_factory()
    found: list[str] = []
    offered = _call("the Windows Update search", lambda: session.CreateUpdateSearcher().Search(SEARCH))
    for update in _items(offered.Updates):
        update_id = str(update.Identity.UpdateID).lower()
        if update_id in wanted:
            if not bool(update.EulaAccepted):
                update.AcceptEula()
            chosen.Add(update)
            found.append(update_id)
    results = {
        u: WuaResult(u, "failed", "no longer offered by Windows Update (installed or superseded)")
        for u in wanted - set(found)
    }
    if not found:
        return [results[u.lower()] for u in update_ids]
    downloaded = _call("the download", lambda: _job(session.CreateUpdateDownloader(), chosen).Download())
    installed = _call("the install", lambda: _job(session.CreateUpdateInstaller(), chosen).Install())
    for index, update_id in enumerate(found):
        download = downloaded.GetUpdateResult(index)
        outcome = installed.GetUpdateResult(index)
        code = int(outcome.ResultCode)
        if code in (SUCCEEDED, SUCCEEDED_WITH_ERRORS):
            state = "reboot_pending" if bool(outcome.RebootRequired) else "installed"
            reason = "succeeded with errors" if code == SUCCEEDED_WITH_ERRORS else ""
            results[update_id] = WuaResult(update_id, state, reason)
            continue
        failing = outcome if int(download.ResultCode) in (SUCCEEDED, SUCCEEDED_WITH_ERRORS) else download
        step = "install" if failing is outcome else "download"
        hresult = int(failing.HResult) & 0xFFFFFFFF
        name = (
            RESULT_NAMES[int(failing.ResultCode)]
            if 0 <= int(failing.ResultCode) < 6
            else str(failing.ResultCode)
        )
        results[update_id] = WuaResult(update_id, "failed", f"the {step} {name}", f"0x{hresult:08X}")
    return [results[u.lower()] for u in update_ids]


# --- what is installed, after the reboot ------------------------------------------------------------
#: ``IUpdateHistoryEntry.Operation``: an installation (2 is an uninstallation).
OPERATION_INSTALLATION = 1
#: The newest history entries read; Windows keeps years of them and the agent needs the recent ones.
HISTORY_LIMIT = 500
QFE_QUERY = "SELECT HotFixID, InstalledOn FROM Win32_QuickFixEngineering"


@dataclass
class Installed:
    """One update the OS says it installed: from the Agent's history (by ``UpdateID``, with the
    outcome) and from Win32_QuickFixEngineering (by KB, which also lists what came outside Windows
    Update: DISM, WSUS offline, a standalone .msu)."""

    kb: list[str]
    update_id: str | None = None
    result: int | None = None
    hresult: str | None = None
    title: str = ""
    sources: tuple[str, ...] = ()


def _qfe_ids() -> list[str]:
    try:
        import win32com.client
    except ImportError as exc:
        raise WuaUnavailable(f"WMI not available: pywin32 is missing ({exc})") from None
    try:
        rows = win32com.client.GetObject(r"winmgmts:\\.\root\cimv2").ExecQuery(QFE_QUERY)
        return [str(row.HotFixID) for row in rows]
    except Exception as exc:  # pywintypes.com_error
        raise WuaError(f"the installed hotfixes could not be read ({_hresult(exc)})") from None


def installed_history(
    session_factory: Callable[[], Any] = lambda: _dispatch("Microsoft.Update.Session"),
    hotfixes: Callable[[], list[str]] = _qfe_ids,
) -> list[Installed]:
    """The Agent's install history (the newest entry per update) merged with the QFE list by KB.
    Either source may be missing (a QFE query that fails, a history wiped by a reset): the other
    still answers, and each entry says which sources listed it."""
    session = _session(session_factory)
    searcher = _call("the Windows Update history", session.CreateUpdateSearcher)
    count = int(_call("the Windows Update history", searcher.GetTotalHistoryCount))
    newest: dict[str, Any] = {}
    if count:
        entries = _call(
            "the Windows Update history", lambda: searcher.QueryHistory(0, min(count, HISTORY_LIMIT))
        )
        for entry in _items(entries):
            if int(entry.Operation) != OPERATION_INSTALLATION:
                continue
            update_id = str(entry.UpdateIdentity.UpdateID).lower()
            if update_id not in newest or entry.Date > newest[update_id].Date:
                newest[update_id] = entry
    found: list[Installed] = []
    by_kb: dict[str, Installed] = {}
    for update_id, entry in newest.items():
        kbs = KB_IN_TITLE.findall(str(entry.Title))
        item = Installed(
            [f"KB{k}" for k in kbs],
            update_id,
            int(entry.ResultCode),
            f"0x{int(entry.HResult) & 0xFFFFFFFF:08X}",
            str(entry.Title),
            ("wua",),
        )
        found.append(item)
        for kb in item.kb:
            by_kb[kb] = item
    try:
        qfe = hotfixes()
    except (WuaUnavailable, WuaError) as exc:
        log.info("the QFE list is not merged: %s", exc)
        qfe = []
    for hotfix in qfe:
        kb = hotfix.strip().upper()
        if kb in by_kb:
            by_kb[kb].sources = (*by_kb[kb].sources, "qfe")
        elif re.fullmatch(r"KB[0-9]{4,10}", kb):
            by_kb[kb] = Installed([kb], sources=("qfe",))
            found.append(by_kb[kb])
    return found


def verify(updates: list[dict[str, Any]], history: list[Installed], sources: list[str]) -> list[WuaResult]:
    """Each update that waited for the reboot, against the installed history.

    ``verified`` when the QFE list has one of its KBs, or when the history says it succeeded and no
    restart is pending any more (the history records success at install time, before the restart,
    so while Windows still wants one the update stays ``reboot_pending``); ``failed`` with the
    history's HRESULT when it says the install failed, and when neither source knows of it."""
    by_id = {h.update_id: h for h in history if h.update_id}
    in_qfe = {kb for h in history if "qfe" in h.sources for kb in h.kb}
    results = []
    for update in updates:
        update_id = update["update_id"]
        entry = by_id.get(update_id)
        kbs = set(update.get("kb") or [])
        if kbs & in_qfe:
            results.append(WuaResult(update_id, "verified", "listed as installed (QFE)"))
        elif entry is not None and entry.result in (FAILED, ABORTED):
            name = RESULT_NAMES[entry.result or 0]
            results.append(WuaResult(update_id, "failed", f"Windows Update history: {name}", entry.hresult))
        elif sources:
            results.append(WuaResult(update_id, "reboot_pending", f"still pending ({', '.join(sources)})"))
        elif entry is not None and entry.result in (SUCCEEDED, SUCCEEDED_WITH_ERRORS):
            results.append(WuaResult(update_id, "verified", "Windows Update history: succeeded"))
        else:
            results.append(
                WuaResult(update_id, "failed", "after the reboot, neither the history nor QFE lists it")
            )
    return results
