"""Translations for the tray through gettext catalogs (``locale/<lang>.po``).

Messages are written in Spanish (es-MX), the product's default language; ``en.po`` holds English.
The catalogs are read as ``.po`` text at start, so no build step is needed to ship a fix to a string.
The language comes from ``LANET_LANG``, else the system locale (``en*`` gives English), else es-MX.
"""

import gettext
import locale
import os
from pathlib import Path

from lanet.i18n import parse_po

_LOCALE_DIR = Path(__file__).parent / "locale"


class PoTranslations(gettext.NullTranslations):
    def __init__(self, catalog: dict[str, str]) -> None:
        super().__init__()
        self._catalog = catalog

    def gettext(self, message: str) -> str:
        return self._catalog.get(message, message)


def choose_language(setting: str | None = None) -> str:
    wanted = setting or os.environ.get("LANET_LANG")
    if not wanted:
        system = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
        if not system:
            system = locale.getlocale()[0] or ""
        wanted = "en" if system.lower().startswith("en") else "es"
    return "en" if wanted.lower().startswith("en") else "es"


def translations(language: str) -> gettext.NullTranslations:
    if language == "es":
        return gettext.NullTranslations()  # the messages are Spanish already
    path = _LOCALE_DIR / f"{language}.po"
    return PoTranslations(parse_po(path.read_text(encoding="utf-8")))
