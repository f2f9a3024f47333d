"""The Windows Update Agent path against an object model that reproduces its COM interface
(``IUpdateSession``, ``IUpdateSearcher``, ``ISearchResult``, ``IUpdate``, ``IUpdateDownloader``,
``IUpdateInstaller`` and their result objects: ``Count``/``Item(i)`` collections, properties by
name, ``OperationResultCode`` values and HRESULTs as Microsoft documents them). Wine has no Update
Agent; the lane checks that creating the real one fails clearly."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from lanet.agent.patches import wua

SECURITY = ("0fa1201d-4330-4fa8-8ae9-b877473b6441", "Security Updates")
DEFINITION = ("e0789628-ce08-4437-be74-2495b842f43b", "Definition Updates")
DRIVERS = ("ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0", "Drivers")
UPDATES = ("cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83", "Updates")
WINDOWS_11 = ("72e7624a-5b00-45d2-b92f-e561c0a6a160", "Windows 11")


class Collection:
    def __init__(self, items: list[Any] | None = None) -> None:
        self.items = list(items or [])

    @property
    def Count(self) -> int:  # noqa: N802 - the COM interface's names
        return len(self.items)

    def Item(self, index: int) -> Any:  # noqa: N802
        return self.items[index]

    def Add(self, item: Any) -> int:  # noqa: N802
        self.items.append(item)
        return len(self.items) - 1


@dataclass
class Category:
    CategoryID: str
    Name: str
    Type: str = "UpdateClassification"


@dataclass
class Identity:
    UpdateID: str
    RevisionNumber: int = 200


@dataclass
class Behaviour:
    RebootBehavior: int


@dataclass
class Update:
    Title: str
    Identity: Identity
    KBArticleIDs: Collection
    Categories: Collection
    MsrcSeverity: str = ""
    MaxDownloadSize: int = 0
    IsDownloaded: bool = False
    InstallationBehavior: Behaviour = field(default_factory=lambda: Behaviour(0))
    EulaAccepted: bool = True

    def AcceptEula(self) -> None:  # noqa: N802
        self.EulaAccepted = True


def update(title: str, guid: str, kb: str, *categories: tuple[str, str], **extra: Any) -> Update:
    types = [Category(cid, name) for cid, name in categories if name != "Windows 11"]
    types += [Category(cid, name, "Product") for cid, name in categories if name == "Windows 11"]
    return Update(title, Identity(guid), Collection([kb] if kb else []), Collection(types), **extra)


CUMULATIVE = update(
    "2024-01 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5034123)",
    "A3C8A4C6-2D9E-4F0B-9C43-7A1E2F6B9D10",
    "5034123",
    SECURITY,
    WINDOWS_11,
    MsrcSeverity="Critical",
    MaxDownloadSize=812_331_008,
    InstallationBehavior=Behaviour(2),
)
DEFENDER = update(
    "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.403.1234.0)",
    "0e8b1f2a-6c0d-4b64-9a41-3b7f0c7d5e21",
    "2267602",
    DEFINITION,
    MaxDownloadSize=85_213_184,
    IsDownloaded=True,
)
DRIVER = update(
    "Intel - Display - 31.0.101.4953",
    "7f9b2c11-3a5d-4e80-8f21-9c6d4b1a2e33",
    "",
    DRIVERS,
    MaxDownloadSize=612_000_000,
    EulaAccepted=False,
)
PLAIN = update("2024-01 .NET Framework update", "19c0d1f2-aaaa-4bbb-8ccc-0123456789ab", "5033918", UPDATES)


@dataclass
class SearchResult:
    ResultCode: int
    Updates: Collection


@dataclass
class Outcome:
    ResultCode: int
    HResult: int = 0
    RebootRequired: bool = False


class Job:
    """IUpdateDownloader / IUpdateInstaller: ``Updates`` in, a result with one outcome each out."""

    def __init__(self, outcomes: dict[str, Outcome]) -> None:
        self.Updates: Collection = Collection()
        self.outcomes = outcomes

    def _run(self) -> Any:
        chosen = [
            self.outcomes.get(u.Identity.UpdateID.lower(), Outcome(wua.SUCCEEDED)) for u in self.Updates.items
        ]
        codes = {o.ResultCode for o in chosen}
        overall = wua.SUCCEEDED if codes <= {wua.SUCCEEDED} else wua.SUCCEEDED_WITH_ERRORS

        class Result:
            ResultCode = overall
            RebootRequired = any(o.RebootRequired for o in chosen)

            def GetUpdateResult(self, index: int) -> Outcome:  # noqa: N802
                return chosen[index]

        return Result()

    def Download(self) -> Any:  # noqa: N802
        return self._run()

    def Install(self) -> Any:  # noqa: N802
        return self._run()


class Session:
    def __init__(
        self,
        result: SearchResult | Exception,
        downloads: dict[str, Outcome] | None = None,
        installs: dict[str, Outcome] | None = None,
    ) -> None:
        self.ClientApplicationID = ""
        self.result = result
        self.criteria: list[str] = []
        self.downloader = Job(downloads or {})
        self.installer = Job(installs or {})

    def CreateUpdateSearcher(self) -> Any:  # noqa: N802
        session = self

        class Searcher:
            def Search(self, criteria: str) -> SearchResult:  # noqa: N802
                session.criteria.append(criteria)
                if isinstance(session.result, Exception):
                    raise session.result
                return session.result

        return Searcher()

    def CreateUpdateDownloader(self) -> Job:  # noqa: N802
        return self.downloader

    def CreateUpdateInstaller(self) -> Job:  # noqa: N802
        return self.installer


class ComError(Exception):
    """Like pywintypes.com_error: (hresult, text, excepinfo, argerror)."""


def test_a_search_gives_every_update_classified_with_its_kb_severity_size_and_reboot() -> None:
    session = Session(SearchResult(wua.SUCCEEDED, Collection([CUMULATIVE, DEFENDER, DRIVER, PLAIN])))
    found = wua.scan(lambda: session, sources=lambda: ["cbs", "pending_file_rename"])
    assert session.ClientApplicationID == "LANET Agent" and session.criteria == [
        "IsInstalled=0 and IsHidden=0"
    ]
    by_kb = {tuple(i["kb"]): i for i in found.items}
    cumulative = by_kb[("KB5034123",)]
    assert cumulative["update_id"] == "a3c8a4c6-2d9e-4f0b-9c43-7a1e2f6b9d10"
    assert (cumulative["classification"], cumulative["severity"]) == ("security", "critical")
    assert (cumulative["size_bytes"], cumulative["reboot_required"], cumulative["downloaded"]) == (
        812_331_008,
        True,
        False,
    )
    assert (
        by_kb[("KB2267602",)]["classification"] == "definition"
        and by_kb[("KB2267602",)]["downloaded"] is True
    )
    assert by_kb[()]["classification"] == "driver" and by_kb[("KB5033918",)]["classification"] == "other"
    assert (found.reboot_pending, found.reboot_sources, found.error) == (
        True,
        ["cbs", "pending_file_rename"],
        None,
    )


def test_a_search_with_errors_warns_and_a_failed_one_says_how() -> None:
    partial = wua.scan(
        lambda: Session(SearchResult(wua.SUCCEEDED_WITH_ERRORS, Collection([PLAIN]))), sources=list
    )
    assert len(partial.items) == 1 and "succeeded with errors" in (partial.error or "")
    with pytest.raises(wua.WuaError, match="ended failed"):
        wua.scan(lambda: Session(SearchResult(wua.FAILED, Collection())), sources=list)
    offline = ComError(-2145107924, "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED", None, None)
    with pytest.raises(wua.WuaError, match=r"search failed \(0x8024402C\)"):
        wua.scan(lambda: Session(offline), sources=list)


def test_pending_reboots_are_read_from_every_source() -> None:
    keys = {
        (wua.REBOOT_KEYS[0][1], None): True,  # CBS RebootPending exists
        (wua.REBOOT_KEYS[2][1], "PendingFileRenameOperations"): ["\\??\\C:\\old.dll", ""],
        (wua.REBOOT_KEYS[3][1], "UpdateExeVolatile"): 0,  # present but 0: nothing pending
    }

    class SystemInfo:
        RebootRequired = True

    found = wua.reboot_sources(SystemInfo, lambda key, value: keys.get((key, value)))
    assert found == ["wua", "cbs", "pending_file_rename"]
    assert (
        wua.reboot_sources(lambda: (_ for _ in ()).throw(wua.WuaUnavailable("no")), lambda k, v: None) == []
    )


def test_installs_report_each_update_reboots_partial_successes_and_failures_with_their_hresult() -> None:
    missing = "ffffffff-0000-4000-8000-000000000000"
    ids = [
        CUMULATIVE.Identity.UpdateID,
        DEFENDER.Identity.UpdateID,
        DRIVER.Identity.UpdateID,
        PLAIN.Identity.UpdateID,
        missing,
    ]
    session = Session(
        SearchResult(wua.SUCCEEDED, Collection([CUMULATIVE, DEFENDER, DRIVER, PLAIN])),
        downloads={PLAIN.Identity.UpdateID.lower(): Outcome(wua.FAILED, 0x80246008 - 2**32)},
        installs={
            CUMULATIVE.Identity.UpdateID.lower(): Outcome(wua.SUCCEEDED, RebootRequired=True),
            DEFENDER.Identity.UpdateID.lower(): Outcome(wua.SUCCEEDED_WITH_ERRORS),
            DRIVER.Identity.UpdateID.lower(): Outcome(wua.FAILED, 0x80070643 - 2**32),
            PLAIN.Identity.UpdateID.lower(): Outcome(wua.FAILED, 0x80240022 - 2**32),
        },
    )
    results = wua.install(ids, lambda: session, Collection)
    assert [(r.state, r.error_code) for r in results] == [
        ("reboot_pending", None),
        ("installed", None),
        ("failed", "0x80070643"),
        ("failed", "0x80246008"),  # its download failed: that is the error reported
        ("failed", None),
    ]
    assert results[1].reason == "succeeded with errors" and results[2].reason == "the install failed"
    assert results[3].reason == "the download failed" and "no longer offered" in results[4].reason
    assert DRIVER.EulaAccepted is True  # accepted on the technician's approval, as WUA requires
    assert len(session.installer.Updates.items) == 4


def test_without_pywin32_the_agent_says_the_update_agent_is_not_available() -> None:
    with pytest.raises(wua.WuaUnavailable, match="Windows Update Agent not available: pywin32 is missing"):
        wua.scan()


def test_a_stub_agent_is_not_available_rather_than_failing() -> None:
    class Stub:
        """What Wine's wuapi.dll gives: a session that takes nothing and searches nothing."""

        def __setattr__(self, name: str, value: Any) -> None:
            raise AttributeError(f"Property 'Microsoft.Update.Session.{name}' can not be set.")

        def CreateUpdateSearcher(self) -> Any:  # noqa: N802
            class Searcher:
                def Search(self, criteria: str) -> Any:  # noqa: N802
                    raise ComError(-2147467263, "Not implemented", None, None)

            return Searcher()

    with pytest.raises(
        wua.WuaUnavailable, match=r"the Windows Update search is not implemented \(0x80004001\)"
    ):
        wua.scan(Stub, sources=list)
    with pytest.raises(wua.WuaUnavailable, match="Windows Update Agent not available: no Search"):
        wua.scan(lambda: Session(AttributeError("no Search")), sources=list)


# --- after the reboot: the history merged with QFE ---------------------------------------------------
@dataclass
class HistoryEntry:
    """IUpdateHistoryEntry: what QueryHistory lists, newest first (Windows keeps uninstalls too)."""

    Title: str
    UpdateIdentity: Identity
    Date: Any
    ResultCode: int
    HResult: int = 0
    Operation: int = 1


class HistorySession(Session):
    def __init__(self, entries: list[HistoryEntry]) -> None:
        super().__init__(SearchResult(wua.SUCCEEDED, Collection()))
        self.entries = entries
        self.asked: list[tuple[int, int]] = []

    def CreateUpdateSearcher(self) -> Any:  # noqa: N802
        session = self

        class Searcher:
            def GetTotalHistoryCount(self) -> int:  # noqa: N802
                return len(session.entries)

            def QueryHistory(self, start: int, count: int) -> Collection:  # noqa: N802
                session.asked.append((start, count))
                return Collection(session.entries[start : start + count])

        return Searcher()


def _history() -> list[HistoryEntry]:
    from datetime import datetime

    day = datetime(2024, 1, 10, 3, 0)
    return [
        HistoryEntry(CUMULATIVE.Title, Identity(CUMULATIVE.Identity.UpdateID), day, wua.SUCCEEDED),
        HistoryEntry(
            PLAIN.Title + " (KB5033918)",
            Identity(PLAIN.Identity.UpdateID),
            day,
            wua.FAILED,
            HResult=-2145124329,  # 0x80240017: WU_E_NOT_APPLICABLE
        ),
        HistoryEntry(DRIVER.Title, Identity(DRIVER.Identity.UpdateID), day, wua.SUCCEEDED, Operation=2),
        HistoryEntry(
            PLAIN.Title + " (KB5033918)",
            Identity(PLAIN.Identity.UpdateID),
            day.replace(day=2),
            wua.SUCCEEDED,
        ),
    ]


def test_the_installed_history_keeps_the_newest_install_per_update_and_merges_qfe_by_kb() -> None:
    session = HistorySession(_history())
    found = wua.installed_history(lambda: session, hotfixes=lambda: ["KB5034123", "KB5031356 ", "not-a-kb"])
    assert session.asked == [(0, 4)]
    by_id = {h.update_id: h for h in found if h.update_id}
    cumulative = by_id[CUMULATIVE.Identity.UpdateID.lower()]
    assert (cumulative.kb, cumulative.result, cumulative.sources) == (
        ["KB5034123"],
        wua.SUCCEEDED,
        ("wua", "qfe"),
    )
    plain = by_id[PLAIN.Identity.UpdateID.lower()]
    assert (plain.result, plain.hresult) == (wua.FAILED, "0x80240017")  # the newest entry wins
    assert DRIVER.Identity.UpdateID.lower() not in by_id  # an uninstall is not an install
    only_qfe = [h for h in found if h.update_id is None]
    assert [(h.kb, h.sources) for h in only_qfe] == [(["KB5031356"], ("qfe",))]


def test_a_failing_qfe_query_leaves_the_history_and_an_empty_history_leaves_qfe() -> None:
    def broken() -> list[str]:
        raise wua.WuaError("the installed hotfixes could not be read (0x80041003)")

    assert {
        h.sources for h in wua.installed_history(lambda: HistorySession(_history()), hotfixes=broken)
    } == {("wua",)}
    found = wua.installed_history(lambda: HistorySession([]), hotfixes=lambda: ["KB5034123"])
    assert [(h.kb, h.sources) for h in found] == [(["KB5034123"], ("qfe",))]


def test_each_update_that_waited_is_verified_failed_or_still_pending_by_the_os_records() -> None:
    history = wua.installed_history(lambda: HistorySession(_history()), hotfixes=lambda: ["KB5034123"])
    waited = [
        {"update_id": CUMULATIVE.Identity.UpdateID.lower(), "kb": ["KB5034123"]},
        {"update_id": PLAIN.Identity.UpdateID.lower(), "kb": ["KB5033918"]},
        {"update_id": DEFENDER.Identity.UpdateID.lower(), "kb": ["KB2267602"]},
    ]
    done = {r.update_id: r for r in wua.verify(waited, history, [])}
    assert done[waited[0]["update_id"]].state == "verified"
    failed = done[waited[1]["update_id"]]
    assert (failed.state, failed.error_code) == ("failed", "0x80240017")
    assert done[waited[2]["update_id"]].state == "failed"
    assert "neither" in done[waited[2]["update_id"]].reason
    # A success in the history is recorded before the restart: with Windows still asking for one,
    # an update QFE does not list yet stays pending.
    succeeded = [HistoryEntry(DEFENDER.Title, Identity(DEFENDER.Identity.UpdateID), 0, wua.SUCCEEDED)]
    history = wua.installed_history(lambda: HistorySession(succeeded), hotfixes=lambda: [])
    assert [r.state for r in wua.verify(waited[2:], history, ["cbs"])] == ["reboot_pending"]
    assert [r.state for r in wua.verify(waited[2:], history, [])] == ["verified"]
