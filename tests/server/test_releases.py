"""Signed releases: the repository the operator builds with the offline keys, a real TUF client
fetching from a live backend over HTTP, and rollouts offered in the heartbeat's answer.

The client is python-tuf's ``Updater`` with the agent's own fetcher (its JWT, resumable packages),
so what is checked here is what an agent will refuse: a tampered package, a wrong key, expired or
replayed metadata.
"""

import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from tuf.api import exceptions as tuf_errors
from tuf.ngclient import Updater

from lanet.agent.update.fetcher import AgentFetcher
from lanet.server.cli import main as server_cli
from lanet.server.models import AssetUpdate, AuditEntry, Rollout
from lanet.server.services.releases.repository import OfflineKeys, ReleaseRepository
from lanet.server.services.releases.rollouts import in_ring, ring
from tests.conftest import LiveServer, start_server
from tests.server.helpers import HEARTBEAT, bearer, heartbeat_body, register

PASSPHRASE = "correct horse battery staple"
PACKAGE = "lanet-agent_0.2.0_all.deb"


@pytest.fixture
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANET_RELEASE_PASSPHRASE", PASSPHRASE)
    return tmp_path / "usb"


def _publish(package: Path, version: str, keys: Path) -> int:
    return server_cli(
        [
            "releases",
            "publish",
            str(package),
            "--version",
            version,
            "--platform",
            "linux-deb",
            "--keys",
            str(keys),
        ]
    )


def _package(folder: Path, name: str = PACKAGE, content: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if content is not None else os.urandom(200_000))
    return path


# --- the repository, from the command line --------------------------------------------------------
@pytest.fixture
def live(tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """A backend on SQLite with a release repository, and the CLI pointed at the same data."""
    data = tmp_path / "server"
    url = f"sqlite:///{data / 'lanet.db'}"
    server = start_server(data, url)
    for name in ("LANET_DATA_DIR", "LANET_DATABASE_URL", "LANET_SECRET_KEY"):
        monkeypatch.setenv(name, server.env[name])
    assert server_cli(["releases", "keygen", "--keys", str(keys_dir)]) == 0
    yield server
    server.stop()


def _agent(server: LiveServer, site: str = "CDMX") -> dict[str, Any]:
    created = server.cli("tokens", "create", "--client", "Cafe", "--site", site)
    token = created.stdout.strip().splitlines()[-1]
    from tests.server.helpers import register_body

    answer = requests.post(
        f"{server.url}/api/agents/register-with-token",
        json=register_body(token, machine_id=f"pc-{site}", serial_number=f"SN-{site}"),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def _updater(server: LiveServer, agent: dict[str, Any], home: Path, root: bytes | None = None) -> Updater:
    home.mkdir(parents=True, exist_ok=True)
    (home / "metadata").mkdir(exist_ok=True)
    (home / "targets").mkdir(exist_ok=True)
    trusted = (
        root
        if root is not None
        else (Path(server.env["LANET_DATA_DIR"]) / "releases/metadata/1.root.json").read_bytes()
    )
    return Updater(
        metadata_dir=str(home / "metadata"),
        metadata_base_url=f"{server.url}/api/agents/releases/metadata/",
        target_dir=str(home / "targets"),
        target_base_url=f"{server.url}/api/agents/releases/targets/",
        fetcher=AgentFetcher(agent["agent_token"], partial_dir=home / "partial"),
        bootstrap=trusted,
    )


def test_a_published_package_is_fetched_and_verified_by_a_tuf_client(
    live: LiveServer, keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _package(tmp_path / "build")
    assert _publish(package, "0.2.0", keys_dir) == 0
    assert "published linux-deb 0.2.0 as linux-deb/lanet-agent_0.2.0_all.deb" in capsys.readouterr().out
    # The trusted root the packages embed is the one keygen wrote beside the offline keys.
    assert (keys_dir / "trusted_root.json").read_bytes() == ReleaseRepository(
        Path(live.env["LANET_DATA_DIR"]) / "releases"
    ).root_bytes(1)
    assert sorted(p.name for p in keys_dir.glob("*.pem")) == ["root.pem", "targets.pem"]
    online = Path(live.env["LANET_DATA_DIR"]) / "releases/online"
    assert sorted(p.name for p in online.iterdir()) == ["snapshot.pem", "timestamp.pem"]
    assert oct(online.joinpath("timestamp.pem").stat().st_mode & 0o777) == "0o600"

    agent = _agent(live)
    updater = _updater(live, agent, tmp_path / "agent")
    updater.refresh()
    info = updater.get_targetinfo("linux-deb/" + PACKAGE)
    assert info is not None and info.custom == {
        "version": "0.2.0",
        "platform": "linux-deb",
        "rollback": False,
    }
    fetched = updater.download_target(info)
    assert Path(fetched).read_bytes() == package.read_bytes()
    # Without the agent's JWT nothing is served.
    anonymous = requests.get(f"{live.url}/api/agents/releases/metadata/timestamp.json", timeout=10)
    assert anonymous.status_code == 401


def test_a_download_cut_short_resumes_where_it_stopped(
    live: LiveServer, keys_dir: Path, tmp_path: Path
) -> None:
    package = _package(tmp_path / "build", content=os.urandom(1_500_000))
    assert _publish(package, "0.2.0", keys_dir) == 0
    agent = _agent(live)
    home = tmp_path / "agent"
    updater = _updater(live, agent, home)
    info = updater.get_targetinfo("linux-deb/" + PACKAGE)
    assert info is not None
    digest = info.hashes["sha256"]
    # An earlier attempt kept the first 600 kB.
    partial = home / "partial" / f"{digest}.{PACKAGE}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(package.read_bytes()[:600_000])
    fetched = updater.download_target(info)
    assert Path(fetched).read_bytes() == package.read_bytes()
    assert updater._fetcher.resumed_from == 600_000  # only the rest came over the network
    # Kept bytes that are not the package's are caught by TUF's hash check, never installed.
    partial.write_bytes(b"\0" * 600_000)
    (home / "targets").joinpath(Path(fetched).name).unlink()
    with pytest.raises(tuf_errors.LengthOrHashMismatchError):
        updater.download_target(info)


def test_tampered_package_wrong_key_expired_and_replayed_metadata_are_refused(
    live: LiveServer, keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo_dir = Path(live.env["LANET_DATA_DIR"]) / "releases"
    package = _package(tmp_path / "build")
    publish = ["releases", "publish", str(package), "--version", "0.2.0", "--platform", "linux-deb"]
    # A key folder that is not the repository's: refused before anything is signed.
    other = tmp_path / "other-usb"
    ReleaseRepository(tmp_path / "other-repo").keygen(OfflineKeys(other, PASSPHRASE))
    assert server_cli([*publish, "--keys", str(other)]) == 2
    assert "not the one the repository's root trusts" in capsys.readouterr().err
    os.environ["LANET_RELEASE_PASSPHRASE"] = "not the passphrase at all"
    assert server_cli([*publish, "--keys", str(keys_dir)]) == 2
    assert "does not open with that passphrase" in capsys.readouterr().err
    os.environ["LANET_RELEASE_PASSPHRASE"] = PASSPHRASE
    assert server_cli([*publish, "--keys", str(keys_dir)]) == 0

    agent = _agent(live)
    updater = _updater(live, agent, tmp_path / "a1")
    updater.refresh()
    info = updater.get_targetinfo("linux-deb/" + PACKAGE)
    assert info is not None

    # Tampered: the stored package changed after signing.
    stored = next((repo_dir / "targets/linux-deb").iterdir())
    original = stored.read_bytes()
    stored.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(tuf_errors.LengthOrHashMismatchError):
        updater.download_target(info)
    stored.write_bytes(original)

    # Replayed: an older timestamp served again after the agent saw a newer one (freeze attack).
    old_timestamp = (repo_dir / "metadata/timestamp.json").read_bytes()
    repository = ReleaseRepository(repo_dir)
    repository._snapshot_and_timestamp(datetime.now(UTC).replace(microsecond=0))
    fresh = _updater(live, agent, tmp_path / "a2")
    fresh.refresh()
    (repo_dir / "metadata/timestamp.json").write_bytes(old_timestamp)
    with pytest.raises(tuf_errors.BadVersionNumberError):
        _updater(live, agent, tmp_path / "a2").refresh()

    # Expired: metadata whose validity ended (an online key that stopped re-signing, or a frozen copy).
    repository._snapshot_and_timestamp(datetime.now(UTC).replace(microsecond=0) - timedelta(days=2))
    with pytest.raises(tuf_errors.ExpiredMetadataError):
        _updater(live, agent, tmp_path / "a3").refresh()
    # The maintenance pass re-signs what is about to expire.
    assert repository.refresh_online() == ["timestamp"]  # the snapshot still has five days
    _updater(live, agent, tmp_path / "a3").refresh()


def test_lost_online_keys_and_a_new_targets_key_reach_agents_that_trust_the_first_root(
    live: LiveServer, keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = _agent(live)
    first_root = (keys_dir / "trusted_root.json").read_bytes()
    _updater(live, agent, tmp_path / "a").refresh()
    assert server_cli(["releases", "rotate-key", "online", "--keys", str(keys_dir)]) == 0
    assert "root version 2" in capsys.readouterr().out
    assert server_cli(["releases", "rotate-key", "targets", "--keys", str(keys_dir)]) == 0
    assert server_cli(["releases", "rotate-key", "root", "--keys", str(keys_dir)]) == 0
    package = _package(tmp_path / "build")
    assert _publish(package, "0.2.0", keys_dir) == 0
    # An agent that only knows root v1 follows the chain (v2, v3, v4) and trusts the new keys.
    for home in ("a", "b"):
        updater = _updater(live, agent, tmp_path / home, root=first_root)
        updater.refresh()
        info = updater.get_targetinfo("linux-deb/" + PACKAGE)
        assert info is not None and Path(updater.download_target(info)).read_bytes() == package.read_bytes()
    # The replaced keys stay beside the new ones until the operator removes them.
    assert len(list(keys_dir.glob("targets.*.pem"))) == 1 and len(list(keys_dir.glob("root.*.pem"))) == 1


def test_offline_metadata_is_re_signed_before_it_expires_and_agents_follow(
    live: LiveServer, keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lanet.server.services.releases.repository import OfflineKeys

    agent = _agent(live)
    first_root = (keys_dir / "trusted_root.json").read_bytes()
    package = _package(tmp_path / "build")
    assert _publish(package, "0.2.0", keys_dir) == 0
    repository = ReleaseRepository(Path(live.env["LANET_DATA_DIR"]) / "releases")
    in_eleven_months = datetime.now(UTC) + timedelta(days=340)
    assert set(repository.expiring_offline(in_eleven_months)) == {"root", "targets"}
    capsys.readouterr()
    assert server_cli(["releases", "resign", "--keys", str(keys_dir)]) == 0
    said = capsys.readouterr().out
    assert "root re-signed with the same key" in said and "targets re-signed with the same key" in said
    # Eleven months on, the operator re-signs again: a year from then, nothing warns.
    expiries = repository.resign_offline(OfflineKeys(keys_dir, PASSPHRASE), now=in_eleven_months)
    assert all(e > in_eleven_months + timedelta(days=360) for e in expiries.values())
    assert repository.expiring_offline(in_eleven_months + timedelta(days=1)) == {}
    # An agent that only knows root v1 follows v2 and v3 and still verifies the package.
    updater = _updater(live, agent, tmp_path / "agent", root=first_root)
    updater.refresh()
    info = updater.get_targetinfo("linux-deb/" + PACKAGE)
    assert info is not None and Path(updater.download_target(info)).read_bytes() == package.read_bytes()
    root = json.loads((tmp_path / "agent" / "metadata" / "root.json").read_bytes())
    assert root["signed"]["version"] == 3


# --- rollouts in the heartbeat ------------------------------------------------------------------
@pytest.fixture
def fleet(
    app: Flask,
    client: FlaskClient,
    new_token: Callable[..., str],
    keys_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """Two agents of one client in two sites, versions 0.2.0 and 0.3.0 (a rollback) published."""
    settings = app.extensions["lanet"].settings
    monkeypatch.setenv("LANET_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LANET_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LANET_SECRET_KEY", settings.secret_key)
    app.extensions["lanet"].rollouts.seconds = 0  # every heartbeat reads the rollouts afresh
    north = register(
        client, new_token(client_name="Cafe", site_name="Norte"), machine_id="n", serial_number="N"
    )
    south = register(
        client, new_token(client_name="Cafe", site_name="Sur"), machine_id="s", serial_number="S"
    )
    assert server_cli(["releases", "keygen", "--keys", str(keys_dir)]) == 0
    for version, extra in (("0.2.0", []), ("0.1.5", ["--rollback"])):
        package = _package(tmp_path / version, name=f"lanet-agent_{version}_all.deb")
        command = ["releases", "publish", str(package), "--version", version, "--platform", "linux-deb"]
        assert server_cli([*command, *extra, "--keys", str(keys_dir)]) == 0
    return {"north": north, "south": south}


def _offer(
    client: FlaskClient, agent: dict[str, Any], version: str = "0.1.0", platform: str | None = "linux-deb"
) -> Any:
    body = heartbeat_body(agent["asset_id"], agent_version=version, update_platform=platform)
    answer = client.post(HEARTBEAT, json=body, headers=bearer(agent["agent_token"]))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["data"].get("update")


def test_a_rollout_reaches_its_site_only_newer_versions_and_stops_when_paused(
    client: FlaskClient, fleet: dict[str, Any], db: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    north, south = fleet["north"], fleet["south"]
    assert _offer(client, north) is None  # published is not offered
    assert (
        server_cli(
            ["releases", "rollout", "0.2.0", "--percent", "100", "--client", "Cafe", "--site", "Norte"]
        )
        == 0
    )
    assert "100 % of Cafe / Norte (active)" in capsys.readouterr().out
    offer = _offer(client, north)
    assert offer == {
        "version": "0.2.0",
        "platform": "linux-deb",
        "target": "linux-deb/lanet-agent_0.2.0_all.deb",
        "rollback": False,
        "now": False,
        "previous_target": None,  # 0.1.0 is not published: the agent must keep its own way back
    }
    assert _offer(client, south) is None
    assert _offer(client, north, version="0.2.0") is None  # already runs it
    assert _offer(client, north, version="0.3.0") is None  # never a downgrade unless signed as one
    assert _offer(client, north, platform=None) is None  # a development install
    assert _offer(client, north, platform="windows-x64") is None
    # The first offer is recorded, so status lists the asset.
    assert server_cli(["releases", "status", "0.2.0"]) == 0
    out = capsys.readouterr().out
    assert "offered" in out and "0.1.0" in out
    assert server_cli(["releases", "pause", "0.2.0"]) == 0
    assert _offer(client, north) is None
    assert server_cli(["releases", "resume", "0.2.0"]) == 0
    assert _offer(client, north)["version"] == "0.2.0"
    # A release signed as a rollback is offered to newer agents, and wins.
    assert server_cli(["releases", "rollout", "0.1.5", "--percent", "100", "--now"]) == 0
    offer = _offer(client, south, version="0.2.0")
    assert offer["version"] == "0.1.5" and offer["rollback"] and offer["now"]
    assert offer["previous_target"] == "linux-deb/lanet-agent_0.2.0_all.deb"  # the way back
    with db.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("release.publish") == 2 and "release.rollout" in actions
    assert "release.pause" in actions and "release.resume" in actions


def _report(
    client: FlaskClient,
    agent: dict[str, Any],
    state: str,
    report_id: str,
    reason: str = "",
    at: str | None = None,
) -> Any:
    body = {
        "asset_id": agent["asset_id"],
        "report_id": report_id,
        "version": "0.2.0",
        "state": state,
        "reason": reason,
        "running_version": "0.1.0",
        "at": at or datetime.now(UTC).isoformat(),
    }
    return client.post("/api/agents/update-status", json=body, headers=bearer(agent["agent_token"]))


def test_failures_past_the_threshold_pause_the_rollout_with_the_reason(
    client: FlaskClient, fleet: dict[str, Any], db: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    north, south = fleet["north"], fleet["south"]
    assert server_cli(["releases", "rollout", "0.2.0", "--percent", "100"]) == 0
    assert _offer(client, north)["version"] == "0.2.0"
    assert _offer(client, south)["version"] == "0.2.0"
    first, first_at = "0b7f6a0e-4c31-4f0e-9d7e-000000000001", datetime.now(UTC).isoformat()
    answer = _report(client, north, "downloading", first, at=first_at)
    assert answer.get_json()["data"] == {"state": "downloading"}
    assert _report(client, north, "healthy", "0b7f6a0e-4c31-4f0e-9d7e-000000000002").status_code == 200
    assert _offer(client, north) is None  # done with it
    reason = "the new version did not heartbeat within 600 s; 0.1.0 reinstalled"
    rolled = _report(client, south, "rolled_back", "0b7f6a0e-4c31-4f0e-9d7e-000000000003", reason)
    assert rolled.status_code == 200
    with db.session() as session:
        rollout = session.scalars(select(Rollout)).one()
        assert rollout.paused
        assert rollout.paused_reason == "1 of 2 assets failed to update (50.0 %), over the 2 % threshold"
        update = session.get(AssetUpdate, (south["asset_id"], rollout.release_id))
        assert update.state == "rolled_back" and update.reason == reason
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert "agent.update_healthy" in actions and "agent.update_rolled_back" in actions
    assert "release.auto_pause" in actions
    # Replayed from the outbox after the outcome: acknowledged, nothing changes.
    replayed = _report(client, north, "downloading", first, at=first_at)
    assert replayed.get_json()["data"] == {"state": "healthy"}
    assert server_cli(["releases", "status", "0.2.0", "--json"]) == 0
    status = capsys.readouterr().out
    assert "failed to update (50.0 %)" in status and reason in status
    # A report of a version that does not exist names the problem.
    unknown = client.post(
        "/api/agents/update-status",
        json={
            "asset_id": north["asset_id"],
            "report_id": "0b7f6a0e-4c31-4f0e-9d7e-000000000005",
            "version": "9.9.9",
            "state": "healthy",
            "at": datetime.now(UTC).isoformat(),
        },
        headers=bearer(north["agent_token"]),
    )
    assert unknown.status_code == 404 and "9.9.9" in unknown.get_json()["error"]


def test_rings_are_stable_and_widening_only_adds_machines() -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(2000)]
    assert [ring(i) for i in ids] == [ring(i) for i in ids]
    five = {i for i in ids if in_ring(i, 5)}
    twenty = {i for i in ids if in_ring(i, 20)}
    assert five < twenty and 50 < len(five) < 150 and 300 < len(twenty) < 500
    assert not any(in_ring(i, 0) for i in ids) and all(in_ring(i, 100) for i in ids)


def test_bad_rollout_requests_are_refused_with_the_reason(
    fleet: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path, keys_dir: Path
) -> None:
    cases = [
        (["releases", "rollout", "0.2.0", "--percent", "101"], "between 0 and 100"),
        (["releases", "rollout", "7.0.0", "--percent", "5"], "no release 7.0.0"),
        (["releases", "rollout", "0.2.0", "--percent", "5", "--site", "Norte"], "give --client too"),
        (["releases", "rollout", "0.2.0", "--percent", "5", "--client", "Nadie"], "no client named 'Nadie'"),
        (
            [
                "releases",
                "publish",
                str(_package(tmp_path / "x")),
                "--version",
                "0.2",
                "--platform",
                "linux-deb",
                "--keys",
                str(keys_dir),
            ],
            "is not a version",
        ),
        (
            [
                "releases",
                "publish",
                str(_package(tmp_path / "y", name="other.deb")),
                "--version",
                "0.2.0",
                "--platform",
                "linux-deb",
                "--keys",
                str(keys_dir),
            ],
            "published already",
        ),
    ]
    for argv, message in cases:
        assert server_cli(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    shutil.rmtree(tmp_path / "x")


def test_technicians_roll_out_pause_and_follow_a_release_through_the_api(
    client: FlaskClient, fleet: dict[str, Any], db: Any
) -> None:
    from lanet.server.services.apikeys import create_key
    from lanet.server.services.credentials import Keys
    from tests.conftest import SECRET

    with db.session() as session:
        key = create_key(session, Keys(SECRET), "helpdesk", "cli:admin")[1]
    auth = bearer(key)
    assert client.get("/api/admin/releases").status_code == 401
    listed = client.get("/api/admin/releases", headers=auth).get_json()["data"]["items"]
    assert [(r["version"], r["rollback"]) for r in listed] == [("0.2.0", False), ("0.1.5", True)]
    started = client.post(
        "/api/admin/releases/0.2.0/rollout",
        json={"percent": 100, "client": "Cafe", "site": "Sur"},
        headers=auth,
    )
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["data"]["rollouts"][0]["summary"] == "100 % of Cafe / Sur (active)"
    assert _offer(client, fleet["south"])["version"] == "0.2.0"
    paused = client.post(
        "/api/admin/releases/0.2.0/pause", json={"reason": "esperando al cliente"}, headers=auth
    )
    assert paused.get_json()["data"]["rollouts"][0]["paused_reason"] == "esperando al cliente"
    assert _offer(client, fleet["south"]) is None
    assert client.post("/api/admin/releases/0.2.0/resume", headers=auth).status_code == 200
    status = client.get("/api/admin/releases/0.2.0", headers=auth).get_json()["data"]
    assert [(a["site"], a["state"]) for a in status["assets"]] == [("Sur", "offered")]
    bad = client.post("/api/admin/releases/0.2.0/rollout", json={"percent": 120}, headers=auth)
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "percent"
    missing = client.post("/api/admin/releases/5.0.0/rollout", json={"percent": 5}, headers=auth)
    assert missing.status_code == 404 and "no release 5.0.0" in missing.get_json()["error"]
    with db.session() as session:
        actors = {
            e.actor for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("release.%")))
        }
    assert "apikey:helpdesk" in actors


def test_technicians_follow_and_roll_out_releases_in_the_portal(
    app: Flask, client: FlaskClient, fleet: dict[str, Any], db: Any
) -> None:
    from lanet.server.services.users import create_user
    from tests.server.portal_world import PASSWORD, Portal

    with db.session() as session:
        create_user(session, email="tec@lanet.mx", role="technician", password=PASSWORD, actor="test")
    portal = Portal(app.test_client())
    assert portal.login("tec@lanet.mx").status_code == 302
    listing = portal.get("/portal/releases").get_data(as_text=True)
    assert "Versiones del agente" in listing and "0.2.0" in listing and "firmada como reversión" in listing
    assert "Sin desplegar" in listing

    # Bad input: the page says what is wrong, in Spanish, and nothing is rolled out.
    for form, problem in (
        ({"percent": "120"}, "Porcentaje: un número entero de 0 a 100."),
        ({"percent": "10", "site": "Norte"}, "escriba también el cliente"),
        ({"percent": "10", "client": "Nadie"}, "No existe ese cliente."),
        ({"percent": "10", "client": "Cafe", "site": "Oeste"}, "no tiene un sitio con ese nombre"),
        ({"percent": "10", "threshold": "abc"}, "Umbral de fallas: un porcentaje de 0 a 100."),
    ):
        refused = portal.post("/portal/releases/0.2.0/rollout", form)
        assert refused.status_code == 422 and problem in refused.get_data(as_text=True), form
    with db.session() as session:
        assert session.scalars(select(Rollout)).first() is None
    assert portal.post("/portal/releases/9.9.9/rollout", {"percent": "5"}).status_code == 404

    done = portal.post(
        "/portal/releases/0.2.0/rollout", {"percent": "100", "client": "Cafe", "site": "Norte", "now": "1"}
    )
    assert done.status_code == 302 and "notice=rollout_saved" in done.headers["Location"]
    offer = _offer(client, fleet["north"])
    assert offer is not None and offer["version"] == "0.2.0" and offer["now"] is True
    assert _offer(client, fleet["south"]) is None
    assert (
        _report(
            client, fleet["north"], "failed", "0b7f6a0e-4c31-4f0e-9d7e-0000000000aa", "dpkg -i failed: broken"
        ).status_code
        == 200
    )
    page = portal.get("/portal/releases/0.2.0").get_data(as_text=True)
    assert "100 % de Cafe / Norte · de inmediato" in page
    assert "Falló" in page and "dpkg -i failed: broken" in page and "En pausa" in page  # 1 of 1 > 2 %

    assert portal.post("/portal/releases/0.2.0/resume").status_code == 302
    assert "Activo" in portal.get("/portal/releases/0.2.0").get_data(as_text=True)
    assert portal.post("/portal/releases/0.2.0/pause", {"reason": "esperando al cliente"}).status_code == 302
    assert "esperando al cliente" in portal.get("/portal/releases/0.2.0").get_data(as_text=True)
    assert portal.get("/portal/language?lang=en&next=/portal/releases/0.2.0").status_code == 302
    english = portal.get("/portal/releases/0.2.0").get_data(as_text=True)
    assert "Agent versions" in english and "Failed" in english and "Versiones" not in english
    with db.session() as session:
        actors = {
            (e.action, e.actor)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("release.%")))
        }
    assert {("release.rollout", "user:tec@lanet.mx"), ("release.pause", "user:tec@lanet.mx")} <= actors
