"""Encryption at rest for the agent's credentials.

Windows: DPAPI in the machine scope (``CryptProtectData`` with ``CRYPTPROTECT_LOCAL_MACHINE``): the
blob is bound to this machine and unreadable elsewhere.

Elsewhere: Fernet (AES-128-CBC + HMAC-SHA256, :mod:`lanet.agent.secrets.fernet`) with a random key in
``data/agent.key``, mode 0600, owned by the agent's account. What this protects: credentials copied
off the machine without the key file (a backup of ``agent.db``, a support bundle, another account on
the box reading the database) are useless. What it does not: root, or anyone who can read the key
file as the agent's account, can decrypt; Linux has no hardware-bound secret store the agent could
rely on everywhere.
"""

import os
import sys
from pathlib import Path
from typing import Protocol

from lanet.agent.secrets.fernet import generate_key, make_fernet


class Protector(Protocol):
    name: str

    def seal(self, data: bytes) -> bytes: ...

    def unseal(self, blob: bytes) -> bytes: ...


class FernetProtector:
    name = "fernet"

    def __init__(self, key_file: Path) -> None:
        self._fernet = make_fernet(self._load_or_create(key_file))

    @staticmethod
    def _load_or_create(key_file: Path) -> bytes:
        if key_file.exists():
            return key_file.read_bytes().strip()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = generate_key()
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        return key

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def unseal(self, blob: bytes) -> bytes:
        return self._fernet.decrypt(blob)


class DpapiProtector:
    name = "dpapi"
    _LOCAL_MACHINE = 0x4

    def seal(self, data: bytes) -> bytes:
        import win32crypt

        blob: bytes = win32crypt.CryptProtectData(data, "LANET Agent", None, None, None, self._LOCAL_MACHINE)
        return blob

    def unseal(self, blob: bytes) -> bytes:
        import win32crypt

        _description, data = win32crypt.CryptUnprotectData(blob, None, None, None, self._LOCAL_MACHINE)
        return bytes(data)


class PlainProtector:
    """``security.encryption_enabled: false``: stored as is (the agent warns at every start)."""

    name = "none"

    def seal(self, data: bytes) -> bytes:
        return data

    def unseal(self, blob: bytes) -> bytes:
        return blob


def default_protector(key_file: Path, enabled: bool = True) -> Protector:
    if not enabled:
        return PlainProtector()
    if sys.platform == "win32":
        return DpapiProtector()
    return FernetProtector(key_file)
