"""``lanet-server api-keys``: keys for the technicians' API."""

import argparse
from typing import Any

from lanet.server.cli._common import CliError, actor, database, keys


def cmd_apikeys_create(args: argparse.Namespace) -> int:
    from lanet.server.services.apikeys import create_key

    db = database()
    try:
        with db.session() as session:
            record, plain = create_key(session, keys(), args.name, actor())
            print(f"api key {record.name} ({record.id}), role {record.role}; shown once:")
            print(plain)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_apikeys_revoke(args: argparse.Namespace) -> int:
    from lanet.server.services.apikeys import revoke_key

    db = database()
    with db.session() as session:
        record = revoke_key(session, args.key, actor())
        if record is None:
            raise CliError(f"no api key with id or name {args.key!r}")
        print(f"api key {record.name} revoked")
    return 0


def register(sub: Any) -> None:
    keys = sub.add_parser("api-keys", help="keys for the technicians' API").add_subparsers(
        dest="verb", required=True
    )
    kcreate = keys.add_parser("create", help="create a key (printed once, on the last line)")
    kcreate.add_argument("--name", required=True)
    kcreate.set_defaults(func=cmd_apikeys_create)
    krevoke = keys.add_parser("revoke", help="revoke a key by id or name")
    krevoke.add_argument("key")
    krevoke.set_defaults(func=cmd_apikeys_revoke)
