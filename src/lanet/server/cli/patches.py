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
    from lanet.server.services.patches import scans

    with database().session() as session:
        asset = _asset(session, args.asset)
        rows = scans.asset_patches(session, asset.id, include_gone=args.all)
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
            {**asdict(r), "first_seen": timestamp(r.first_seen), "last_seen": timestamp(r.last_seen)}
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
                ]
                for r in rows
            ],
            ["UPDATE", "CLASS", "SEVERITY", "INSTALLED", "AVAILABLE", "REBOOT", "STATE"],
        )
    )
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
