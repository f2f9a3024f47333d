"""``lanet-server patches``: the OS updates each asset's latest scan lists, and "scan now"."""

import argparse
import json
from dataclasses import asdict
from typing import Any

from lanet.server.cli._common import CliError, actor, database, table, timestamp


def _asset(session: Any, asset_id: str) -> Any:
    from lanet.server.models import Asset

    asset = session.get(Asset, asset_id)
    if asset is None or asset.retired_at is not None:
        raise CliError(f"no registered asset {asset_id} (see: lanet-server assets list)")
    return asset


def cmd_list(args: argparse.Namespace) -> int:
    from lanet.server.models.base import utcnow
    from lanet.server.services.patches import decisions, scans

    with database().session() as session:
        asset = _asset(session, args.asset)
        rows = scans.asset_patches(session, asset.id, include_gone=args.all)
        planned = {p.update_id: p.decision for p in decisions.decisions_for(session, asset, utcnow())}
        history = scans.scan_history(session, asset.id, limit=1)
        last = history[0] if history else None
        summary = {
            "asset_id": asset.id,
            "computer_name": asset.computer_name,
            "last_scan": timestamp(last.scanned_at) if last else None,
            "last_scan_error": last.error if last else None,
            "reboot_pending": last.reboot_pending if last else None,
        }
    if args.json:
        records = [
            {
                **asdict(r),
                "first_seen": timestamp(r.first_seen),
                "last_seen": timestamp(r.last_seen),
                "decision": planned[r.update_id].state if r.update_id in planned else None,
                "decision_reason": planned[r.update_id].reason if r.update_id in planned else None,
            }
            for r in rows
        ]
        print(json.dumps({**summary, "updates": records}, indent=2))
        return 0
    if last is None:
        print(f"{summary['computer_name']}: no scan received yet (lanet-server patches scan --asset ID)")
        return 0
    print(
        f"{summary['computer_name']}: scanned {summary['last_scan']}"
        + (f"; the scan failed: {summary['last_scan_error']}" if summary["last_scan_error"] else "")
        + ("; a reboot is pending" if summary["reboot_pending"] else "")
    )
    print(
        table(
            [
                [
                    r.update_id,
                    r.classification,
                    r.severity,
                    r.current_version or "-",
                    r.available_version or "-",
                    "yes" if r.reboot_required else "no",
                    r.state if r.applicable else f"{r.state} (no longer listed)",
                    planned[r.update_id].reason if r.update_id in planned else "-",
                ]
                for r in rows
            ],
            ["UPDATE", "CLASS", "SEVERITY", "INSTALLED", "AVAILABLE", "REBOOT", "STATE", "DECISION"],
        )
    )
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from lanet.server.models.base import utcnow
    from lanet.server.services.patches.requests import request_scan

    with database().session() as session:
        asset = _asset(session, args.asset)
        request_scan(session, asset, actor=actor(), now=utcnow(), install_now=args.now)
        name = asset.computer_name
    when = "at once" if args.now else "in its next maintenance window"
    print(f"{name} installs its approved updates {when}, after a scan at its next heartbeat")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from lanet.server.models.base import utcnow
    from lanet.server.services.patches.requests import request_scan

    with database().session() as session:
        asset = _asset(session, args.asset)
        request_scan(session, asset, actor=actor(), now=utcnow())
        name = asset.computer_name
    print(
        f"scan requested: {name} scans at its next heartbeat;"
        f" see lanet-server patches list --asset {args.asset}"
    )
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from lanet.server.models.base import utcnow
    from lanet.server.services.patches.decisions import decide
    from lanet.server.services.tenancy import get_client

    verdict = "approve" if args.verb == "approve" else "deny"
    with database().session() as session:
        client = get_client(session, args.client)
        if client is None:
            raise CliError(f"no client with id or name {args.client!r}")
        decide(session, client, args.update_id, verdict, actor=actor(), reason=args.reason, now=utcnow())
        name = client.name
    print(f"{args.update_id} {'approved' if verdict == 'approve' else 'denied'} for every machine of {name}")
    return 0


def _scope(session: Any, args: argparse.Namespace) -> Any:
    from lanet.server.services.config_push import ScopeNotFoundError, resolve_scope

    kind, ref = next((k, getattr(args, k)) for k in ("asset", "site", "client") if getattr(args, k))
    try:
        return resolve_scope(session, kind, ref)
    except ScopeNotFoundError as exc:
        raise CliError(str(exc)) from None


def _parse_setting(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise CliError(f"settings are NAME=VALUE (a JSON value, or nothing to unset), not {text!r}")
    if raw == "":
        return name, None
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw  # a bare word: 22:30, ask_user


def cmd_policy(args: argparse.Namespace) -> int:
    from lanet.server.models.base import utcnow
    from lanet.server.services.patches import decisions
    from lanet.server.services.patches.policy import PolicyError

    with database().session() as session:
        scope = _scope(session, args)
        if args.action == "set":
            changes = dict(_parse_setting(t) for t in args.settings)
            try:
                decisions.set_policy(session, scope, changes, actor=actor(), now=utcnow())
            except PolicyError as exc:
                raise CliError(str(exc)) from None
        own = decisions.policy_settings(session, scope)
        shown: dict[str, Any] = {"scope": scope.kind, "id": scope.id, "settings": own}
        if scope.kind == "asset":
            policy = decisions.effective_policy(session, _asset(session, scope.id))
            shown["effective"] = decisions.policy_json(policy)
    print(json.dumps(shown, indent=2))
    return 0


def register(sub: Any) -> None:
    group = sub.add_parser("patches", help="OS updates of each asset (Windows Update, apt)").add_subparsers(
        dest="verb", required=True
    )
    listing = group.add_parser(
        "list", help="one row per update the asset's latest scan lists, with its state"
    )
    listing.add_argument("--asset", required=True)
    listing.add_argument("--all", action="store_true", help="also updates no longer listed")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    scan = group.add_parser("scan", help="ask the asset's agent for a scan at its next heartbeat")
    scan.add_argument("--asset", required=True)
    scan.set_defaults(func=cmd_scan)
    install = group.add_parser("install", help="send the asset its approved updates (with --now: at once)")
    install.add_argument("--asset", required=True)
    install.add_argument("--now", action="store_true", help="outside the maintenance window too")
    install.set_defaults(func=cmd_install)
    for verb, what in (("approve", "install it"), ("deny", "never install it")):
        decision = group.add_parser(verb, help=f"{verb} one update for every machine of a client ({what})")
        decision.add_argument("update_id", help="as patches list shows it (package=version, or the UpdateID)")
        decision.add_argument("--client", required=True)
        decision.add_argument("--reason")
        decision.set_defaults(func=cmd_decide)
    policy = group.add_parser(
        "policy", help="show or set the patch policy of a client, a site or an asset"
    ).add_subparsers(dest="action", required=True)
    for action in ("show", "set"):
        verb = policy.add_parser(
            action, help=f"{action} a scope's settings (show --asset: its effective policy)"
        )
        target = verb.add_mutually_exclusive_group(required=True)
        target.add_argument("--client")
        target.add_argument("--site", help="a site id")
        target.add_argument("--asset", help="an asset id")
        if action == "set":
            verb.add_argument(
                "settings",
                nargs="+",
                help="NAME=VALUE: window_start=22:30 window_minutes=180 window_days=[5,6] reboot=ask_user "
                'auto_rules=\'[{"classifications":["security","critical"],"after_days":3}]\' (NAME= unsets)',
            )
        verb.set_defaults(func=cmd_policy)
