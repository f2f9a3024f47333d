"""``lanet-server serve``: nginx in front of the application (see :mod:`lanet.server.serve`)."""

import argparse
from typing import Any

from lanet.server.cli._common import CliError


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


def register(sub: Any) -> None:
    srv = sub.add_parser("serve", help="run the HTTP(S) server")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--workers", type=int)
    srv.add_argument("--certfile")
    srv.add_argument("--keyfile")
    srv.add_argument("--access-log", action="store_true")
    srv.set_defaults(func=cmd_serve)
