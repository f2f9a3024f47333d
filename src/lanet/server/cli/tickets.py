"""``lanet-server tickets``: the helpdesk inbox from the command line."""

import argparse
import json
from typing import Any

from lanet.protocol.values import TICKET_STATUSES
from lanet.server.cli._common import CliError, actor, database, table


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

    db = database()
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
    print(table(rows, ["NUMBER", "STATUS", "PRIORITY", "CATEGORY", "TECHNICIAN", "REPORTER", "SUBJECT"]))
    return 0


def cmd_tickets_show(args: argparse.Namespace) -> int:
    from lanet.server.services.tickets import detail

    db = database()
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

    db = database()
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
        lambda session, ticket: assign(session, ticket, args.to, actor()),
        f"{args.ticket} assigned to {args.to}",
    )


def cmd_tickets_status(args: argparse.Namespace) -> int:
    from lanet.server.services.tickets import set_status

    return _change_ticket(
        args.ticket,
        lambda session, ticket: set_status(session, ticket, args.status, actor()),
        f"{args.ticket} is now {args.status}",
    )


def cmd_tickets_comment(args: argparse.Namespace) -> int:
    from lanet.server.services.tickets import add_comment

    db = database()
    with db.session() as session:
        add_comment(
            session,
            _ticket(session, args.ticket),
            author=args.author or actor().removeprefix("cli:"),
            kind="technician",
            body=args.text,
            public=not args.internal,
            actor=actor(),
        )
    print(f"comment added to {args.ticket}")
    return 0


def register(sub: Any) -> None:
    tix = sub.add_parser("tickets", help="helpdesk tickets").add_subparsers(dest="verb", required=True)
    tl = tix.add_parser("list", help="newest first")
    tl.add_argument("--status", choices=TICKET_STATUSES)
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
    tst.add_argument("status", choices=TICKET_STATUSES)
    tst.set_defaults(func=cmd_tickets_status)
    tc = tix.add_parser("comment", help="add a comment (public unless --internal)")
    tc.add_argument("ticket")
    tc.add_argument("--text", required=True)
    tc.add_argument("--author")
    tc.add_argument("--internal", action="store_true")
    tc.set_defaults(func=cmd_tickets_comment)
