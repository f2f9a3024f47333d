"""``lanet-server db``: the schema's migrations."""

import argparse
from typing import Any

from lanet.server.cli._common import settings


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from lanet.server.migrate import current, upgrade

    url = settings().database_url
    upgrade(url, args.revision)
    print(f"database at revision {current(url)}")
    return 0


def cmd_db_current(_args: argparse.Namespace) -> int:
    from lanet.server.migrate import current

    print(current(settings().database_url) or "(empty)")
    return 0


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="verb", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    db.add_parser("current", help="show the schema revision").set_defaults(func=cmd_db_current)
