"""The agent's Fernet over libcrypto: the specification's vector and both directions with cryptography."""

import base64

import pytest
from cryptography.fernet import Fernet

from lanet.agent.secrets.fernet import InvalidToken, LibcryptoFernet, _libcrypto, generate_key, make_fernet

# From the Fernet specification's generate.json / verify.json.
SPEC_KEY = b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
SPEC_TOKEN = (
    b"gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
)
SPEC_IV = bytes(range(16))
SPEC_TIME = 499162800  # 1985-10-26T01:20:00-07:00


def test_libcrypto_is_used_on_linux() -> None:
    assert _libcrypto() is not None
    assert isinstance(make_fernet(generate_key()), LibcryptoFernet)


def test_the_specifications_vector() -> None:
    fernet = LibcryptoFernet(SPEC_KEY)
    assert fernet.encrypt(b"hello", at=SPEC_TIME, iv=SPEC_IV) == SPEC_TOKEN
    assert fernet.decrypt(SPEC_TOKEN) == b"hello"


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 4096])
def test_tokens_read_both_ways_with_cryptography(size: int) -> None:
    key = generate_key()
    ours, theirs = LibcryptoFernet(key), Fernet(key)
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert theirs.decrypt(ours.encrypt(data)) == data
    assert ours.decrypt(theirs.encrypt(data)) == data


def test_a_wrong_key_an_altered_token_and_garbage_are_refused() -> None:
    token = LibcryptoFernet(SPEC_KEY).encrypt(b"secret")
    with pytest.raises(InvalidToken):
        LibcryptoFernet(generate_key()).decrypt(token)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[30] ^= 1
    with pytest.raises(InvalidToken):
        LibcryptoFernet(SPEC_KEY).decrypt(base64.urlsafe_b64encode(bytes(raw)))
    for garbage in (b"", b"not base64!", base64.urlsafe_b64encode(b"\x80" + b"\0" * 40)):
        with pytest.raises(InvalidToken):
            LibcryptoFernet(SPEC_KEY).decrypt(garbage)


def test_a_bad_key_is_refused() -> None:
    for key in (b"short", base64.urlsafe_b64encode(b"x" * 31)):
        with pytest.raises(ValueError, match="32 url-safe"):
            LibcryptoFernet(key)
