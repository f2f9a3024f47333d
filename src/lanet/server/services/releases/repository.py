"""The release repository: TUF metadata and the packages it signs, under ``data_dir/releases``.

The four TUF roles split trust the way Fleet's orbit and the TUF specification do:

- **root** and **targets** are the MSP's offline release keys. They live wherever the operator keeps
  them (a folder on a USB stick, encrypted with a passphrase) and never on the server; the command
  line reads them only to publish a release or rotate a key. An agent installs only what the
  targets key signed, so a compromised backend (its database and every key it holds) cannot make
  it install anything else.
- **snapshot** and **timestamp** are online: the server holds them and re-signs on its own, so
  metadata stays fresh. Whoever steals them can withhold new releases (keep serving the old ones),
  never sign one, and never make an agent go back to metadata older than it has seen (TUF's
  rollback checks); a copy replayed without them expires within a day (the freeze check). A lost
  or leaked online key is replaced by ``rotate_online`` with a new root version signed by the
  offline root key: agents follow the chain of root versions by themselves.

Consistent snapshots: metadata is served as ``N.targets.json`` / ``N.snapshot.json`` and each
package as ``<sha256>.<name>``, so a repository being updated never serves a mix of two versions.
Files are written first, ``timestamp.json`` last (an atomic replace), under an exclusive lock.
"""

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from lanet.protocol.versions import version_key

ONLINE_ROLES = ("snapshot", "timestamp")
OFFLINE_ROLES = ("root", "targets")
EXPIRY = {
    "root": timedelta(days=365),
    "targets": timedelta(days=365),
    "snapshot": timedelta(days=7),
    "timestamp": timedelta(days=1),
}
#: The maintenance loop warns this long before an offline role expires.
OFFLINE_WARNING = timedelta(days=30)
#: An online role is re-signed once less than this is left of its life.
RESIGN_BEFORE = {"snapshot": timedelta(days=3), "timestamp": timedelta(hours=12)}
_METADATA_NAME = re.compile(r"^(?:[1-9][0-9]{0,8}\.)?(?:root|snapshot|targets|timestamp)\.json$")
_TARGET_NAME = re.compile(r"^[0-9a-f]{64}\.[A-Za-z0-9][A-Za-z0-9._+~-]{0,126}$")
_SERIALIZER = JSONSerializer(compact=False)


class RepositoryError(Exception):
    """What the operator did wrong or must do first, in words."""


@dataclass(frozen=True)
class Published:
    target: str
    length: int
    sha256: str


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _signer(private: Ed25519PrivateKey) -> CryptoSigner:
    return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))


class OfflineKeys:
    """The MSP's release keys in a folder of its own: ``root.pem`` and ``targets.pem``, PKCS#8
    encrypted with the passphrase (``LANET_RELEASE_PASSPHRASE`` or asked for)."""

    def __init__(self, folder: Path, passphrase: str) -> None:
        if len(passphrase) < 12:
            raise RepositoryError("the release key passphrase must be at least 12 characters")
        self.folder = folder
        self._passphrase = passphrase.encode()

    def path(self, role: str) -> Path:
        return self.folder / f"{role}.pem"

    def create(self, role: str) -> CryptoSigner:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(self._passphrase)
        )
        path = self.path(role)
        if path.exists():
            # The key it replaces stays beside it until the operator deletes it.
            stamp = _now().strftime("%Y%m%dT%H%M%SZ")
            os.replace(path, path.with_name(f"{role}.{stamp}.pem"))
        _write_private(path, pem)
        return _signer(private)

    def signer(self, role: str) -> CryptoSigner:
        path = self.path(role)
        if not path.exists():
            raise RepositoryError(f"no {role} key in {self.folder} (the offline release key folder)")
        try:
            private = load_pem_private_key(path.read_bytes(), self._passphrase)
        except (ValueError, TypeError):
            raise RepositoryError(
                f"the {role} key in {self.folder} does not open with that passphrase"
            ) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise RepositoryError(f"{path} is not an Ed25519 key")
        return _signer(private)


class ReleaseRepository:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.metadata_dir = folder / "metadata"
        self.targets_dir = folder / "targets"
        self.online_dir = folder / "online"

    # --- reading -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.metadata_dir / "timestamp.json").exists()

    def metadata_file(self, name: str) -> Path | None:
        """The file an agent asks for by name, or None (a name that is not metadata)."""
        if not _METADATA_NAME.match(name):
            return None
        path = self.metadata_dir / name
        return path if path.is_file() else None

    def target_file(self, platform: str, name: str) -> Path | None:
        if platform not in ("windows-x64", "linux-deb") or not _TARGET_NAME.match(name):
            return None
        path = self.targets_dir / platform / name
        return path if path.is_file() else None

    def root_bytes(self, version: int | None = None) -> bytes:
        """A root version's file, exactly as signed (the newest by default): what packages embed."""
        number = version or self._current("root").signed.version
        return (self.metadata_dir / f"{number}.root.json").read_bytes()

    def _current(self, role: str) -> Metadata[Any]:
        if role == "timestamp":
            return Metadata.from_file(str(self.metadata_dir / "timestamp.json"))
        versions = [
            int(p.name.split(".", 1)[0])
            for p in self.metadata_dir.glob(f"*.{role}.json")
            if p.name[0].isdigit()
        ]
        if not versions:
            raise RepositoryError("there is no release repository yet: run 'lanet-server releases keygen'")
        return Metadata.from_file(str(self.metadata_dir / f"{max(versions)}.{role}.json"))

    def expiries(self) -> dict[str, datetime]:
        return {role: self._current(role).signed.expires for role in (*OFFLINE_ROLES, *ONLINE_ROLES)}

    def expiring_offline(self, now: datetime | None = None) -> dict[str, timedelta]:
        """Offline roles within a month of expiring (only the offline keys can re-sign them)."""
        now = now or _now()
        if not self.exists():
            return {}
        left = {role: self._current(role).signed.expires - now for role in OFFLINE_ROLES}
        return {role: delta for role, delta in left.items() if delta < OFFLINE_WARNING}

    def targets(self) -> dict[str, TargetFile]:
        targets: Targets = self._current("targets").signed
        return dict(targets.targets)

    # --- writing -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.folder / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _online(self, role: str) -> CryptoSigner:
        path = self.online_dir / f"{role}.pem"
        private = load_pem_private_key(path.read_bytes(), None)
        if not isinstance(private, Ed25519PrivateKey):
            raise RepositoryError(f"{path} is not an Ed25519 key")
        return _signer(private)

    def _new_online(self, role: str) -> CryptoSigner:
        self.online_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = Ed25519PrivateKey.generate()
        _write_private(
            self.online_dir / f"{role}.pem",
            private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        )
        return _signer(private)

    def _save(self, metadata: Metadata[Any], *signers: CryptoSigner) -> None:
        metadata.signatures.clear()
        for signer in signers:
            metadata.sign(signer, append=True)
        role = metadata.signed.type
        name = "timestamp.json" if role == "timestamp" else f"{metadata.signed.version}.{role}.json"
        _write_public(self.metadata_dir / name, metadata.to_bytes(_SERIALIZER))

    def _snapshot_and_timestamp(self, now: datetime, *, new_snapshot: bool = True) -> None:
        targets_version = self._current("targets").signed.version
        if new_snapshot:
            previous = (
                self._current("snapshot").signed.version
                if any(self.metadata_dir.glob("*.snapshot.json"))
                else 0
            )
            snapshot = Metadata(
                Snapshot(
                    version=previous + 1,
                    expires=now + EXPIRY["snapshot"],
                    meta={"targets.json": MetaFile(targets_version)},
                )
            )
            self._save(snapshot, self._online("snapshot"))
        snapshot_version = self._current("snapshot").signed.version
        previous_ts = (
            self._current("timestamp").signed.version
            if (self.metadata_dir / "timestamp.json").exists()
            else 0
        )
        timestamp = Metadata(
            Timestamp(
                version=previous_ts + 1,
                expires=now + EXPIRY["timestamp"],
                snapshot_meta=MetaFile(snapshot_version),
            )
        )
        self._save(timestamp, self._online("timestamp"))

    def keygen(self, offline: OfflineKeys, now: datetime | None = None) -> None:
        """Make the four keys and the first version of each role."""
        now = now or _now()
        with self._locked():
            if any(self.metadata_dir.glob("*.root.json")):
                raise RepositoryError(
                    f"a release repository exists already in {self.folder}: rotate its keys instead"
                )
            if offline.path("root").exists() or offline.path("targets").exists():
                raise RepositoryError(f"{offline.folder} holds release keys already: use another folder")
            self.metadata_dir.mkdir(parents=True, exist_ok=True)
            (self.targets_dir).mkdir(parents=True, exist_ok=True)
            root_signer, targets_signer = offline.create("root"), offline.create("targets")
            online = {role: self._new_online(role) for role in ONLINE_ROLES}
            root = Metadata(Root(expires=now + EXPIRY["root"]))
            root.signed.add_key(root_signer.public_key, "root")
            root.signed.add_key(targets_signer.public_key, "targets")
            for role, signer in online.items():
                root.signed.add_key(signer.public_key, role)
            self._save(root, root_signer)
            self._save(Metadata(Targets(expires=now + EXPIRY["targets"])), targets_signer)
            self._snapshot_and_timestamp(now)

    def publish(
        self,
        package: Path,
        platform: str,
        version: str,
        *,
        rollback: bool,
        offline: OfflineKeys,
        now: datetime | None = None,
    ) -> Published:
        """Add a package, signed with the offline targets key, as ``<platform>/<file name>``."""
        now = now or _now()
        version_key(version)  # raises ValueError naming the problem
        if not package.is_file():
            raise RepositoryError(f"{package} is not a file")
        targets_signer = offline.signer("targets")
        with self._locked():
            current: Metadata[Targets] = self._current("targets")
            if targets_signer.public_key.keyid not in self._current("root").signed.roles["targets"].keyids:
                raise RepositoryError("that targets key is not the one the repository's root trusts")
            path = f"{platform}/{package.name}"
            for existing in current.signed.targets.values():
                custom = existing.custom or {}
                if existing.path == path or (
                    custom.get("version") == version and custom.get("platform") == platform
                ):
                    raise RepositoryError(f"{platform} {version} is published already ({existing.path})")
            target = TargetFile.from_file(path, str(package), ["sha256"])
            target.unrecognized_fields["custom"] = {
                "version": version,
                "platform": platform,
                "rollback": rollback,
            }
            folder = self.targets_dir / platform
            folder.mkdir(parents=True, exist_ok=True)
            digest = target.hashes["sha256"]
            stored = folder / f"{digest}.{package.name}"
            tmp = stored.with_name(f".{stored.name}.tmp")
            shutil.copyfile(package, tmp)
            os.replace(tmp, stored)
            current.signed.targets[path] = target
            current.signed.version += 1
            current.signed.expires = now + EXPIRY["targets"]
            self._save(current, targets_signer)
            self._snapshot_and_timestamp(now)
        return Published(path, target.length, digest)

    def refresh_online(self, now: datetime | None = None) -> list[str]:
        """Re-sign what is about to expire (the maintenance loop calls this); the roles re-signed."""
        now = now or _now()
        if not self.exists():
            return []
        with self._locked():
            snapshot_due = self._current("snapshot").signed.expires - now < RESIGN_BEFORE["snapshot"]
            timestamp_due = self._current("timestamp").signed.expires - now < RESIGN_BEFORE["timestamp"]
            if not (snapshot_due or timestamp_due):
                return []
            self._snapshot_and_timestamp(now, new_snapshot=snapshot_due)
        return ["snapshot", "timestamp"] if snapshot_due else ["timestamp"]

    def _new_root(self, now: datetime) -> Metadata[Root]:
        root: Metadata[Root] = self._current("root")
        root.signed.version += 1
        root.signed.expires = now + EXPIRY["root"]
        return root

    def rotate_online(self, offline: OfflineKeys, now: datetime | None = None) -> int:
        """New snapshot and timestamp keys, trusted by a new root version; returns that version."""
        now = now or _now()
        root_signer = offline.signer("root")
        with self._locked():
            root = self._new_root(now)
            for role in ONLINE_ROLES:
                for keyid in list(root.signed.roles[role].keyids):
                    root.signed.revoke_key(keyid, role)
                root.signed.add_key(self._new_online(role).public_key, role)
            self._save(root, root_signer)
            self._snapshot_and_timestamp(now)
            return root.signed.version

    def resign_offline(self, offline: OfflineKeys, now: datetime | None = None) -> dict[str, datetime]:
        """Push the offline roles' expiry a year on, with the same keys: a new root version (agents
        fetch root versions by number, so an existing one re-signed would never reach them) and a
        new targets version. Returns the new expiries."""
        now = now or _now()
        root_signer, targets_signer = offline.signer("root"), offline.signer("targets")
        with self._locked():
            root = self._new_root(now)
            if targets_signer.public_key.keyid not in root.signed.roles["targets"].keyids:
                raise RepositoryError("that targets key is not the one the repository's root trusts")
            self._save(root, root_signer)
            targets: Metadata[Targets] = self._current("targets")
            targets.signed.version += 1
            targets.signed.expires = now + EXPIRY["targets"]
            self._save(targets, targets_signer)
            self._snapshot_and_timestamp(now)
        return {role: self._current(role).signed.expires for role in OFFLINE_ROLES}

    def rotate_offline(self, role: str, offline: OfflineKeys, now: datetime | None = None) -> int:
        """A new root or targets key in ``offline``'s folder. A new root version is signed by the old
        root key and the new one, so agents that trust the old one accept it."""
        if role not in OFFLINE_ROLES:
            raise RepositoryError(f"the offline keys are {' and '.join(OFFLINE_ROLES)}, not {role}")
        now = now or _now()
        old_root = offline.signer("root")
        with self._locked():
            root = self._new_root(now)
            for keyid in list(root.signed.roles[role].keyids):
                root.signed.revoke_key(keyid, role)
            new_signer = offline.create(role)
            root.signed.add_key(new_signer.public_key, role)
            signers = [old_root, new_signer] if role == "root" else [old_root]
            self._save(root, *signers)
            if role == "targets":
                targets: Metadata[Targets] = self._current("targets")
                targets.signed.version += 1
                targets.signed.expires = now + EXPIRY["targets"]
                self._save(targets, new_signer)
            self._snapshot_and_timestamp(now)
            return root.signed.version
