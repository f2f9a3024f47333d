"""Reading gettext ``.po`` catalogs as text, for the tray and the portal.

Messages are written in Spanish (es-MX), the product's default language; each catalog maps them to
another language. Reading the ``.po`` text directly means no compile step between a fix to a string
and a release.
"""

import ast

LANGUAGES: tuple[str, ...] = ("es", "en")
"""The languages every interface offers; the first is the default."""


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
