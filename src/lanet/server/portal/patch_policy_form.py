"""The patch policy form of one scope (client, site or asset): its fields to settings, and back.

Every field may be left empty, and then the broader scope's value applies (asset < site < client
< the defaults), which the form shows beside it. The form is the scope's whole settings: what it
leaves empty is unset. Errors name the field in the reader's language; the settings are then
checked whole by :func:`lanet.server.services.patches.policy.check_settings` before anything is
stored.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from lanet.protocol.limits import MAX_PATCH_SCRIPT_CHARS, MAX_PATCH_SCRIPT_TIMEOUT
from lanet.protocol.values import (
    AUTO_UPDATE_MODES,
    PATCH_CLASSIFICATIONS,
    PATCH_SEVERITIES,
    REBOOT_POLICIES,
    SCRIPT_TYPES,
)
from lanet.server.portal.i18n import gettext as _

#: Rule rows the form offers (a policy holds at most 16; three cover what MSPs write).
RULE_ROWS = 3
SCRIPT_PHASES = ("pre_script", "post_script")
DAYS = tuple(range(7))
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_RING = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,2})\s*$")
#: Numeric fields: (low, high), as :mod:`lanet.server.services.patches.policy` bounds them.
_NUMBERS = {
    "window_minutes": (1, 1440),
    "reboot_deadline_hours": (1, 720),
    "max_deferrals": (0, 20),
    "customer_defer_days": (1, 90),
}


@dataclass
class Parsed:
    changes: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def parse(form: MultiDict[str, str]) -> Parsed:
    """The scope's settings from the form; a ``None`` value unsets (inherits) a setting."""
    out = Parsed()
    start = form.get("window_start", "").strip()
    if start and not _TIME.match(start):
        out.errors["window_start"] = _("Escriba la hora de inicio como HH:MM (de 00:00 a 23:59).")
    out.changes["window_start"] = start or None
    for name, (low, high) in _NUMBERS.items():
        raw = form.get(name, "").strip()
        if not raw:
            out.changes[name] = None
        elif raw.isdigit() and low <= int(raw) <= high:
            out.changes[name] = int(raw)
        else:
            out.errors[name] = _("Un número entero de {low} a {high}.", low=low, high=high)
    days = sorted({int(d) for d in form.getlist("window_days") if d.isdigit() and int(d) in DAYS})
    out.changes["window_days"] = days or None
    reboot = form.get("reboot", "")
    if reboot and reboot not in REBOOT_POLICIES:
        out.errors["reboot"] = _("Elija una política de reinicio de la lista.")
    out.changes["reboot"] = reboot or None
    auto_update = form.get("windows_auto_update", "")
    if auto_update and auto_update not in AUTO_UPDATE_MODES:
        out.errors["windows_auto_update"] = _("Elija una opción de la lista.")
    out.changes["windows_auto_update"] = auto_update or None
    may = form.get("customer_may_approve", "")
    out.changes["customer_may_approve"] = {"yes": True, "no": False}.get(may)
    out.changes["auto_rules"] = _rules(form, out) if form.get("rules_mode") == "here" else None
    out.changes["rings"] = _rings(form.get("rings", ""), out)
    for phase in SCRIPT_PHASES:
        out.changes[phase] = _script(form, phase, out)
    return out


def _script(form: MultiDict[str, str], phase: str, out: Parsed) -> dict[str, Any] | None:
    text = form.get(phase, "").replace("\r\n", "\n")
    if not text.strip():
        return None
    kind = form.get(f"{phase}_type", "")
    if kind not in SCRIPT_TYPES:
        out.errors[f"{phase}_type"] = _("Elija el tipo de script de la lista.")
    if len(text) > MAX_PATCH_SCRIPT_CHARS:
        out.errors[phase] = _("El script tiene más de {n} caracteres.", n=MAX_PATCH_SCRIPT_CHARS)
    raw = form.get(f"{phase}_timeout", "").strip() or "600"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PATCH_SCRIPT_TIMEOUT:
        out.errors[f"{phase}_timeout"] = _(
            "Un número entero de {low} a {high}.", low=1, high=MAX_PATCH_SCRIPT_TIMEOUT
        )
        raw = "600"
    return {"type": kind, "script": text, "timeout": int(raw)}


def _rules(form: MultiDict[str, str], out: Parsed) -> list[dict[str, Any]]:
    rules = []
    for index in range(RULE_ROWS):
        classes = [c for c in form.getlist(f"rule_{index}_classes") if c in PATCH_CLASSIFICATIONS]
        if not classes:
            continue
        rule: dict[str, Any] = {"classifications": classes}
        severity = form.get(f"rule_{index}_severity", "")
        if severity in PATCH_SEVERITIES:
            rule["min_severity"] = severity
        days = form.get(f"rule_{index}_days", "").strip() or "0"
        if days.isdigit() and int(days) <= 365:
            rule["after_days"] = int(days)
        else:
            out.errors[f"rule_{index}_days"] = _("Un número entero de {low} a {high}.", low=0, high=365)
        rules.append(rule)
    return rules


def _rings(raw: str, out: Parsed) -> list[dict[str, int]] | None:
    if not raw.strip():
        return None
    rings = []
    for part in raw.split(","):
        match = _RING.match(part)
        if match is None:
            out.errors["rings"] = _(
                "Escriba los anillos como porcentaje:días, separados por comas (10:0, 90:4)."
            )
            return None
        rings.append({"percent": int(match[1]), "delay_days": int(match[2])})
    if sum(r["percent"] for r in rings) != 100 or any(not 1 <= r["percent"] <= 100 for r in rings):
        out.errors["rings"] = _("Los porcentajes de los anillos suman 100.")
    elif any(r["delay_days"] > 90 for r in rings):
        out.errors["rings"] = _("La demora de un anillo es de 0 a 90 días.")
    return rings


def values(settings: dict[str, Any]) -> dict[str, Any]:
    """The form's fields from a scope's stored settings (what the page shows filled in)."""
    rules = settings.get("auto_rules")
    may = settings.get("customer_may_approve")
    return {
        "window_start": settings.get("window_start", ""),
        "window_days": settings.get("window_days", []),
        "reboot": settings.get("reboot", ""),
        "windows_auto_update": settings.get("windows_auto_update", ""),
        "customer_may_approve": "" if may is None else ("yes" if may else "no"),
        "rules_mode": "inherit" if rules is None else "here",
        "rules": (rules or []) + [{}] * (RULE_ROWS - len(rules or [])),
        "rings": ", ".join(f"{r['percent']}:{r['delay_days']}" for r in settings.get("rings") or []),
        **{name: settings.get(name, "") for name in _NUMBERS},
        **{key: value for phase in SCRIPT_PHASES for key, value in _script_fields(phase, settings).items()},
    }


def _script_fields(phase: str, settings: dict[str, Any]) -> dict[str, Any]:
    """A stored pre- or post-install script as the form's three fields (empty when unset)."""
    script = settings.get(phase) or {}
    return {
        phase: script.get("script", ""),
        f"{phase}_type": script.get("type", ""),
        f"{phase}_timeout": script.get("timeout", ""),
    }


def echo(form: MultiDict[str, str]) -> dict[str, Any]:
    """The form's fields as the person sent them (shown again beside an error)."""
    return {
        "window_start": form.get("window_start", ""),
        "window_days": [int(d) for d in form.getlist("window_days") if d.isdigit()],
        "reboot": form.get("reboot", ""),
        "windows_auto_update": form.get("windows_auto_update", ""),
        "customer_may_approve": form.get("customer_may_approve", ""),
        "rules_mode": form.get("rules_mode", "inherit"),
        "rules": [
            {
                "classifications": form.getlist(f"rule_{i}_classes"),
                "min_severity": form.get(f"rule_{i}_severity", ""),
                "after_days": form.get(f"rule_{i}_days", ""),
            }
            for i in range(RULE_ROWS)
        ],
        "rings": form.get("rings", ""),
        **{name: form.get(name, "") for name in _NUMBERS},
        **{
            key: form.get(key, "")
            for phase in SCRIPT_PHASES
            for key in (phase, f"{phase}_type", f"{phase}_timeout")
        },
    }
