"""Folder permissions of the agent on Windows: its folders belong to SYSTEM and Administrators.

``C:\\Program Files`` lets every user read what is below it. The agent's ``config``, ``data``,
``logs`` and ``scripts`` folders hold its identity, its encrypted credentials (DPAPI machine scope:
any local process could decrypt them if it could read them), what it collects and the scripts it is
sent, so each gets a protected access list (nothing inherited from the parent) granting full
control to LocalSystem and the Administrators group only, inherited by everything inside. The PC's
user reaches the agent only through the tray's named pipe.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ntsecuritycon
import win32security

_INHERIT = ntsecuritycon.OBJECT_INHERIT_ACE | ntsecuritycon.CONTAINER_INHERIT_ACE
OWNERS = (win32security.WinLocalSystemSid, win32security.WinBuiltinAdministratorsSid)


def _private_descriptor() -> Any:
    dacl = win32security.ACL()
    for kind in OWNERS:
        sid = win32security.CreateWellKnownSid(kind, None)
        dacl.AddAccessAllowedAceEx(win32security.ACL_REVISION, _INHERIT, ntsecuritycon.FILE_ALL_ACCESS, sid)
    descriptor = win32security.SECURITY_DESCRIPTOR()
    descriptor.SetSecurityDescriptorDacl(True, dacl, False)
    protected = win32security.SE_DACL_PROTECTED
    descriptor.SetSecurityDescriptorControl(protected, protected)
    return descriptor


def restrict(folder: Path) -> None:
    """Create ``folder`` if needed; it and everything already in it get the private access list.

    Set on each existing entry explicitly rather than relying on propagation, so files written by an
    older version before the folder was restricted are covered too; new files inherit it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = _private_descriptor()
    entries = [folder, *folder.rglob("*")]
    for entry in entries:
        win32security.SetFileSecurity(str(entry), win32security.DACL_SECURITY_INFORMATION, descriptor)


def secure(folders: Iterable[Path]) -> None:
    """Each folder (created if needed) and all it holds get the private access list."""
    for folder in folders:
        restrict(folder)


def grantees(path: Path) -> set[str]:
    """Who the access list of a file or folder lets in, as SID strings (``S-1-5-18`` is LocalSystem)."""
    descriptor = win32security.GetFileSecurity(str(path), win32security.DACL_SECURITY_INFORMATION)
    dacl = descriptor.GetSecurityDescriptorDacl()
    found = set()
    for index in range(dacl.GetAceCount()):
        (_kind, _flags), _mask, sid = dacl.GetAce(index)
        found.add(win32security.ConvertSidToStringSid(sid))
    return found
