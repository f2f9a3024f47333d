"""The portal's language: Spanish (es-MX) by default, English on request.

Messages are written in Spanish; ``locale/en.po`` maps them to English. The language is the
``lanet_lang`` cookie (set from the switch in the page header), else the user's stored preference,
else the browser's first ``Accept-Language`` choice between the two, else Spanish.
"""

from functools import cache
from pathlib import Path

from flask import g, request

from lanet.i18n import LANGUAGES, parse_po
from lanet.server.services.forecast import eta_rounded

COOKIE = "lanet_lang"


@cache
def _catalog(language: str) -> dict[str, str]:
    if language == "es":
        return {}
    path = Path(__file__).parent / "locale" / f"{language}.po"
    return parse_po(path.read_text(encoding="utf-8"))


def current_language() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return str(user.language)
    best = request.accept_languages.best_match(["es", "es-MX", "en"], default="es")
    return "en" if best.startswith("en") else "es"


def gettext(message: str, **values: object) -> str:
    text = _catalog(current_language()).get(message, message)
    return text.format(**values) if values else text


def time_ahead(hours: float | None) -> str:
    """A span ahead as people say it ("unas 18 horas", "unos 3 días"); None is "Nunca"."""
    if hours is None:
        return gettext("Nunca")
    unit, count = eta_rounded(hours)
    if unit == "under_an_hour":
        return gettext("menos de una hora")
    if unit == "an_hour":
        return gettext("una hora")
    if unit == "hours":
        return gettext("unas {n} horas", n=count)
    return gettext("unos {n} días", n=count)
