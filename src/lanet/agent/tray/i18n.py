"""Translations for the tray through gettext catalogs (``locale/<lang>.po``).

Messages are written in Spanish (es-MX), the product's default language; ``en.po`` holds English.
The catalogs are read as ``.po`` text at start, so no build step is needed to ship a fix to a string.
The language comes from ``LANET_LANG``, else the system locale (``en*`` gives English), else es-MX.
"""

import ast
import gettext
import locale
import os
from pathlib import Path

_LOCALE_DIR = Path(__file__).parent / "locale"


def parse_po(text: str) -> dict[str, str]:
    """msgid -> msgstr of a .po file (plain entries; untranslated ones are left out)."""
    catalog: dict[str, str] = {}
    current: dict[str, str] = {}
    key = None
    for raw in [*text.splitlines(), ""]:
        line = raw.strip()
        if not line or line.startswith("#"):
            if current.get("msgid") and current.get("msgstr"):
                catalog[current["msgid"]] = current["msgstr"]
            if not line:
                current, key = {}, None
            continue
        if line.startswith(("msgid ", "msgstr ")):
            key, _, rest = line.partition(" ")
            current[key] = ast.literal_eval(rest)
        elif line.startswith('"') and key:
            current[key] += ast.literal_eval(line)
    return catalog


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
