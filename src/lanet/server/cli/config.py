"""``lanet-server config``: configuration pushed to a client, site or asset."""

import argparse
import json
from typing import Any

from pydantic import ValidationError

from lanet.server.cli._common import CliError, actor, database, table
from lanet.server.models.config import SCOPES


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

    db = database()
    try:
        with db.session() as session:
            scope = resolve_scope(session, args.scope, args.id)
            revision = set_override(session, scope, args.key, _parse_value(args.value), actor())
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

    db = database()
    try:
        with db.session() as session:
            scope = resolve_scope(session, args.scope, args.id)
            rows = [
                [o.key, json.dumps(o.value["v"]), str(o.revision), o.updated_by]
                for o in list_overrides(session, scope)
            ]
    except ScopeNotFoundError as exc:
        raise CliError(str(exc)) from None
    print(table(rows, ["KEY", "VALUE", "REVISION", "BY"]))
    return 0


def register(sub: Any) -> None:
    config = sub.add_parser("config", help="configuration pushed to agents").add_subparsers(
        dest="verb", required=True
    )
    cset = config.add_parser("set", help="push KEY=VALUE to a client, site or asset")
    cset.add_argument("--scope", choices=SCOPES, required=True)
    cset.add_argument("--id", required=True, help="id (or, for a client, its name)")
    cset.add_argument("key")
    cset.add_argument("value", help='JSON (30, true, ["bash"]) or plain text (DEBUG)')
    cset.set_defaults(func=cmd_config_set)
    cshow = config.add_parser("show", help="overrides set on a client, site or asset")
    cshow.add_argument("--scope", choices=SCOPES, required=True)
    cshow.add_argument("--id", required=True)
    cshow.set_defaults(func=cmd_config_show)
