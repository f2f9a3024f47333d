"""Agent self-update: what this install can update itself from, and the update's steps.

A package build writes ``lanet/agent/_package.py`` (``PLATFORM = "linux-deb"`` or
``"windows-x64"``); an install without it (``pip install``, a source checkout) cannot update itself
and says so instead of half-doing it. The heavy work (TUF, downloads) runs in a short-lived worker
process of its own, so the service never loads it.
"""

#: Said where an update cannot happen because of how the agent was installed.
UNSUPPORTED = "self-update not supported for this install (not installed from the MSI or the .deb)"


def package_platform() -> str | None:
    """The release platform this install was packaged for; None for a development install."""
    try:
        from lanet.agent import _package  # type: ignore[attr-defined]
    except ImportError:
        return None
    platform = getattr(_package, "PLATFORM", None)
    return platform if isinstance(platform, str) else None
