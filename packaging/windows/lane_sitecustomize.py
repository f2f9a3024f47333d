"""Loaded by the Windows lane's Python at start (as ``sitecustomize``): the one Wine quirk it needs.

Under Wine, ``subprocess`` pipes can hang until the process has touched the desktop window; real
Windows does not care. Not shipped with the agent.
"""

import ctypes

ctypes.windll.user32.GetDesktopWindow()  # type: ignore[attr-defined]
