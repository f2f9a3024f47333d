"""``lanet-agent``: register, run the service loop, show status, show what would be sent."""

import argparse
import contextlib
import io
import json
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import lanet
from lanet.agent.paths import AgentPaths
from lanet.i18n import LANGUAGES


class _TolerantStream(io.TextIOBase):
    """stdout/stderr that turn into a sink when the handle behind them cannot be written.

    The MSI's custom actions run ``agent.exe`` with console handles that lead nowhere; without this
    the ``print`` after a successful registration raised, the command exited 1 and the install
    rolled back. What matters also goes to the agent's log.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._broken = False

    def write(self, text: str) -> int:
        if not self._broken:
            try:
                return self._stream.write(text)
            except OSError:
                self._broken = True
        return len(text)

    def flush(self) -> None:
        if not self._broken:
            try:
                self._stream.flush()
            except OSError:
                self._broken = True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding


def _paths(args: argparse.Namespace) -> AgentPaths:
    return AgentPaths.resolve(args.home)


def _log_to_file(args: argparse.Namespace) -> logging.Logger:
    """The agent's log, for commands the installer runs without a console to show their errors."""
    from lanet.agent import logs
    from lanet.agent.config import ConfigError, load_config

    paths = _paths(args)
    with contextlib.suppress(ConfigError, OSError):  # the console message still says it
        logs.setup(load_config(paths.config_file), paths.logs_dir, console=False)
    return logging.getLogger("lanet.agent.cli")


def cmd_register(args: argparse.Namespace) -> int:
    from lanet.agent.registration import RegistrationError, register

    try:
        result = register(
            _paths(args),
            args.server,
            args.token,
            min_tls13=args.min_tls == "1.3",
            keep_token=args.keep_token,
            allow_insecure_http=args.allow_insecure_http,
        )
    except RegistrationError as exc:
        _log_to_file(args).error("%s", exc)  # the installer runs this without a console to show it
        print(f"lanet-agent: {exc}", file=sys.stderr)
        return exc.exit_code
    if sys.platform == "win32" and not args.home:
        from lanet.agent.windows import marker

        marker.mark_registered(result.asset_id)
    print(f"asset id: {result.asset_id}{' (already registered machine)' if result.existing else ''}")
    print(f"client:   {result.client_name} ({result.client_id})")
    print(f"site:     {result.site_name} ({result.site_id})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from lanet.agent.config import ConfigError
    from lanet.agent.core import Agent
    from lanet.agent.transport import InsecureBackendError

    try:
        agent = Agent(_paths(args), console=not args.quiet, home_given=bool(args.home))
    except ConfigError as exc:
        print(f"lanet-agent: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except InsecureBackendError as exc:
        _log_to_file(args).error("%s", exc)
        print(f"lanet-agent: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: agent.request_stop())
    return agent.run()


def cmd_service(args: argparse.Namespace) -> int:
    if sys.platform != "win32":
        print("lanet-agent: 'service' manages the Windows service; on Linux use systemd", file=sys.stderr)
        return 2
    from lanet.agent.windows import service as winservice

    try:
        if args.action == "install":
            winservice.install(args.home)
        elif args.action == "uninstall":
            winservice.uninstall()
        elif args.action == "start":
            winservice.start()
        elif args.action == "stop":
            winservice.stop()
    except Exception as exc:  # pywintypes.error carries the reason from the service manager
        _log_to_file(args).error("service %s failed: %s", args.action, exc)
        print(f"lanet-agent: service {args.action} failed: {exc}", file=sys.stderr)
        return 1
    print(f"{winservice.SERVICE_NAME}: {winservice.status() or 'not installed'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from lanet.agent.config import ConfigError
    from lanet.agent.status import status_report

    try:
        report = status_report(_paths(args))
    except ConfigError as exc:
        print(f"lanet-agent: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        width = max(len(k) for k in report)
        for key, value in report.items():
            print(f"{key.ljust(width)}  {value if value is not None else '-'}")
    return 0 if report["registered"] else 1


def cmd_collect(args: argparse.Namespace) -> int:
    from lanet.agent.config import ConfigError, replace
    from lanet.agent.core import Agent

    try:
        agent = Agent(_paths(args), console=False, home_given=bool(args.home))
    except ConfigError as exc:
        print(f"lanet-agent: invalid configuration: {exc}", file=sys.stderr)
        return 2
    try:
        if agent.config.agent.asset_id is None:
            # Not registered yet: show the shape with a placeholder id.
            agent.config = replace(agent.config, "agent", "asset_id", "00000000-0000-0000-0000-000000000000")
        result: dict[str, Any] = {
            "inventory": {"asset_id": agent.config.agent.asset_id, "hardware_info": agent.inventory.build()},
            "heartbeat": agent.preview_heartbeat(),
        }
    finally:
        agent.store.close()
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        hw = result["inventory"]["hardware_info"]
        for key, value in hw.items():
            shown = f"{len(value)} items" if isinstance(value, list) else value
            print(f"{key:20} {shown}")
        print()
        for key, value in result["heartbeat"]["status"].items():
            print(f"{key:20} {value}")
    return 0


def cmd_remove_data(args: argparse.Namespace) -> int:
    """What the uninstaller runs with ``REMOVEDATA=1``: the agent's identity, data and logs go too."""
    import shutil

    if not args.yes:
        print("lanet-agent: remove-data deletes the identity, data and logs: add --yes", file=sys.stderr)
        return 2
    for folder in _paths(args).folders:
        if folder.exists():
            shutil.rmtree(folder)
            print(f"removed {folder}")
    if sys.platform == "win32" and not args.home:
        from lanet.agent.windows import marker

        marker.clear()
    return 0


def cmd_tray(args: argparse.Namespace) -> int:
    from lanet.agent.local import channel_address
    from lanet.agent.tray.app import TrayApp
    from lanet.agent.tray.context import TrayContext

    ctx = TrayContext(channel_address(_paths(args)), args.lang)
    return TrayApp(ctx).run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lanet-agent", description="LANET endpoint agent")
    parser.add_argument("--version", action="version", version=f"lanet-agent {lanet.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_home(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--home", help="keep config, data and logs under this folder (tests, development)")
        return p

    reg = with_home(sub.add_parser("register", help="register this machine with an install token"))
    reg.add_argument("--server", required=True, help="backend URL, e.g. https://helpdesk.example.com/api")
    reg.add_argument("--token", help="install token (default: config/token.txt)")
    reg.add_argument(
        "--keep-token", action="store_true", help="also save --token to config/token.txt (the installer does)"
    )
    reg.add_argument("--min-tls", choices=["1.2", "1.3"], default="1.3", help="lowest TLS version accepted")
    reg.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="development only: accept a plain http:// backend (warned about at every start)",
    )
    reg.set_defaults(func=cmd_register)
    run = with_home(sub.add_parser("run", help="run the service loop in the foreground"))
    run.add_argument("--quiet", action="store_true", help="log to files only")
    run.set_defaults(func=cmd_run)
    status = with_home(sub.add_parser("status", help="registration, last contact, queued items"))
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    collect = with_home(
        sub.add_parser("collect", help="print what the next inventory and heartbeat would send")
    )
    collect.add_argument("--json", action="store_true")
    collect.set_defaults(func=cmd_collect)
    service = sub.add_parser("service", help="install, uninstall, start or stop the Windows service")
    service.add_argument("action", choices=["install", "uninstall", "start", "stop"])
    service.add_argument("--home", help="keep the service's files under this directory (install only)")
    service.set_defaults(func=cmd_service)
    remove = with_home(sub.add_parser("remove-data", help="delete the agent's configuration, data and logs"))
    remove.add_argument("--yes", action="store_true", help="confirm: nothing is kept")
    remove.set_defaults(func=cmd_remove_data)
    tray = with_home(sub.add_parser("tray", help="the system-tray app of the PC's user"))
    tray.add_argument("--lang", choices=LANGUAGES, help="default: the system locale, else es-MX")
    tray.set_defaults(func=cmd_tray)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if sys.platform == "win32":
        sys.stdout = _TolerantStream(sys.stdout) if sys.stdout else sys.stdout
        sys.stderr = _TolerantStream(sys.stderr) if sys.stderr else sys.stderr
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exception:
        _log_to_file(args).exception("lanet-agent %s failed", args.command)
        raise


if __name__ == "__main__":
    sys.exit(main())
