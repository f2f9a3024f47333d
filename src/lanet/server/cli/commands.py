"""``lanet-server commands``: remote scripts, queued and read back."""

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lanet.protocol.values import COMMAND_PRIORITIES, SCRIPT_TYPES
from lanet.server.cli._common import CliError, actor, database, table, timestamp


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
    db = database()
    try:
        with db.session() as session:
            command = queue_command(
                session,
                asset_id=args.asset,
                type_=args.type,
                script=script,
                actor=actor(),
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
        f"{key}: {timestamp(value) if isinstance(value, datetime) else value}"
        for key, value in data.items()
        if key not in ("stdout", "stderr")
    ]
    for stream in ("stdout", "stderr"):
        text = data[stream] or ""
        note = " (truncated)" if data[f"{stream}_truncated"] else ""
        lines.append(f"--- {stream}{note} ---")
        lines.append(text.rstrip("\n"))
    return lines


def _plain(value: object) -> str:
    """JSON fallback: timestamps in the CLI's one format, anything else as text."""
    return timestamp(value) if isinstance(value, datetime) else str(value)


def cmd_commands_show(args: argparse.Namespace) -> int:
    from lanet.server.models import Command
    from lanet.server.services.commands import describe

    db = database()
    with db.session() as session:
        command = session.get(Command, args.command_id)
        if command is None:
            raise CliError(f"no command with id {args.command_id!r}")
        data = describe(command)
    if args.json:
        print(json.dumps(data, default=_plain, indent=2))
    else:
        print("\n".join(_command_lines(data)))
    return 0


def cmd_commands_list(args: argparse.Namespace) -> int:
    from lanet.server.models import Command

    db = database()
    with db.session() as session:
        rows = session.scalars(
            select(Command).where(Command.asset_id == args.asset).order_by(Command.queued_at.desc())
        ).all()
        lines = [
            [
                c.id,
                c.type,
                c.status,
                c.priority,
                timestamp(c.queued_at),
                c.exit_code if c.exit_code is not None else "-",
            ]
            for c in rows
        ]
    print(table(lines, ["COMMAND ID", "TYPE", "STATUS", "PRIORITY", "QUEUED", "EXIT"]))
    return 0


def register(sub: Any) -> None:
    cmds = sub.add_parser("commands", help="remote scripts").add_subparsers(dest="verb", required=True)
    send = cmds.add_parser("send", help="queue a script for an asset (prints the command id)")
    send.add_argument("--asset", required=True)
    send.add_argument("--type", required=True, choices=SCRIPT_TYPES)
    source = send.add_mutually_exclusive_group(required=True)
    source.add_argument("--script", help="file holding the script")
    source.add_argument("--inline", help="the script text")
    send.add_argument(
        "--timeout", type=int, default=300, help="seconds (the agent's scripts.timeout caps it)"
    )
    send.add_argument("--priority", choices=COMMAND_PRIORITIES, default="normal")
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
