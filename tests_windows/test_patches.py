"""OS updates on Windows, in Windows Python under Wine: Wine has no working Windows Update Agent, so
the scan must say so plainly, and nothing worse (no crash, no hang, no half result)."""

from pathlib import Path

from lanet.agent.patches import scan_os


def test_without_a_working_update_agent_the_scan_says_it_is_not_available() -> None:
    found = scan_os()
    assert found.source == "windows_update" and found.items == []
    said = found.error or ""
    assert said.startswith("Windows Update Agent not available"), said


def _au(name: str) -> int | None:
    import winreg

    from lanet.agent.patches.wu_settings import AU_KEY

    try:
        with winreg.OpenKey(
            winreg.HKEY_LOCAL_MACHINE, AU_KEY, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
        ) as key:
            return int(winreg.QueryValueEx(key, name)[0])
    except FileNotFoundError:
        return None


def test_the_windows_update_settings_change_only_when_asked_and_come_back_as_they_were(
    tmp_path: Path,
) -> None:
    """Against the real registry: an AUOptions an administrator set stays theirs; ``disable`` and
    ``notify`` change what they name and ``leave`` restores every value, absent ones as absent."""
    from lanet.agent import collectors
    from lanet.agent.patches import wu_settings
    from lanet.agent.secrets.protect import PlainProtector
    from lanet.agent.store import Store

    registry = wu_settings.WindowsRegistry()
    registry.write("NoAutoUpdate", None)
    registry.write("AUOptions", 4)  # the administrator's: install automatically
    store = Store(tmp_path / "agent.db", PlainProtector())
    try:
        left = wu_settings.apply(store, "leave", registry)
        assert left["changed"] is False and _au("NoAutoUpdate") is None and _au("AUOptions") == 4

        off = wu_settings.apply(store, "disable", registry)
        assert off == {
            "mode": "disable",
            "no_auto_update": 1,
            "au_options": 4,
            "changed": True,
            "restored": False,
        }
        assert _au("NoAutoUpdate") == 1 and collectors.updates()["auto_update_enabled"] is False
        again = wu_settings.apply(store, "disable", registry)
        assert again["changed"] is False  # already so: nothing written, nothing to audit

        notify = wu_settings.apply(store, "notify", registry)
        assert (notify["no_auto_update"], notify["au_options"], notify["changed"]) == (0, 2, True)

        back = wu_settings.apply(store, "leave", registry)
        assert back["restored"] is True and back["changed"] is True
        assert _au("NoAutoUpdate") is None and _au("AUOptions") == 4
        assert store.get(wu_settings.ORIGINAL) is None
    finally:
        store.close()
        registry.write("NoAutoUpdate", None)
        registry.write("AUOptions", None)
