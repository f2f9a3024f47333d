"""``lanet-server secret-key``: the server secret's id, what each key still holds, rotation.

With ``LANET_SECRET_KEY`` in the environment the operator rotates by hand: the old value goes into
``LANET_PREVIOUS_SECRET_KEYS`` and a new one into ``LANET_SECRET_KEY``, on every backend process.
With the key kept in the data directory, ``rotate`` and ``retire`` do it.
"""

import argparse
import os
import secrets
from pathlib import Path
from typing import Any

from lanet.server.cli._common import CliError, database, keys, settings, table


def cmd_status(args: argparse.Namespace) -> int:
    from lanet.server.services.key_usage import KINDS, usage

    db = database()
    with db.session() as session:
        rows = usage(session, keys())
    print(
        table(
            [[row.kid, row.role, *row.counts.values(), row.total] for row in rows],
            ["KEY", "ROLE", *KINDS, "TOTAL"],
        )
    )
    idle = [row.kid for row in rows if row.role == "previous" and row.total == 0]
    if idle:
        print(f"no stored credential depends on {', '.join(idle)} any more: it can be retired")
    return 0


def _file_keys() -> tuple[Path, Path]:
    if os.environ.get("LANET_SECRET_KEY"):
        raise CliError(
            "LANET_SECRET_KEY is set: rotate by moving its value into LANET_PREVIOUS_SECRET_KEYS and "
            "setting a new LANET_SECRET_KEY on every backend process"
        )
    from lanet.server.settings import PREVIOUS_SECRETS_FILE

    data_dir = settings().data_dir
    return data_dir / "secret.key", data_dir / PREVIOUS_SECRETS_FILE


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically, readable by its owner only."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def cmd_rotate(args: argparse.Namespace) -> int:
    from lanet.server.services.credentials import Keys

    current_path, previous_path = _file_keys()
    before = keys()
    old = current_path.read_text().strip()
    previous = previous_path.read_text().split() if previous_path.exists() else []
    new = secrets.token_urlsafe(48)
    _write(previous_path, "\n".join([old, *previous]) + "\n")
    _write(current_path, new + "\n")
    print(f"secret key {before.kid} replaced by {Keys(new).kid}; {before.kid} still verifies what it made")
    print("restart every lanet-server process so they all sign with the new key")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    from lanet.server.services.credentials import Keys

    _, previous_path = _file_keys()
    previous = previous_path.read_text().split() if previous_path.exists() else []
    kept = [value for value in previous if Keys(value).kid != args.kid]
    if len(kept) == len(previous):
        raise CliError(
            f"no previous secret key has the id {args.kid!r} (see: lanet-server secret-key status)"
        )
    _write(previous_path, "".join(f"{value}\n" for value in kept))
    print(f"secret key {args.kid} retired; what it alone verified is refused from the next restart")
    return 0


def register(sub: Any) -> None:
    group = sub.add_parser("secret-key", help="the server secret: status, rotation").add_subparsers(
        dest="verb", required=True
    )
    group.add_parser("status", help="each key and the stored credentials it still verifies").set_defaults(
        func=cmd_status
    )
    group.add_parser("rotate", help="make a new key; the current one stays as a previous key").set_defaults(
        func=cmd_rotate
    )
    retire = group.add_parser("retire", help="drop a previous key by its id")
    retire.add_argument("kid")
    retire.set_defaults(func=cmd_retire)
