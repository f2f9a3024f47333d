"""The PC's own Windows Update settings, changed only when the policy says so, and reversibly.

By default (``leave``) the agent never touches them. A policy that needs Windows to stop
installing on its own says ``disable`` (``NoAutoUpdate=1``) or ``notify`` (``NoAutoUpdate=0`` and
``AUOptions=2``: notify before downloading), both under the machine policy key that Group Policy
writes, ``HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU``. Before its first
change the agent keeps the values it found (absent ones as absent) in its store; switching back to
``leave`` restores exactly those and forgets them. Each scan reports the state, and the server
audits every change.

The registry is reached through :class:`Registry`, so the same logic runs against the real one on
Windows (and under Wine in the Windows lane).
"""

import sys
from typing import Any, Protocol

from lanet.agent.store import Store

AU_KEY = r"SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU"
MANAGED = ("NoAutoUpdate", "AUOptions")
#: Store key: the managed values before the agent first changed them ({name: value or None}).
ORIGINAL = "patches.wu_original"
TARGETS: dict[str, dict[str, int]] = {
    "disable": {"NoAutoUpdate": 1},
    "notify": {"NoAutoUpdate": 0, "AUOptions": 2},
}


class Registry(Protocol):
    def read(self, name: str) -> int | None: ...
    def write(self, name: str, value: int | None) -> None: ...


class WindowsRegistry:
    """The AU policy key of the 64-bit registry view, as REG_DWORD values."""

    def read(self, name: str) -> int | None:
        if sys.platform != "win32":
            raise OSError("the registry exists on Windows only")
        import winreg

        try:
            with winreg.OpenKey(
                winreg.HKEY_LOCAL_MACHINE, AU_KEY, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            ) as key:
                value, kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:  # no key, or no such value
            return None
        return int(value) if kind == winreg.REG_DWORD else None

    def write(self, name: str, value: int | None) -> None:
        """Set ``name`` to ``value``; None removes it (and creates no key for that)."""
        if sys.platform != "win32":
            raise OSError("the registry exists on Windows only")
        import winreg

        access = winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY
        if value is None:
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, AU_KEY, 0, access) as key:
                    winreg.DeleteValue(key, name)
            except FileNotFoundError:  # no key, or no such value: nothing to remove
                pass
            return
        with winreg.CreateKeyEx(winreg.HKEY_LOCAL_MACHINE, AU_KEY, 0, access) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_DWORD, value)


def apply(store: Store, mode: str, registry: Registry) -> dict[str, Any]:
    """Bring the settings to what ``mode`` asks; returns the state for the scan (``AutoUpdateState``)."""
    current = {name: registry.read(name) for name in MANAGED}
    original: dict[str, int | None] | None = store.get(ORIGINAL)
    changed = restored = False
    if mode == "leave":
        if original is not None:
            for name in MANAGED:
                registry.write(name, original.get(name))
            store.put(ORIGINAL, None)
            changed = restored = any(current[name] != original.get(name) for name in MANAGED)
    else:
        if original is None:
            store.put(ORIGINAL, current)  # before anything is touched
            original = current
        for name in MANAGED:
            want = TARGETS[mode].get(name, original.get(name))
            if current[name] != want:
                registry.write(name, want)
                changed = True
    now = {name: registry.read(name) for name in MANAGED}
    return {
        "mode": mode,
        "no_auto_update": now["NoAutoUpdate"],
        "au_options": now["AUOptions"],
        "changed": changed,
        "restored": restored,
    }


def apply_planned(store: Store, plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """On Windows, the plan's ``windows_auto_update`` applied (None elsewhere: nothing to manage).
    A registry that refuses is reported, not raised: the scan goes on."""
    if sys.platform != "win32":
        return None
    mode = (plan or {}).get("windows_auto_update", "leave")
    try:
        return apply(store, mode, WindowsRegistry())
    except OSError as exc:
        return {"mode": mode, "error": f"the Windows Update settings could not be changed: {exc}"[:1000]}
