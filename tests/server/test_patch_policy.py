"""Patch policy evaluation against a fixed clock: explicit denials and approvals, auto-approval
rules by classification, severity and delay, rings, and the layers client < site < asset."""

from datetime import UTC, datetime, timedelta

import pytest

from lanet.protocol.maintenance_window import MaintenanceWindow
from lanet.server.services.patches.policy import PolicyError, check_settings, evaluate, resolve, ring_delay
from lanet.server.services.releases.rollouts import ring

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ASSET = "0b7f6a0e-4c31-4f0e-9d7e-000000000001"
SECURITY_AFTER_3 = {"auto_rules": [{"classifications": ["security", "critical"], "after_days": 3}]}


def _decide(
    settings: dict[str, object],
    *,
    seen_days_ago: float,
    classification: str = "security",
    severity: str = "unspecified",
    explicit: tuple[str, str] | None = None,
    asset: str = ASSET,
) -> tuple[str, str]:
    decision = evaluate(
        resolve([settings]),
        asset_id=asset,
        classification=classification,
        severity=severity,
        first_seen=NOW - timedelta(days=seen_days_ago),
        explicit=explicit,
        now=NOW,
    )
    return decision.state, decision.reason


def test_a_denied_update_is_never_approved_whatever_the_rules() -> None:
    assert _decide(SECURITY_AFTER_3, seen_days_ago=30, explicit=("deny", "user:tec@lanet.mx")) == (
        "denied",
        "denied by user:tec@lanet.mx",
    )


def test_security_updates_are_approved_after_their_delay_and_the_rest_wait_for_a_technician() -> None:
    assert _decide(SECURITY_AFTER_3, seen_days_ago=2.9)[0] == "available"
    later = evaluate(
        resolve([SECURITY_AFTER_3]),
        asset_id=ASSET,
        classification="security",
        severity="unspecified",
        first_seen=NOW - timedelta(days=1),
        explicit=None,
        now=NOW,
    )
    assert later.approves_at == NOW + timedelta(days=2)
    assert later.reason == "approved automatically from 2026-12-04"
    assert _decide(SECURITY_AFTER_3, seen_days_ago=3) == (
        "approved",
        "approved automatically (security, after 3 d)",
    )
    assert _decide(SECURITY_AFTER_3, seen_days_ago=30, classification="feature") == (
        "available",
        "waiting for a technician's approval",
    )
    assert _decide(
        SECURITY_AFTER_3, seen_days_ago=0, classification="feature", explicit=("approve", "cli:ana")
    )[0] == ("approved")


def test_a_minimum_severity_keeps_lesser_updates_for_a_technician() -> None:
    rules = {"auto_rules": [{"classifications": ["security"], "min_severity": "important"}]}
    assert _decide(rules, seen_days_ago=0, severity="critical")[0] == "approved"
    assert _decide(rules, seen_days_ago=0, severity="important")[0] == "approved"
    assert _decide(rules, seen_days_ago=0, severity="moderate")[0] == "available"
    assert _decide(rules, seen_days_ago=0, severity="unspecified")[0] == "available"


def test_rings_defer_auto_approval_for_the_later_machines_only() -> None:
    settings = {
        **SECURITY_AFTER_3,
        "rings": [{"percent": 10, "delay_days": 0}, {"percent": 90, "delay_days": 4}],
    }
    early = next(
        f"00000000-0000-4000-8000-{i:012d}"
        for i in range(10_000)
        if ring(f"00000000-0000-4000-8000-{i:012d}") < 1000
    )
    late = next(
        f"00000000-0000-4000-8000-{i:012d}"
        for i in range(10_000)
        if ring(f"00000000-0000-4000-8000-{i:012d}") >= 1000
    )
    policy = resolve([settings])
    assert (ring_delay(policy, early), ring_delay(policy, late)) == (0, 4)
    assert _decide(settings, seen_days_ago=3, asset=early)[0] == "approved"
    assert _decide(settings, seen_days_ago=3, asset=late)[0] == "available"
    assert _decide(settings, seen_days_ago=7, asset=late)[0] == "approved"


def test_the_narrower_scope_wins_and_the_asset_schedule_is_the_default_start() -> None:
    client = {"window_minutes": 240, "reboot": "ask_user", **SECURITY_AFTER_3}
    site = {"window_days": [5, 6]}
    asset = {"window_start": "22:30"}
    policy = resolve([client, site, asset], default_start="03:00")
    assert policy.window == MaintenanceWindow("22:30", 240, (5, 6))
    assert policy.reboot == "ask_user" and policy.auto_rules[0].after_days == 3
    assert resolve([client], default_start="03:00").window.start == "03:00"


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"window_start": "25:00"}, "window: start must be HH:MM"),
        ({"window_minutes": 0}, "window_minutes: a whole number from 1 to 1440"),
        ({"window_minutes": True}, "window_minutes: a whole number"),
        ({"window_days": [9]}, "window: days are weekday numbers"),
        ({"reboot": "sometimes"}, "reboot: one of never, in_window, ask_user"),
        ({"auto_rules": [{"classifications": ["urgent"]}]}, "auto_rules[0].classifications"),
        ({"auto_rules": [{"classifications": ["security"], "after_days": -1}]}, "auto_rules[0].after_days"),
        (
            {"auto_rules": [{"classifications": ["security"], "min_severity": "huge"}]},
            "auto_rules[0].min_severity",
        ),
        ({"rings": [{"percent": 50, "delay_days": 0}]}, "rings: the percents add up to 100"),
        ({"reboot_deadline_hours": 0}, "reboot_deadline_hours"),
        ({"customer_may_approve": "yes"}, "customer_may_approve: true or false"),
        ({"colour": "blue"}, "unknown setting 'colour'"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(PolicyError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        check_settings(settings)


def test_a_customers_postponement_holds_an_approved_update_until_its_date_but_never_a_denial() -> None:
    policy = resolve([{**SECURITY_AFTER_3, "customer_may_approve": True}])
    until = NOW + timedelta(days=2)

    def decide(explicit: tuple[str, str] | None, now: datetime) -> tuple[str, bool]:
        decision = evaluate(
            policy,
            asset_id=ASSET,
            classification="security",
            severity="unspecified",
            first_seen=NOW - timedelta(days=10),
            explicit=explicit,
            now=now,
            postponed=(until, "user:ana@cafe.mx"),
        )
        return decision.state, decision.postponed

    assert decide(None, NOW) == ("available", True)  # the rule would approve it
    assert decide(("approve", "user:tec@lanet.mx"), NOW) == ("available", True)
    assert decide(None, until) == ("approved", False)  # the date has come
    assert decide(("deny", "user:tec@lanet.mx"), NOW) == ("denied", False)
    with pytest.raises(PolicyError, match="customer_defer_days: a whole number from 1 to 90"):
        check_settings({"customer_defer_days": 0})
