"""Fixtures of the Windows lane. Every test here runs in Windows CPython (under Wine in CI)."""

import sys

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if sys.platform != "win32":
        raise pytest.UsageError("tests_windows/ runs in Windows Python: use packaging/windows/wine-lane.sh")
