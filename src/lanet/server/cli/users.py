"""``lanet-server users``: people who log in to the portal."""

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from lanet.i18n import LANGUAGES
from lanet.server.cli._common import CliError, actor, database, table, timestamp
from lanet.server.models.users import ROLES


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new user's password and whether it was generated (then it is printed last)."""
    from lanet.server.services.passwords import generate_password

    if args.generate:
        return generate_password(), True
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise CliError("no password on stdin (give it on the first line, or use --generate)")
        return line.rstrip("\r\n"), False
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise CliError("the two passwords differ")
    return first, False


def cmd_users_create(args: argparse.Namespace) -> int:
    from lanet.server.services.users import UserError, create_user

    password, generated = _read_password(args)
    db = database()
    try:
        with db.session() as session:
            user = create_user(
                session,
                email=args.email,
                role=args.role,
                password=password,
                actor=actor(),
                client_ref=args.client,
                name=args.name,
                language=args.language,
            )
            where = f", client {user.client.name}" if user.client else ""
            print(f"user {user.email} created: role {user.role}{where}")
    except UserError as exc:
        raise CliError(str(exc)) from None
    if generated:
        print("password (shown once):")
        print(password)
    return 0


def cmd_users_password(args: argparse.Namespace) -> int:
    from lanet.server.services.users import UserError, set_password

    password, generated = _read_password(args)
    db = database()
    try:
        with db.session() as session:
            user = set_password(session, args.email, password, actor())
            print(f"password of {user.email} replaced; account unlocked, its sessions ended")
    except UserError as exc:
        raise CliError(str(exc)) from None
    if generated:
        print("password (shown once):")
        print(password)
    return 0


def cmd_users_list(_args: argparse.Namespace) -> int:
    from lanet.server.models import User

    db = database()
    with db.session() as session:
        users = session.scalars(select(User).options(joinedload(User.client)).order_by(User.email)).all()
        rows = [
            [
                u.email,
                u.role,
                u.client.name if u.client else "*",
                "yes" if u.active else "no",
                timestamp(u.last_login),
                timestamp(u.locked_until),
            ]
            for u in users
        ]
    print(table(rows, ["EMAIL", "ROLE", "CLIENT", "ACTIVE", "LAST LOGIN", "LOCKED UNTIL"]))
    return 0


def register(sub: Any) -> None:
    users = sub.add_parser("users", help="people who log in to the portal").add_subparsers(
        dest="verb", required=True
    )
    ucreate = users.add_parser(
        "create",
        help="create a user; the password comes from stdin's first line, a prompt, or --generate",
    )
    ucreate.add_argument("--email", required=True)
    ucreate.add_argument("--role", required=True, choices=ROLES)
    ucreate.add_argument("--client", help="name or id; required for client_admin and solicitante")
    ucreate.add_argument("--name", help="display name")
    ucreate.add_argument("--language", default=LANGUAGES[0], choices=LANGUAGES)
    ucreate.add_argument("--generate", action="store_true", help="make a random password, printed last")
    ucreate.set_defaults(func=cmd_users_create)
    upass = users.add_parser("password", help="replace a user's password (stdin, a prompt, or --generate)")
    upass.add_argument("--email", required=True)
    upass.add_argument("--generate", action="store_true", help="make a random password, printed last")
    upass.set_defaults(func=cmd_users_password)
    users.add_parser("list", help="list users").set_defaults(func=cmd_users_list)
