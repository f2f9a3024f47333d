"""Agent release versions: ``MAJOR.MINOR.PATCH`` with an optional pre-release tag (``0.2.0-rc1``).

Plain Python, so the agent's service, its update worker and the server order versions the same way
without pydantic or ``packaging``. A pre-release sorts before its release, as in SemVer.
"""

import re

_NUMBER = r"(0|[1-9]\d{0,5})"
_TAG = r"([0-9A-Za-z]{1,16}(?:\.[0-9A-Za-z]{1,16}){0,3})"
VERSION_PATTERN = rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-{_TAG})?$"
MAX_VERSION_LENGTH = 32
_VERSION = re.compile(VERSION_PATTERN)


def is_version(text: object) -> bool:
    return isinstance(text, str) and len(text) <= MAX_VERSION_LENGTH and _VERSION.match(text) is not None


def version_key(text: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """A sort key; raises ValueError for anything that is not a version."""
    match = _VERSION.match(text) if len(text) <= MAX_VERSION_LENGTH else None
    if match is None:
        raise ValueError(f"{text!r} is not a version (MAJOR.MINOR.PATCH, optionally -tag)")
    major, minor, patch, tag = match.groups()
    if tag is None:
        return int(major), int(minor), int(patch), 1, ()
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in tag.split("."))
    return int(major), int(minor), int(patch), 0, parts


def is_newer(candidate: str, current: str) -> bool:
    return version_key(candidate) > version_key(current)
