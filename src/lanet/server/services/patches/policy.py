"""Patch policy: which updates an asset installs, and when, from the client's, the site's and the
asset's settings and the technicians' explicit decisions.

Evaluation is a pure function of the effective policy, the update, its explicit decision and the
clock, so the rules are tested against a fixed clock:

- an explicit **deny** always wins: a denied update is never installed;
- an explicit **approve** makes it installable at the asset's next window;
- a customer administrator's **postponement** (where the MSP lets the client co-approve) holds an
  update that would otherwise be approved until its date;
- otherwise an **auto-approval rule** (classifications, a minimum severity, a delay in days from
  when the server first saw the update) approves it once the delay, plus the asset's ring delay,
  has passed;
- otherwise it waits for a technician.

Rings defer whole groups of machines: an asset's ring is the stable hash of its id (the one
releases use), and each ring adds days before auto-approval reaches it (say 10 % of machines at
once, the rest three days later). Explicit approvals are not deferred: the technician chose.

When an approved update is installed is the agent's business: inside its maintenance window, on
its own clock (:mod:`lanet.protocol.maintenance_window`), never outside.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from lanet.protocol.limits import MAX_PATCH_SCRIPT_CHARS, MAX_PATCH_SCRIPT_TIMEOUT
from lanet.protocol.maintenance_window import EVERY_DAY, MaintenanceWindow
from lanet.protocol.values import (
    AUTO_UPDATE_MODES,
    PATCH_CLASSIFICATIONS,
    PATCH_SEVERITIES,
    REBOOT_POLICIES,
    SCRIPT_TYPES,
    AutoUpdateMode,
    RebootPolicy,
)
from lanet.server.services.releases.rollouts import RINGS, ring

#: Severities from the most to the least serious. ``unspecified`` (apt gives none) meets only a
#: minimum of ``unspecified``: a rule with a real minimum never approves what has no severity.
SEVERITY_ORDER = ("critical", "important", "moderate", "low", "unspecified")
DEFAULT_START = "02:00"
DEFAULT_MINUTES = 120


class PolicyError(ValueError):
    """A policy setting is wrong; the message names the setting and the problem."""


@dataclass(frozen=True)
class AutoRule:
    classifications: tuple[str, ...]
    after_days: int = 0
    min_severity: str | None = None

    def matches(self, classification: str, severity: str) -> bool:
        if classification not in self.classifications:
            return False
        if self.min_severity is None:
            return True
        return SEVERITY_ORDER.index(severity) <= SEVERITY_ORDER.index(self.min_severity)


@dataclass(frozen=True)
class Ring:
    percent: int
    delay_days: int


@dataclass(frozen=True)
class Policy:
    window: MaintenanceWindow = field(
        default_factory=lambda: MaintenanceWindow(DEFAULT_START, DEFAULT_MINUTES)
    )
    auto_rules: tuple[AutoRule, ...] = ()
    rings: tuple[Ring, ...] = ()
    reboot: RebootPolicy = "in_window"
    reboot_deadline_hours: int = 24
    max_deferrals: int = 3
    customer_may_approve: bool = False
    #: How far ahead a customer administrator may postpone an update, in days.
    customer_defer_days: int = 7
    #: Scripts around each install run (``PatchScript`` as JSON: type, script, timeout).
    pre_script: dict[str, Any] | None = None
    post_script: dict[str, Any] | None = None
    #: The PC's own Windows Update settings: left alone unless the MSP says otherwise.
    windows_auto_update: AutoUpdateMode = "leave"


@dataclass(frozen=True)
class Decision:
    state: Literal["approved", "denied", "available"]
    reason: str
    #: For an update an auto-rule (or the end of a postponement) will approve later: when.
    approves_at: datetime | None = None
    postponed: bool = False


def ring_delay(policy: Policy, asset_id: str) -> int:
    """Days the asset's ring adds before auto-approval (0 without rings, or in the first ring)."""
    position = ring(asset_id)
    covered = 0
    for r in policy.rings:
        covered += r.percent * (RINGS // 100)
        if position < covered:
            return r.delay_days
    return policy.rings[-1].delay_days if policy.rings else 0


def evaluate(
    policy: Policy,
    *,
    asset_id: str,
    classification: str,
    severity: str,
    first_seen: datetime,
    explicit: tuple[str, str] | None,
    now: datetime,
    postponed: tuple[datetime, str] | None = None,
) -> Decision:
    """The state one update should have on one asset now. ``explicit`` is (``approve`` or
    ``deny``, who); ``postponed`` is (until when, who)."""
    if explicit is not None and explicit[0] == "deny":
        return Decision("denied", f"denied by {explicit[1]}")
    decided = _approval(policy, asset_id, classification, severity, first_seen, explicit, now)
    if decided.state == "approved" and postponed is not None and now < postponed[0]:
        until, actor = postponed
        return Decision("available", f"postponed by {actor} until {until:%Y-%m-%d %H:%M} UTC", until, True)
    return decided


def _approval(
    policy: Policy,
    asset_id: str,
    classification: str,
    severity: str,
    first_seen: datetime,
    explicit: tuple[str, str] | None,
    now: datetime,
) -> Decision:
    if explicit is not None:
        return Decision("approved", f"approved by {explicit[1]}")
    for rule in policy.auto_rules:
        if rule.matches(classification, severity):
            delay = rule.after_days + ring_delay(policy, asset_id)
            approves_at = first_seen + timedelta(days=delay)
            if now >= approves_at:
                return Decision("approved", f"approved automatically ({classification}, after {delay} d)")
            return Decision("available", f"approved automatically from {approves_at:%Y-%m-%d}", approves_at)
    return Decision("available", "waiting for a technician's approval")


# --- settings as stored (JSON per client, site or asset) -------------------------------------------
SETTING_NAMES = (
    "window_start",
    "window_minutes",
    "window_days",
    "auto_rules",
    "rings",
    "reboot",
    "reboot_deadline_hours",
    "max_deferrals",
    "customer_may_approve",
    "customer_defer_days",
    "pre_script",
    "post_script",
    "windows_auto_update",
)


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PolicyError(f"{name}: a whole number from {low} to {high}")
    return value


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Validate one scope's settings (any subset of :data:`SETTING_NAMES`); returns them as given."""
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        raise PolicyError(f"unknown setting {unknown[0]!r} (known: {', '.join(SETTING_NAMES)})")
    resolve([settings])  # raises PolicyError naming the setting
    return settings


def _rules(raw: Any) -> tuple[AutoRule, ...]:
    if not isinstance(raw, list) or len(raw) > 16:
        raise PolicyError("auto_rules: a list of at most 16 rules")
    rules = []
    for index, item in enumerate(raw):
        where = f"auto_rules[{index}]"
        if not isinstance(item, dict) or set(item) - {"classifications", "after_days", "min_severity"}:
            raise PolicyError(f"{where}: an object with classifications, after_days and min_severity")
        classes = item.get("classifications")
        if (
            not isinstance(classes, list)
            or not classes
            or any(c not in PATCH_CLASSIFICATIONS for c in classes)
        ):
            raise PolicyError(f"{where}.classifications: some of {', '.join(PATCH_CLASSIFICATIONS)}")
        after = item.get("after_days", 0)
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= 365:
            raise PolicyError(f"{where}.after_days: a whole number from 0 to 365")
        severity = item.get("min_severity")
        if severity is not None and severity not in PATCH_SEVERITIES:
            raise PolicyError(f"{where}.min_severity: one of {', '.join(PATCH_SEVERITIES)}")
        rules.append(AutoRule(tuple(classes), after, severity))
    return tuple(rules)


def _script(raw: Any, name: str) -> dict[str, Any] | None:
    """A pre- or post-install script: the agent runs it like a remote script of that type."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not {"type", "script"} <= set(raw) <= {"type", "script", "timeout"}:
        raise PolicyError(f"{name}: an object with type, script and optionally timeout")
    if raw["type"] not in SCRIPT_TYPES:
        raise PolicyError(f"{name}.type: one of {', '.join(SCRIPT_TYPES)}")
    script = raw["script"]
    if not isinstance(script, str) or not script.strip() or len(script) > MAX_PATCH_SCRIPT_CHARS:
        raise PolicyError(f"{name}.script: the script's text, up to {MAX_PATCH_SCRIPT_CHARS} characters")
    if "\x00" in script:
        raise PolicyError(f"{name}.script: text without NUL characters")
    timeout = _int(raw.get("timeout", 600), f"{name}.timeout", 1, MAX_PATCH_SCRIPT_TIMEOUT)
    return {"type": raw["type"], "script": script, "timeout": timeout}


def _rings(raw: Any) -> tuple[Ring, ...]:
    if not isinstance(raw, list) or len(raw) > 8:
        raise PolicyError("rings: a list of at most 8 rings")
    rings = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"percent", "delay_days"}:
            raise PolicyError(f"rings[{index}]: an object with percent and delay_days")
        percent, delay = item["percent"], item["delay_days"]
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
            raise PolicyError(f"rings[{index}].percent: a whole number from 1 to 100")
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 90:
            raise PolicyError(f"rings[{index}].delay_days: a whole number from 0 to 90")
        rings.append(Ring(percent, delay))
    if rings and sum(r.percent for r in rings) != 100:
        raise PolicyError("rings: the percents add up to 100")
    return tuple(rings)


def resolve(layers: list[dict[str, Any]], default_start: str = DEFAULT_START) -> Policy:
    """The effective policy from the scopes' settings, broadest first (client, site, asset): a
    narrower scope's setting wins. ``default_start`` is the asset's ``update_schedule``."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    minutes = _int(merged.get("window_minutes", DEFAULT_MINUTES), "window_minutes", 1, 1440)
    try:
        window = MaintenanceWindow(
            str(merged.get("window_start", default_start)),
            minutes,
            tuple(merged.get("window_days", EVERY_DAY)),
        )
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"window: {exc}") from None
    reboot = merged.get("reboot", "in_window")
    if reboot not in REBOOT_POLICIES:
        raise PolicyError(f"reboot: one of {', '.join(REBOOT_POLICIES)}")
    auto_update = merged.get("windows_auto_update", "leave")
    if auto_update not in AUTO_UPDATE_MODES:
        raise PolicyError(f"windows_auto_update: one of {', '.join(AUTO_UPDATE_MODES)}")
    may_approve = merged.get("customer_may_approve", False)
    if not isinstance(may_approve, bool):
        raise PolicyError("customer_may_approve: true or false")
    return Policy(
        window=window,
        auto_rules=_rules(merged.get("auto_rules", [])),
        rings=_rings(merged.get("rings", [])),
        reboot=reboot,
        reboot_deadline_hours=_int(merged.get("reboot_deadline_hours", 24), "reboot_deadline_hours", 1, 720),
        max_deferrals=_int(merged.get("max_deferrals", 3), "max_deferrals", 0, 20),
        customer_may_approve=may_approve,
        customer_defer_days=_int(merged.get("customer_defer_days", 7), "customer_defer_days", 1, 90),
        pre_script=_script(merged.get("pre_script"), "pre_script"),
        post_script=_script(merged.get("post_script"), "post_script"),
        windows_auto_update=auto_update,
    )
