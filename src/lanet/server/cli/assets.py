"""``lanet-server assets``: registered machines, their retirement and disputed replacements."""

import argparse
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from lanet.server.cli._common import CliError, actor, database, table, timestamp


def cmd_assets_list(args: argparse.Namespace) -> int:
    from lanet.server.models import Asset
    from lanet.server.services.presence import status_now

    db = database()
    with db.session() as session:
        query = select(Asset).options(joinedload(Asset.client), joinedload(Asset.site))
        if not args.all:
            query = query.where(Asset.retired_at.is_(None))
        assets = session.scalars(query.order_by(Asset.computer_name)).all()
        records: list[dict[str, Any]] = [
            {
                "asset_id": a.id,
                "computer_name": a.computer_name,
                "client": a.client.name,
                "site": a.site.name,
                "agent_status": "retired" if a.retired_at else status_now(a),
                "last_seen": timestamp(a.last_seen) if a.last_seen else None,
                "replaces": a.replaces_asset_id,
            }
            for a in assets
        ]
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print(
            table(
                [
                    [
                        r["asset_id"],
                        r["computer_name"],
                        r["client"],
                        r["site"],
                        r["agent_status"],
                        r["last_seen"] or "-",
                        r["replaces"] or "-",
                    ]
                    for r in records
                ],
                ["ASSET ID", "COMPUTER", "CLIENT", "SITE", "STATUS", "LAST SEEN", "MAY REPLACE"],
            )
        )
    return 0


def cmd_assets_change(args: argparse.Namespace) -> int:
    """``assets retire|merge|reject ID``: one lifecycle step, audited as the CLI's user."""
    from lanet.server.models import Asset
    from lanet.server.models.base import utcnow
    from lanet.server.services import asset_lifecycle

    with database().session() as session:
        asset = session.get(Asset, args.asset_id.strip().lower())
        if asset is None:
            raise CliError(f"no asset with id {args.asset_id!r}")
        try:
            if args.verb == "retire":
                asset_lifecycle.retire(session, asset, actor(), utcnow())
                print(f"asset {asset.id} ({asset.computer_name}) retired; its agent is refused from now on")
            elif args.verb == "merge":
                old = asset.replaces_asset_id
                asset_lifecycle.merge(session, asset, actor(), utcnow())
                print(f"asset {asset.id} ({asset.computer_name}) merged: it took over {old} and its history")
            else:
                asset_lifecycle.reject(session, asset, actor(), utcnow())
                print(f"asset {asset.id} ({asset.computer_name}) rejected and retired")
        except asset_lifecycle.LifecycleError as exc:
            raise CliError(str(exc)) from None
    return 0


def register(sub: Any) -> None:
    assets = sub.add_parser("assets", help="registered machines").add_subparsers(dest="verb", required=True)
    for verb, text in (
        ("retire", "take an asset out of service: its agent is refused on every endpoint"),
        ("merge", "accept a possible replacement: it takes over the old asset and its history"),
        ("reject", "refuse a possible replacement: it is retired, the old asset stays"),
    ):
        change = assets.add_parser(verb, help=text)
        change.add_argument("asset_id")
        change.set_defaults(func=cmd_assets_change)
    alist = assets.add_parser("list")
    alist.add_argument("--all", action="store_true", help="retired assets too")
    alist.add_argument("--json", action="store_true")
    alist.set_defaults(func=cmd_assets_list)
