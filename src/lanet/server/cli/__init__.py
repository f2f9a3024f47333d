"""``lanet-server``: the operators' command line. Verbs are stable; operators script them.

One module per command group (``db``, ``tokens``, ``assets``, ``config``, ``commands``, ``tickets``,
``api-keys``, ``users``, ``releases``, ``secret-key``, ``maintenance``, ``serve``), each declaring its
verbs in ``register``.
Every command that changes something is audited with the actor ``cli:<os user>``.
"""

import argparse
import sys
from collections.abc import Sequence

import lanet
from lanet.server.cli import (
    apikeys,
    assets,
    commands,
    config,
    db,
    maintenance,
    patches,
    releases,
    secret_key,
    serve,
    tickets,
    tokens,
    users,
)
from lanet.server.cli._common import CliError

GROUPS = (
    db,
    tokens,
    assets,
    config,
    commands,
    tickets,
    apikeys,
    users,
    releases,
    patches,
    secret_key,
    maintenance,
    serve,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lanet-server", description="LANET backend module")
    parser.add_argument("--version", action="version", version=f"lanet-server {lanet.__version__}")
    sub = parser.add_subparsers(dest="group", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"lanet-server: error: {exc}", file=sys.stderr)
        return 2
