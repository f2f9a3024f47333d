"""``HKLM\\SOFTWARE\\LANET\\Agent``: the mark that this PC is registered, for the MSI.

The MSI's launch condition asks for ``SERVER`` and ``TOKEN`` on a first install. A registered PC
with no product installed at that moment (a self-update whose new MSI failed and rolled back, after
the old product was already removed; an administrator's uninstall and reinstall) must install again
without them: the agent's identity and data are still on disk. The MSI finds this value with a
``RegistrySearch``; it is written by ``register`` and removed with the data (``remove-data``).
"""

import contextlib
import sys

if sys.platform != "win32":  # (mypy checks the rest for Windows only)
    raise ImportError("the registry mark exists on Windows only")

import winreg

KEY = r"SOFTWARE\LANET\Agent"
VALUE = "AssetId"


def mark_registered(asset_id: str) -> None:
    with winreg.CreateKeyEx(
        winreg.HKEY_LOCAL_MACHINE, KEY, 0, winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY
    ) as key:
        winreg.SetValueEx(key, VALUE, 0, winreg.REG_SZ, asset_id)


def registered_asset() -> str | None:
    try:
        with winreg.OpenKey(
            winreg.HKEY_LOCAL_MACHINE, KEY, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
        ) as key:
            return str(winreg.QueryValueEx(key, VALUE)[0])
    except OSError:
        return None


def clear() -> None:
    with contextlib.suppress(OSError):
        winreg.DeleteKeyEx(winreg.HKEY_LOCAL_MACHINE, KEY, winreg.KEY_WOW64_64KEY)
