"""Fernet tokens (AES-128-CBC + HMAC-SHA256) over the libcrypto this process has already loaded.

Python's ``ssl`` and ``hashlib`` map the system's OpenSSL ``libcrypto``; this module calls its EVP
cipher functions through :mod:`ctypes` instead of importing ``cryptography``, whose own copy of
OpenSSL costs the long-running agent about 8 MB of memory. The token format is the Fernet
specification's, byte for byte, so data written by either implementation reads with the other
(``tests/agent/test_fernet.py`` checks both directions against ``cryptography``).

Only used where ``/proc/self/maps`` names the loaded library (Linux); elsewhere
:func:`make_fernet` returns ``cryptography``'s implementation. Loading a libcrypto by name is never
attempted: on macOS that aborts the process.
"""

import base64
import binascii
import ctypes
import hashlib
import hmac
import os
import ssl
import struct
import time
from functools import cache
from typing import Any, Protocol

_VERSION = b"\x80"
_BLOCK = 16


class InvalidToken(Exception):
    """The token is malformed, was made with another key, or was altered."""


class FernetLike(Protocol):
    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, token: bytes) -> bytes: ...


def generate_key() -> bytes:
    return base64.urlsafe_b64encode(os.urandom(32))


@cache
def _libcrypto() -> Any | None:
    """The libcrypto ``ssl`` is linked with, if this process has it mapped under a path we can read."""
    if not ssl.OPENSSL_VERSION.startswith("OpenSSL"):  # LibreSSL or another library: not ours to call
        return None
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "libcrypto" in line and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
            lib.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
            lib.EVP_aes_128_cbc.restype = ctypes.c_void_p
            pointer, text = ctypes.c_void_p, ctypes.c_char_p
            lib.EVP_CipherInit_ex.argtypes = [pointer, pointer, pointer, text, text, ctypes.c_int]
            lib.EVP_CipherUpdate.argtypes = [
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_int),
                ctypes.c_char_p,
                ctypes.c_int,
            ]
            lib.EVP_CipherFinal_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        except (OSError, AttributeError):
            continue
        return lib
    return None


def _aes_128_cbc(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    lib = _libcrypto()
    if lib is None:
        raise RuntimeError("no libcrypto mapped in this process; use make_fernet()")
    ctx = lib.EVP_CIPHER_CTX_new()
    if not ctx:
        raise MemoryError("EVP_CIPHER_CTX_new failed")
    try:
        out = ctypes.create_string_buffer(len(data) + _BLOCK)
        written, final = ctypes.c_int(0), ctypes.c_int(0)
        ok = (
            lib.EVP_CipherInit_ex(ctx, lib.EVP_aes_128_cbc(), None, key, iv, 1 if encrypt else 0)
            and lib.EVP_CipherUpdate(ctx, ctypes.addressof(out), ctypes.byref(written), data, len(data))
            and lib.EVP_CipherFinal_ex(ctx, ctypes.addressof(out) + written.value, ctypes.byref(final))
        )
        if not ok:
            lib.ERR_clear_error()  # leave nothing on the queue for the ssl module to trip over
            raise InvalidToken("the ciphertext does not decrypt (bad padding)")
        return out.raw[: written.value + final.value]
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)


class LibcryptoFernet:
    """``cryptography.fernet.Fernet``'s ``encrypt``/``decrypt`` without the ``cryptography`` package."""

    def __init__(self, key: bytes) -> None:
        try:
            raw = base64.urlsafe_b64decode(key)
        except (binascii.Error, ValueError):
            raise ValueError("a Fernet key is 32 url-safe base64-encoded bytes") from None
        if len(raw) != 32:
            raise ValueError("a Fernet key is 32 url-safe base64-encoded bytes")
        self._signing, self._encryption = raw[:16], raw[16:]

    def encrypt(self, data: bytes, *, at: int | None = None, iv: bytes | None = None) -> bytes:
        """``at`` and ``iv`` exist for the specification's test vectors; leave them unset."""
        iv = os.urandom(_BLOCK) if iv is None else iv
        stamp = int(time.time()) if at is None else at
        body = _VERSION + struct.pack(">Q", stamp) + iv + _aes_128_cbc(self._encryption, iv, data, True)
        return base64.urlsafe_b64encode(body + hmac.new(self._signing, body, hashlib.sha256).digest())

    def decrypt(self, token: bytes) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(token)
        except (binascii.Error, ValueError):
            raise InvalidToken("not base64") from None
        if len(raw) < 1 + 8 + _BLOCK + _BLOCK + 32 or raw[:1] != _VERSION:
            raise InvalidToken("not a Fernet token")
        body, mac = raw[:-32], raw[-32:]
        if not hmac.compare_digest(mac, hmac.new(self._signing, body, hashlib.sha256).digest()):
            raise InvalidToken("wrong key or altered token")
        iv, ciphertext = body[9 : 9 + _BLOCK], body[9 + _BLOCK :]
        if len(ciphertext) % _BLOCK:
            raise InvalidToken("ciphertext is not whole blocks")
        return _aes_128_cbc(self._encryption, iv, ciphertext, False)


def make_fernet(key: bytes) -> FernetLike:
    """The libcrypto implementation where it can be used, ``cryptography``'s otherwise."""
    if _libcrypto() is not None:
        return LibcryptoFernet(key)
    from cryptography.fernet import Fernet

    return Fernet(key)
