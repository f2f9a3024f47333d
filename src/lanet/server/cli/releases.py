"""``lanet-server releases``: signed agent releases, their rollouts and key rotation.

The offline release keys (root and targets) live in a folder of the operator's (``--keys DIR``,
for example on a USB stick) encrypted with a passphrase (``LANET_RELEASE_PASSPHRASE`` or asked for):
keygen, publish and the key rotations need them; nothing else does, and the server never holds them.
"""

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from lanet.protocol.values import RELEASE_PLATFORMS
from lanet.server.cli._common import CliError, actor, database, settings, table, timestamp


def _repository() -> Any:
    from lanet.server.services.releases.repository import ReleaseRepository

    return ReleaseRepository(settings().release_folder)


def _offline(args: argparse.Namespace) -> Any:
    from lanet.server.services.releases.repository import OfflineKeys, RepositoryError

    passphrase = os.environ.get("LANET_RELEASE_PASSPHRASE")
    if not passphrase:
        if not sys.stdin.isatty():
            raise CliError("set LANET_RELEASE_PASSPHRASE or run in a terminal to type the key passphrase")
        passphrase = getpass.getpass("release key passphrase: ")
    try:
        return OfflineKeys(Path(args.keys), passphrase)
    except RepositoryError as exc:
        raise CliError(str(exc)) from None


def _invalidate_note() -> None:
    print("running backends pick the change up within a few seconds")


def cmd_keygen(args: argparse.Namespace) -> int:
    from lanet.server.services.releases.repository import RepositoryError

    repository = _repository()
    try:
        repository.keygen(_offline(args))
    except RepositoryError as exc:
        raise CliError(str(exc)) from None
    root = Path(args.keys) / "trusted_root.json"
    root.write_bytes(repository.root_bytes(1))
    print(f"offline release keys written to {args.keys} (root.pem, targets.pem): keep them off the server")
    print(f"online keys and metadata in {repository.folder}")
    print(f"the agents' trusted root: {root} (build the packages with it: LANET_TRUSTED_ROOT)")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from lanet.server.services.releases import operations

    db = database()
    try:
        with db.session() as session:
            release = operations.publish(
                session,
                _repository(),
                Path(args.file),
                version=args.version,
                platform=args.platform,
                rollback=args.rollback,
                offline=_offline(args),
                actor=actor(),
            )
            print(
                f"published {release.platform} {release.version} as {release.target} ({release.length} bytes)"
            )
            print(f"sha256 {release.sha256}")
    except operations.ReleaseError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from lanet.server.services.releases import operations

    db = database()
    with db.session() as session:
        listed = operations.list_releases(session)
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "version": r.version,
                            "platform": r.platform,
                            "target": r.target,
                            "length": r.length,
                            "sha256": r.sha256,
                            "rollback": r.rollback,
                            "published_at": timestamp(r.published_at),
                            "rollouts": [operations.describe(session, x) for x in rollouts],
                        }
                        for r, rollouts in listed
                    ],
                    indent=2,
                )
            )
            return 0
        rows = [
            [
                r.version,
                r.platform,
                "yes" if r.rollback else "no",
                timestamp(r.published_at),
                "; ".join(str(operations.describe(session, x)["summary"]) for x in rollouts) or "-",
            ]
            for r, rollouts in listed
        ]
    print(table(rows, ["VERSION", "PLATFORM", "ROLLBACK", "PUBLISHED", "ROLLOUTS"]))
    return 0


def cmd_rollout(args: argparse.Namespace) -> int:
    from lanet.server.services.releases import operations

    db = database()
    try:
        with db.session() as session:
            done = operations.rollout(
                session,
                args.version,
                percent=args.percent,
                client_name=args.client,
                site_name=args.site,
                now=args.now,
                failure_threshold=args.failure_threshold,
                actor=actor(),
            )
            for record in done:
                summary = operations.describe(session, record)["summary"]
                print(f"{record.release.platform} {args.version}: {summary}")
    except operations.ReleaseError as exc:
        raise CliError(str(exc)) from None
    _invalidate_note()
    return 0


def _pause(args: argparse.Namespace, paused: bool) -> int:
    from lanet.server.services.releases import operations

    db = database()
    try:
        with db.session() as session:
            changed = operations.set_paused(
                session, args.version, paused, actor=actor(), reason=getattr(args, "reason", None)
            )
    except operations.ReleaseError as exc:
        raise CliError(str(exc)) from None
    print(f"{args.version}: {changed} rollout(s) {'paused' if paused else 'resumed'}")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    return _pause(args, True)


def cmd_resume(args: argparse.Namespace) -> int:
    return _pause(args, False)


def cmd_status(args: argparse.Namespace) -> int:
    from lanet.server.services.releases import operations

    db = database()
    try:
        with db.session() as session:
            _releases, rollouts, states = operations.status(session, args.version)
            described = [operations.describe(session, r) for r in rollouts]
    except operations.ReleaseError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "version": args.version,
                    "rollouts": described,
                    "assets": [
                        {
                            "asset_id": s.asset_id,
                            "computer_name": s.computer_name,
                            "client": s.client,
                            "site": s.site,
                            "platform": s.platform,
                            "state": s.state,
                            "reason": s.reason,
                            "from_version": s.from_version,
                            "running_version": s.running_version,
                            "updated_at": timestamp(s.updated_at),
                        }
                        for s in states
                    ],
                },
                indent=2,
            )
        )
        return 0
    for item in described:
        print(item["summary"])
    print(
        table(
            [
                [
                    s.computer_name,
                    s.client,
                    s.site,
                    s.state,
                    s.from_version or "-",
                    s.running_version or "-",
                    s.reason or "",
                ]
                for s in states
            ],
            ["ASSET", "CLIENT", "SITE", "STATE", "FROM", "RUNS", "REASON"],
        )
    )
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from lanet.server.services.releases.repository import RepositoryError

    repository = _repository()
    try:
        if args.role == "online":
            version = repository.rotate_online(_offline(args))
        else:
            version = repository.rotate_offline(args.role, _offline(args))
    except RepositoryError as exc:
        raise CliError(str(exc)) from None
    print(
        f"{args.role} keys replaced; root version {version} trusts the new keys, signed by the old root key"
    )
    print("agents follow the new root by themselves at their next update check")
    return 0


def cmd_resign(args: argparse.Namespace) -> int:
    from lanet.server.services.releases.repository import RepositoryError

    try:
        expiries = _repository().resign_offline(_offline(args))
    except RepositoryError as exc:
        raise CliError(str(exc)) from None
    for role, expires in expiries.items():
        print(f"{role} re-signed with the same key; expires {expires.isoformat()}")
    return 0


def register(sub: Any) -> None:
    group = sub.add_parser("releases", help="signed agent releases and rollouts").add_subparsers(
        dest="verb", required=True
    )

    def keys_argument(parser: Any) -> None:
        parser.add_argument("--keys", required=True, help="the offline release key folder")

    keygen = group.add_parser("keygen", help="make the release keys and the repository")
    keys_argument(keygen)
    keygen.set_defaults(func=cmd_keygen)

    publish = group.add_parser("publish", help="sign a package with the offline targets key and publish it")
    publish.add_argument("file")
    publish.add_argument("--version", required=True)
    publish.add_argument("--platform", required=True, choices=RELEASE_PLATFORMS)
    publish.add_argument(
        "--rollback", action="store_true", help="signed as a rollback: may replace a newer version"
    )
    keys_argument(publish)
    publish.set_defaults(func=cmd_publish)

    listing = group.add_parser("list", help="published releases and their rollouts")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    rollout = group.add_parser("rollout", help="offer a release to a share of the fleet, a client or a site")
    rollout.add_argument("version")
    rollout.add_argument("--percent", type=int, required=True)
    rollout.add_argument("--client")
    rollout.add_argument("--site")
    rollout.add_argument("--now", action="store_true", help="install at once, outside the update window")
    rollout.add_argument(
        "--failure-threshold", type=float, default=2.0, help="percent of failures that pauses the rollout (2)"
    )
    rollout.set_defaults(func=cmd_rollout)

    pause = group.add_parser("pause", help="stop offering a version")
    pause.add_argument("version")
    pause.add_argument("--reason")
    pause.set_defaults(func=cmd_pause)
    resume = group.add_parser("resume", help="offer a paused version again")
    resume.add_argument("version")
    resume.set_defaults(func=cmd_resume)

    status = group.add_parser("status", help="each asset's state with a version, and why")
    status.add_argument("version")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    resign = group.add_parser(
        "resign", help="re-sign the offline metadata (root, targets) before it expires, same keys"
    )
    keys_argument(resign)
    resign.set_defaults(func=cmd_resign)

    rotate = group.add_parser("rotate-key", help="replace a release key (online: snapshot and timestamp)")
    rotate.add_argument("role", choices=("online", "root", "targets"))
    keys_argument(rotate)
    rotate.set_defaults(func=cmd_rotate)
