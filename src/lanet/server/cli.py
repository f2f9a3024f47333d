"""``lanet-server``: the operators' command line. Verbs are stable; operators script them.

Every command that changes something is audited with the actor ``cli:<os user>``.
"""

import argparse
import contextlib
import getpass
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

import lanet
from lanet.protocol.common import format_timestamp


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def _settings() -> Any:
    from lanet.server.settings import Settings

    return Settings.from_env()


def _db() -> Any:
    from lanet.server.db import Database

    return Database(_settings().database_url)


def _keys() -> Any:
    from lanet.server.services.credentials import Keys

    return Keys(_settings().secret_key)


def _ts(value: datetime | None) -> str:
    return format_timestamp(value) if value else "-"


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


class CliError(Exception):
    """A user error: printed without a traceback, exit status 2."""


# --- db -------------------------------------------------------------------------------------------
def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from lanet.server.migrate import current, upgrade

    url = _settings().database_url
    upgrade(url, args.revision)
    print(f"database at revision {current(url)}")
    return 0


def cmd_db_current(_args: argparse.Namespace) -> int:
    from lanet.server.migrate import current

    print(current(_settings().database_url) or "(empty)")
    return 0


# --- tokens ---------------------------------------------------------------------------------------
def cmd_tokens_create(args: argparse.Namespace) -> int:
    from lanet.server.services.tokens import create_token

    db = _db()
    try:
        with db.session() as session:
            created = create_token(
                session,
                _keys(),
                client_name=args.client,
                site_name=args.site,
                actor=_actor(),
                max_uses=args.max_uses,
                expires_days=args.expires_days,
                description=args.description,
            )
            record = created.record
            print(f"client:   {record.client.name} ({record.client_id})")
            print(f"site:     {record.site.name} ({record.site_id})")
            print(f"token id: {record.id}")
            print(f"expires:  {_ts(record.expires_at)}   max uses: {record.max_uses or 'unlimited'}")
            print(created.token)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from lanet.server.models.base import utcnow
    from lanet.server.services.tenancy import get_client
    from lanet.server.services.tokens import list_tokens, token_state

    db = _db()
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
                "expires_at": _ts(t.expires_at) if t.expires_at else None,
                "last_used_at": _ts(t.last_used_at) if t.last_used_at else None,
                "created_at": _ts(t.created_at),
            }
            for t in tokens
        ]
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print(
            _table(
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

    db = _db()
    with db.session() as session:
        record = find_token(session, _keys(), args.token)
        if record is None:
            raise CliError(f"no token matches {args.token!r} (give the token or its id)")
        changed = revoke_token(session, record, _actor())
        print(f"token {record.hint} ({record.id}) {'revoked' if changed else 'was already inactive'}")
    return 0


# --- assets ---------------------------------------------------------------------------------------
def cmd_assets_list(args: argparse.Namespace) -> int:
    from lanet.server.models import Asset
    from lanet.server.services.telemetry import mark_offline

    db = _db()
    mark_offline(db)
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
                "agent_status": "retired" if a.retired_at else a.agent_status,
                "last_seen": _ts(a.last_seen) if a.last_seen else None,
                "replaces": a.replaces_asset_id,
            }
            for a in assets
        ]
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        print(
            _table(
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

    with _db().session() as session:
        asset = session.get(Asset, args.asset_id.strip().lower())
        if asset is None:
            raise CliError(f"no asset with id {args.asset_id!r}")
        try:
            if args.verb == "retire":
                asset_lifecycle.retire(session, asset, _actor(), utcnow())
                print(f"asset {asset.id} ({asset.computer_name}) retired; its agent is refused from now on")
            elif args.verb == "merge":
                old = asset.replaces_asset_id
                asset_lifecycle.merge(session, asset, _actor(), utcnow())
                print(f"asset {asset.id} ({asset.computer_name}) merged: it took over {old} and its history")
            else:
                asset_lifecycle.reject(session, asset, _actor(), utcnow())
                print(f"asset {asset.id} ({asset.computer_name}) rejected and retired")
        except asset_lifecycle.LifecycleError as exc:
            raise CliError(str(exc)) from None
    return 0


# --- config ---------------------------------------------------------------------------------------
def _parse_value(text: str) -> Any:
    """JSON when it parses (30, true, ["bash"]), otherwise the text itself (DEBUG, 02:00)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def cmd_config_set(args: argparse.Namespace) -> int:
    from lanet.protocol.config_updates import UnknownConfigKeyError
    from lanet.server.api.errors import details_from_validation
    from lanet.server.services.config_push import ScopeNotFoundError, resolve_scope, set_override

    db = _db()
    try:
        with db.session() as session:
            scope = resolve_scope(session, args.scope, args.id)
            revision = set_override(session, scope, args.key, _parse_value(args.value), _actor())
    except ScopeNotFoundError as exc:
        raise CliError(str(exc)) from None
    except UnknownConfigKeyError:
        from lanet.protocol.config_updates import CONFIG_KEYS

        raise CliError(f"unknown key {args.key!r}; known keys: {', '.join(sorted(CONFIG_KEYS))}") from None
    except ValidationError as exc:
        problems = "; ".join(d.message for d in details_from_validation(exc))
        raise CliError(f"invalid value for {args.key}: {problems}") from None
    print(f"{args.scope} {scope.id}: {args.key} = {_parse_value(args.value)!r} (revision {revision})")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from lanet.server.services.config_push import ScopeNotFoundError, list_overrides, resolve_scope

    db = _db()
    try:
        with db.session() as session:
            scope = resolve_scope(session, args.scope, args.id)
            rows = [
                [o.key, json.dumps(o.value["v"]), str(o.revision), o.updated_by]
                for o in list_overrides(session, scope)
            ]
    except ScopeNotFoundError as exc:
        raise CliError(str(exc)) from None
    print(_table(rows, ["KEY", "VALUE", "REVISION", "BY"]))
    return 0


# --- commands -------------------------------------------------------------------------------------
def cmd_commands_send(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from lanet.server.services.commands import CommandError, queue_command

    if args.script:
        try:
            script = Path(args.script).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read {args.script}: {exc}") from None
    else:
        script = args.inline
    db = _db()
    try:
        with db.session() as session:
            command = queue_command(
                session,
                asset_id=args.asset,
                type_=args.type,
                script=script,
                actor=_actor(),
                timeout=args.timeout,
                priority=args.priority,
                arguments=args.arg or [],
                expires_in=timedelta(minutes=args.expires_minutes),
            )
            print(command.id)
    except CommandError as exc:
        raise CliError(str(exc)) from None
    return 0


def _command_lines(data: dict[str, Any]) -> list[str]:
    lines = [
        f"{key}: {_ts(value) if isinstance(value, datetime) else value}"
        for key, value in data.items()
        if key not in ("stdout", "stderr")
    ]
    for stream in ("stdout", "stderr"):
        text = data[stream] or ""
        note = " (truncated)" if data[f"{stream}_truncated"] else ""
        lines.append(f"--- {stream}{note} ---")
        lines.append(text.rstrip("\n"))
    return lines


def cmd_commands_show(args: argparse.Namespace) -> int:
    from lanet.server.models import Command
    from lanet.server.services.commands import describe

    db = _db()
    with db.session() as session:
        command = session.get(Command, args.command_id)
        if command is None:
            raise CliError(f"no command with id {args.command_id!r}")
        data = describe(command)
    if args.json:
        print(json.dumps(data, default=lambda v: _ts(v) if isinstance(v, datetime) else str(v), indent=2))
    else:
        print("\n".join(_command_lines(data)))
    return 0


def cmd_commands_list(args: argparse.Namespace) -> int:
    from lanet.server.models import Command

    db = _db()
    with db.session() as session:
        rows = session.scalars(
            select(Command).where(Command.asset_id == args.asset).order_by(Command.queued_at.desc())
        ).all()
        table = [
            [
                c.id,
                c.type,
                c.status,
                c.priority,
                _ts(c.queued_at),
                c.exit_code if c.exit_code is not None else "-",
            ]
            for c in rows
        ]
    print(_table(table, ["COMMAND ID", "TYPE", "STATUS", "PRIORITY", "QUEUED", "EXIT"]))
    return 0


# --- tickets --------------------------------------------------------------------------------------
def _ticket(session: Any, ref: str) -> Any:
    from lanet.server.services.tickets import find

    ticket = find(session, ref)
    if ticket is None:
        raise CliError(f"no ticket {ref!r}")
    return ticket


def cmd_tickets_list(args: argparse.Namespace) -> int:
    from lanet.protocol.tickets import format_ticket_number
    from lanet.server.services.tenancy import get_client
    from lanet.server.services.tickets import list_all, view

    db = _db()
    with db.session() as session:
        client_id = None
        if args.client:
            client = get_client(session, args.client)
            if client is None:
                raise CliError(f"no client with id or name {args.client!r}")
            client_id = client.id
        found = list_all(session, args.status, client_id)
        if args.json:
            print(json.dumps([view(t).model_dump(mode="json") for t in found], indent=2, ensure_ascii=False))
            return 0
        rows = [
            [
                format_ticket_number(t.number),
                t.status,
                t.priority,
                t.category,
                t.assigned_to or "-",
                t.reporter_name or "-",
                t.subject[:50],
            ]
            for t in found
        ]
    print(_table(rows, ["NUMBER", "STATUS", "PRIORITY", "CATEGORY", "TECHNICIAN", "REPORTER", "SUBJECT"]))
    return 0


def cmd_tickets_show(args: argparse.Namespace) -> int:
    from lanet.server.services.tickets import detail

    db = _db()
    with db.session() as session:
        data = detail(_ticket(session, args.ticket), include_internal=True).model_dump(mode="json")
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for key in (
        "number",
        "subject",
        "status",
        "priority",
        "category",
        "channel",
        "reporter_name",
        "reporter_account",
        "assigned_to",
        "asset_id",
        "created_at",
        "updated_at",
        "rating",
    ):
        print(f"{key}: {data[key] if data[key] is not None else '-'}")
    print(f"\n{data['description']}\n")
    for comment in data["comments"]:
        print(
            f"[{comment['created_at']}] {comment['author']}{'' if comment['public'] else ' (internal)'}: "
            f"{comment['body']}"
        )
    return 0


def _change_ticket(ref: str, change: Any, done: str) -> int:
    """Apply ``change(session, ticket)`` in one transaction; a refused change is a CLI error."""
    from lanet.server.services.tickets import TicketError

    db = _db()
    try:
        with db.session() as session:
            change(session, _ticket(session, ref))
    except TicketError as exc:
        raise CliError(str(exc)) from None
    print(done)
    return 0


def cmd_tickets_assign(args: argparse.Namespace) -> int:
    from lanet.server.services.tickets import assign

    return _change_ticket(
        args.ticket,
        lambda session, ticket: assign(session, ticket, args.to, _actor()),
        f"{args.ticket} assigned to {args.to}",
    )


def cmd_tickets_status(args: argparse.Namespace) -> int:
    from lanet.server.services.tickets import set_status

    return _change_ticket(
        args.ticket,
        lambda session, ticket: set_status(session, ticket, args.status, _actor()),
        f"{args.ticket} is now {args.status}",
    )


def cmd_tickets_comment(args: argparse.Namespace) -> int:
    from lanet.server.services.tickets import add_comment

    db = _db()
    with db.session() as session:
        add_comment(
            session,
            _ticket(session, args.ticket),
            author=args.author or _actor().removeprefix("cli:"),
            kind="technician",
            body=args.text,
            public=not args.internal,
            actor=_actor(),
        )
    print(f"comment added to {args.ticket}")
    return 0


# --- api keys -------------------------------------------------------------------------------------
def cmd_apikeys_create(args: argparse.Namespace) -> int:
    from lanet.server.services.apikeys import create_key

    db = _db()
    try:
        with db.session() as session:
            record, plain = create_key(session, _keys(), args.name, _actor())
            print(f"api key {record.name} ({record.id}), role {record.role}; shown once:")
            print(plain)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_apikeys_revoke(args: argparse.Namespace) -> int:
    from lanet.server.services.apikeys import revoke_key

    db = _db()
    with db.session() as session:
        record = revoke_key(session, args.key, _actor())
        if record is None:
            raise CliError(f"no api key with id or name {args.key!r}")
        print(f"api key {record.name} revoked")
    return 0


# --- users ----------------------------------------------------------------------------------------
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
    db = _db()
    try:
        with db.session() as session:
            user = create_user(
                session,
                email=args.email,
                role=args.role,
                password=password,
                actor=_actor(),
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
    db = _db()
    try:
        with db.session() as session:
            user = set_password(session, args.email, password, _actor())
            print(f"password of {user.email} replaced; account unlocked, its sessions ended")
    except UserError as exc:
        raise CliError(str(exc)) from None
    if generated:
        print("password (shown once):")
        print(password)
    return 0


def cmd_users_list(_args: argparse.Namespace) -> int:
    from lanet.server.models import User

    db = _db()
    with db.session() as session:
        users = session.scalars(select(User).options(joinedload(User.client)).order_by(User.email)).all()
        rows = [
            [
                u.email,
                u.role,
                u.client.name if u.client else "*",
                "yes" if u.active else "no",
                _ts(u.last_login),
                _ts(u.locked_until),
            ]
            for u in users
        ]
    print(_table(rows, ["EMAIL", "ROLE", "CLIENT", "ACTIVE", "LAST LOGIN", "LOCKED UNTIL"]))
    return 0


# --- maintenance ----------------------------------------------------------------------------------
def cmd_maintenance(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from lanet.server.maintenance import maintenance_loop, maintenance_pass

    logging.basicConfig(level=logging.INFO, format="%(asctime)s [maintenance] %(message)s")
    if not args.loop:
        maintenance_pass(_db())
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        maintenance_loop(_settings(), stop)
    return 0


# --- serve ----------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from lanet.server.frontend import FrontEndError
    from lanet.server.serve import serve

    if bool(args.certfile) != bool(args.keyfile):
        raise CliError("--certfile and --keyfile go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [serve] %(message)s")
    try:
        return serve(
            args.host,
            args.port,
            workers=args.workers,
            certfile=args.certfile,
            keyfile=args.keyfile,
            access_log=args.access_log,
        )
    except (FrontEndError, ValueError) as exc:
        raise CliError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one declaration per verb
    parser = argparse.ArgumentParser(prog="lanet-server", description="LANET backend module")
    parser.add_argument("--version", action="version", version=f"lanet-server {lanet.__version__}")
    sub = parser.add_subparsers(dest="group", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="verb", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    db.add_parser("current", help="show the schema revision").set_defaults(func=cmd_db_current)

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

    config = sub.add_parser("config", help="configuration pushed to agents").add_subparsers(
        dest="verb", required=True
    )
    cset = config.add_parser("set", help="push KEY=VALUE to a client, site or asset")
    cset.add_argument("--scope", choices=["client", "site", "asset"], required=True)
    cset.add_argument("--id", required=True, help="id (or, for a client, its name)")
    cset.add_argument("key")
    cset.add_argument("value", help='JSON (30, true, ["bash"]) or plain text (DEBUG)')
    cset.set_defaults(func=cmd_config_set)
    cshow = config.add_parser("show", help="overrides set on a client, site or asset")
    cshow.add_argument("--scope", choices=["client", "site", "asset"], required=True)
    cshow.add_argument("--id", required=True)
    cshow.set_defaults(func=cmd_config_show)

    cmds = sub.add_parser("commands", help="remote scripts").add_subparsers(dest="verb", required=True)
    send = cmds.add_parser("send", help="queue a script for an asset (prints the command id)")
    send.add_argument("--asset", required=True)
    send.add_argument("--type", required=True, choices=["powershell", "batch", "bash", "sh", "python"])
    source = send.add_mutually_exclusive_group(required=True)
    source.add_argument("--script", help="file holding the script")
    source.add_argument("--inline", help="the script text")
    send.add_argument(
        "--timeout", type=int, default=300, help="seconds (the agent's scripts.timeout caps it)"
    )
    send.add_argument("--priority", choices=["low", "normal", "high"], default="normal")
    send.add_argument("--expires-minutes", type=int, default=24 * 60)
    send.add_argument("--arg", action="append", help="an argument for the script (repeatable)")
    send.set_defaults(func=cmd_commands_send)
    show = cmds.add_parser("show", help="status, exit code, output and times")
    show.add_argument("command_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_commands_show)
    clist = cmds.add_parser("list", help="an asset's commands, newest first")
    clist.add_argument("--asset", required=True)
    clist.set_defaults(func=cmd_commands_list)

    tix = sub.add_parser("tickets", help="helpdesk tickets").add_subparsers(dest="verb", required=True)
    tl = tix.add_parser("list", help="newest first")
    tl.add_argument(
        "--status", choices=["nuevo", "asignado", "en_progreso", "esperando_cliente", "resuelto", "cerrado"]
    )
    tl.add_argument("--client")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(func=cmd_tickets_list)
    ts = tix.add_parser("show", help="a ticket with every comment (internal ones too)")
    ts.add_argument("ticket", help="TKT-000001 or the ticket id")
    ts.add_argument("--json", action="store_true")
    ts.set_defaults(func=cmd_tickets_show)
    ta = tix.add_parser("assign", help="assign to a technician")
    ta.add_argument("ticket")
    ta.add_argument("--to", required=True, help="the technician's name")
    ta.set_defaults(func=cmd_tickets_assign)
    tst = tix.add_parser("status", help="change the status")
    tst.add_argument("ticket")
    tst.add_argument(
        "status", choices=["nuevo", "asignado", "en_progreso", "esperando_cliente", "resuelto", "cerrado"]
    )
    tst.set_defaults(func=cmd_tickets_status)
    tc = tix.add_parser("comment", help="add a comment (public unless --internal)")
    tc.add_argument("ticket")
    tc.add_argument("--text", required=True)
    tc.add_argument("--author")
    tc.add_argument("--internal", action="store_true")
    tc.set_defaults(func=cmd_tickets_comment)

    keys = sub.add_parser("api-keys", help="keys for the technicians' API").add_subparsers(
        dest="verb", required=True
    )
    kcreate = keys.add_parser("create", help="create a key (printed once, on the last line)")
    kcreate.add_argument("--name", required=True)
    kcreate.set_defaults(func=cmd_apikeys_create)
    krevoke = keys.add_parser("revoke", help="revoke a key by id or name")
    krevoke.add_argument("key")
    krevoke.set_defaults(func=cmd_apikeys_revoke)

    users = sub.add_parser("users", help="people who log in to the portal").add_subparsers(
        dest="verb", required=True
    )
    ucreate = users.add_parser(
        "create",
        help="create a user; the password comes from stdin's first line, a prompt, or --generate",
    )
    ucreate.add_argument("--email", required=True)
    ucreate.add_argument(
        "--role", required=True, choices=["superadmin", "technician", "client_admin", "solicitante"]
    )
    ucreate.add_argument("--client", help="name or id; required for client_admin and solicitante")
    ucreate.add_argument("--name", help="display name")
    ucreate.add_argument("--language", default="es", choices=["es", "en"])
    ucreate.add_argument("--generate", action="store_true", help="make a random password, printed last")
    ucreate.set_defaults(func=cmd_users_create)
    upass = users.add_parser("password", help="replace a user's password (stdin, a prompt, or --generate)")
    upass.add_argument("--email", required=True)
    upass.add_argument("--generate", action="store_true", help="make a random password, printed last")
    upass.set_defaults(func=cmd_users_password)
    users.add_parser("list", help="list users").set_defaults(func=cmd_users_list)

    maint = sub.add_parser("maintenance", help="mark silent assets offline (once, or --loop)")
    maint.add_argument("--loop", action="store_true", help="repeat every 30 s until stopped")
    maint.set_defaults(func=cmd_maintenance)

    srv = sub.add_parser("serve", help="run the HTTP(S) server")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--workers", type=int)
    srv.add_argument("--certfile")
    srv.add_argument("--keyfile")
    srv.add_argument("--access-log", action="store_true")
    srv.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"lanet-server: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
