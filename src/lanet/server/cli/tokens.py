"""``lanet-server tokens``: install tokens (stored as digests, shown masked)."""

import argparse
import json
from typing import Any

from lanet.server.cli._common import CliError, actor, database, keys, table, timestamp


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from lanet.server.services.tokens import create_token

    db = database()
    try:
        with db.session() as session:
            created = create_token(
                session,
                keys(),
                client_name=args.client,
                site_name=args.site,
                actor=actor(),
                max_uses=args.max_uses,
                expires_days=args.expires_days,
                description=args.description,
            )
            record = created.record
            print(f"client:   {record.client.name} ({record.client_id})")
            print(f"site:     {record.site.name} ({record.site_id})")
            print(f"token id: {record.id}")
            print(f"expires:  {timestamp(record.expires_at)}   max uses: {record.max_uses or 'unlimited'}")
            print(created.token)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from lanet.server.models.base import utcnow
    from lanet.server.services.tenancy import get_client
    from lanet.server.services.tokens import list_tokens, token_state

    db = database()
    now = utcnow()
    with db.session() as session:
        client_id = None
        if args.client:
            client = get_client(session, args.client)
            if client is None:
                raise CliError(f"no client with id or name {args.client!r}")
            client_id = client.id
        tokens = list_tokens(session, client_id)
        records: list[dict[str, Any]] = [
            {
                "id": t.id,
                "token": t.hint,
                "client": t.client.name,
                "site": t.site.name,
                "state": token_state(t, now),
                "usage_count": t.usage_count,
                "max_uses": t.max_uses,
                "expires_at": timestamp(t.expires_at) if t.expires_at else None,
                "last_used_at": timestamp(t.last_used_at) if t.last_used_at else None,
                "created_at": timestamp(t.created_at),
            }
            for t in tokens
        ]
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print(
            table(
                [
                    [
                        r["id"],
                        r["token"],
                        r["client"],
                        r["site"],
                        r["state"],
                        f"{r['usage_count']}/{r['max_uses'] or '∞'}",
                        r["expires_at"] or "-",
                    ]
                    for r in records
                ],
                ["ID", "TOKEN", "CLIENT", "SITE", "STATE", "USES", "EXPIRES"],
            )
        )
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from lanet.server.services.tokens import find_token, revoke_token

    db = database()
    with db.session() as session:
        record = find_token(session, keys(), args.token)
        if record is None:
            raise CliError(f"no token matches {args.token!r} (give the token or its id)")
        changed = revoke_token(session, record, actor())
        print(f"token {record.hint} ({record.id}) {'revoked' if changed else 'was already inactive'}")
    return 0


def register(sub: Any) -> None:
    tokens = sub.add_parser("tokens", help="install tokens").add_subparsers(dest="verb", required=True)
    create = tokens.add_parser("create", help="create a token (prints it alone on the last line)")
    create.add_argument("--client", required=True, help="client name (created if missing)")
    create.add_argument("--site", required=True, help="site name (created if missing)")
    create.add_argument("--max-uses", type=int)
    create.add_argument("--expires-days", type=int)
    create.add_argument("--description")
    create.set_defaults(func=cmd_tokens_create)
    tlist = tokens.add_parser("list", help="list tokens (masked)")
    tlist.add_argument("--client")
    tlist.add_argument("--json", action="store_true")
    tlist.set_defaults(func=cmd_tokens_list)
    revoke = tokens.add_parser("revoke", help="deactivate a token")
    revoke.add_argument("token", help="the token, or its id")
    revoke.set_defaults(func=cmd_tokens_revoke)
