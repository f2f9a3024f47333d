"""The update worker: ``python -m lanet.agent.update.worker [--home H]``, started by the service.

It verifies the offered release with TUF against the root this package carries, downloads it (and
the package of the version that runs now, the way back) into ``data/cache/updates``, and reports
each step through the outbox: ``downloading``, then ``staged``, or ``failed`` with the reason.
What the server's offer says is only a hint: the version, platform and rollback flag that count are
the ones in the signed metadata. A release older than what runs is refused unless it was signed as
a rollback.
"""

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lanet
from lanet.agent.backend import ca_bundle_of
from lanet.agent.paths import AgentPaths, bundle_root
from lanet.agent.secrets import credentials
from lanet.agent.store import Store
from lanet.agent.update import (
    INSTALLED_PACKAGE,
    OFFER,
    STAGED,
    TRUSTED_ROOT,
    UNSUPPORTED,
    package_platform,
    report,
    updates_dir,
)
from lanet.agent.update.install import detach, windows_runner
from lanet.agent.workers import open_worker
from lanet.protocol.versions import is_newer

log = logging.getLogger("lanet.agent.update")


class Refused(Exception):
    """The release cannot be installed; the message says why, for the technician."""


class Interrupted(Exception):
    """The network let the download down: tried again in the next window, not a failure of the
    release (it does not count against the rollout)."""


def _updater(paths: AgentPaths, backend_url: str, token: str, verify: bool, min_tls13: bool) -> Any:
    from tuf.ngclient import Updater

    from lanet.agent.update.fetcher import AgentFetcher

    root = updates_dir(paths)
    for folder in ("tuf", "packages", "partial"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    base = backend_url.rstrip("/") + "/agents/releases"
    return Updater(
        metadata_dir=str(root / "tuf"),
        metadata_base_url=base + "/metadata/",
        target_dir=str(root / "packages"),
        target_base_url=base + "/targets/",
        fetcher=AgentFetcher(
            token,
            verify=verify,
            ca_bundle=ca_bundle_of(paths),
            min_tls13=min_tls13,
            partial_dir=root / "partial",
        ),
        bootstrap=TRUSTED_ROOT.read_bytes(),
    )


def _checked(info: Any, target: str, *, version: str | None, platform: str) -> dict[str, Any]:
    if info is None:
        raise Refused(f"{target} is not in the signed release metadata")
    custom = info.custom if isinstance(info.custom, dict) else {}
    if custom.get("platform") != platform:
        raise Refused(f"{target} is signed for {custom.get('platform')!r}, not for this {platform} install")
    if version is not None and custom.get("version") != version:
        raise Refused(f"{target} is signed as version {custom.get('version')!r}, not {version}")
    return custom


def stage(
    paths: AgentPaths, store: Store, offer: dict[str, Any], backend_url: str, verify: bool
) -> dict[str, Path]:
    """Verify and download the offered package and the way back; returns both paths."""
    try:
        from tuf.api import exceptions as tuf_errors
    except ImportError:
        raise Refused(
            "this package does not carry the update framework (tuf): install a newer package by hand"
        ) from None

    platform = package_platform()
    if platform is None:
        raise Refused(UNSUPPORTED)
    if not TRUSTED_ROOT.exists():
        raise Refused(
            "this package carries no trusted release root (it was built without LANET_TRUSTED_ROOT)"
        )
    creds = credentials.load(store)
    if creds is None:
        raise Refused("this agent is not registered")
    running = lanet.__version__
    try:
        updater = _updater(paths, backend_url, creds.agent_token, verify, bool(store.get("min_tls13", True)))
        updater.refresh()
        info = updater.get_targetinfo(offer["target"])
        custom = _checked(info, offer["target"], version=None, platform=platform)
        version = str(custom.get("version"))
        if version != offer["version"]:
            raise Refused(f"the server offered {offer['version']} but the signed target is {version}")
        if not is_newer(version, running) and not custom.get("rollback"):
            raise Refused(f"{version} is not newer than {running} and was not signed as a rollback")
        staged = {"new": Path(updater.find_cached_target(info) or updater.download_target(info))}
        if offer.get("previous_target"):
            previous = updater.get_targetinfo(offer["previous_target"])
            _checked(previous, offer["previous_target"], version=running, platform=platform)
            staged["previous"] = Path(
                updater.find_cached_target(previous) or updater.download_target(previous)
            )
    except tuf_errors.RepositoryError as exc:
        raise Refused(f"the release metadata was refused ({type(exc).__name__}): {exc}") from None
    except (tuf_errors.DownloadError, OSError) as exc:
        raise Interrupted(f"the download was interrupted ({type(exc).__name__}): {exc}") from None
    if "previous" not in staged:
        kept = store.get(INSTALLED_PACKAGE)
        if not kept or not Path(kept).exists():
            raise Refused(
                f"the package of the running version {running} is not in the release repository: no way back"
            )
        staged["previous"] = Path(kept)
    shutil.rmtree(updates_dir(paths) / "partial", ignore_errors=True)
    return staged


def start_installer(paths: AgentPaths, home: str | None) -> None:
    """Hand the staged release to the installer, detached: it outlives this worker and the service."""
    location = ["--home", home] if home else []
    python = sys.executable
    if package_platform() == "windows-x64":
        root = bundle_root()
        if root is not None and not home:
            location = ["--install-root", str(root)]
        # The MSI replaces bin\, which this very runtime runs from: the installer runs from a copy.
        python = str(windows_runner(paths, root or paths.config_dir.parent))
    detach(
        [
            python,
            "-m",
            "lanet.agent.update.install",
            *location,
            "--service-pid",
            str(os.getppid()),
            "--wait-pid",
            str(os.getpid()),
        ],
        paths.logs_dir / "update.log",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanet-agent-update")
    parser.add_argument("--home")
    args = parser.parse_args(argv)
    paths = AgentPaths.resolve(args.home)
    config, store = open_worker("update", paths)
    try:
        offer = store.get(OFFER)
        asset_id = config.agent.asset_id
        if not offer or not asset_id:
            log.info("nothing to update")
            return 0
        report(store, asset_id, offer["version"], "downloading")
        try:
            staged = stage(paths, store, offer, config.backend.url, config.security.verify_ssl)
        except Refused as exc:
            log.warning("release %s refused: %s", offer["version"], exc)
            report(store, asset_id, offer["version"], "failed", str(exc))
            return 1
        except Interrupted as exc:
            log.warning("release %s: %s; trying again in the next window", offer["version"], exc)
            report(store, asset_id, offer["version"], "downloading", f"{exc}; tried again in the next window")
            return 1
        store.put(
            STAGED,
            {
                "version": offer["version"],
                "from_version": lanet.__version__,
                **{k: str(v) for k, v in staged.items()},
            },
        )
        report(store, asset_id, offer["version"], "staged")
        log.info("release %s staged: %s", offer["version"], staged["new"])
        start_installer(paths, args.home)
        return 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
