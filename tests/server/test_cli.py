"""``lanet-server`` verbs, run in-process against both databases."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from lanet.protocol.tokens import validate_token_format
from lanet.server.cli import main
from lanet.server.db import Database
from lanet.server.models import AuditEntry, Client, Site
from tests.conftest import SECRET
from tests.server.helpers import register


@pytest.fixture
def cli(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.setenv("LANET_DATABASE_URL", database_url)
    monkeypatch.setenv("LANET_SECRET_KEY", SECRET)
    monkeypatch.setenv("LANET_DATA_DIR", str(tmp_path))

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_tokens_create_prints_the_token_alone_on_the_last_line(
    cli: Callable[..., tuple[int, str, str]], db: Database
) -> None:
    code, out, _ = cli(
        "tokens",
        "create",
        "--client",
        "Café México",
        "--site",
        "CDMX",
        "--max-uses",
        "5",
        "--expires-days",
        "30",
    )
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert validate_token_format(token)
    code, out2, _ = cli("tokens", "create", "--client", "café méxico", "--site", "cdmx")
    assert out2.strip().splitlines()[-1] != token
    with db.session() as session:
        assert len(session.scalars(select(Client)).all()) == 1
        assert len(session.scalars(select(Site)).all()) == 1
        client = session.scalars(select(Client)).one()
        assert token.startswith(f"LANET-{client.code}-")
        assert [a.action for a in session.scalars(select(AuditEntry))] == ["token.create", "token.create"]


@pytest.mark.parametrize(("flag", "value"), [("--max-uses", "0"), ("--expires-days", "-1")])
def test_tokens_create_refuses_nonsense_limits(
    cli: Callable[..., tuple[int, str, str]], flag: str, value: str
) -> None:
    code, _, err = cli("tokens", "create", "--client", "A", "--site", "B", flag, value)
    assert code == 2 and "at least 1" in err


def test_tokens_list_masks_tokens_and_revoke_deactivates(cli: Callable[..., tuple[int, str, str]]) -> None:
    token = cli("tokens", "create", "--client", "Acme", "--site", "HQ")[1].strip().splitlines()[-1]
    code, out, _ = cli("tokens", "list")
    assert code == 0 and token not in out and token[:16] in out
    listed = json.loads(cli("tokens", "list", "--json")[1])
    assert listed[0]["state"] == "active" and listed[0]["client"] == "Acme"
    code, out, _ = cli("tokens", "revoke", token)
    assert code == 0 and "revoked" in out
    assert json.loads(cli("tokens", "list", "--json")[1])[0]["state"] == "inactive"
    code, out, _ = cli("tokens", "revoke", listed[0]["id"])
    assert code == 0 and "already inactive" in out
    code, _, err = cli("tokens", "revoke", "LANET-ZZZZ-ZZZZ-ZZZZZZ")
    assert code == 2 and "no token" in err


def test_assets_list_shows_registered_machines(
    cli: Callable[..., tuple[int, str, str]], client: FlaskClient, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token())
    code, out, _ = cli("assets", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows == [
        {
            "asset_id": agent["asset_id"],
            "computer_name": "DESKTOP-001",
            "client": "Cafe Mexico S.A. de C.V.",
            "site": "Oficina Principal CDMX",
            "agent_status": "registered",
            "last_seen": None,
            "replaces": None,
        }
    ]
    code, out, _ = cli("assets", "list")
    assert "DESKTOP-001" in out and "STATUS" in out


def test_config_set_validates_key_value_and_scope(
    cli: Callable[..., tuple[int, str, str]], client: FlaskClient, new_token: Callable[..., str], db: Database
) -> None:
    agent = register(client, new_token())
    code, out, _ = cli(
        "config", "set", "--scope", "asset", "--id", agent["asset_id"], "heartbeat_interval", "30"
    )
    assert code == 0 and "revision" in out
    code, _, err = cli(
        "config", "set", "--scope", "asset", "--id", agent["asset_id"], "heartbeat_interval", "4"
    )
    assert code == 2 and "heartbeat_interval" in err and "greater than or equal to 5" in err
    code, _, err = cli(
        "config", "set", "--scope", "client", "--id", "Cafe Mexico S.A. de C.V.", "colour", "red"
    )
    assert code == 2 and "unknown key 'colour'" in err and "log_level" in err
    code, _, err = cli("config", "set", "--scope", "site", "--id", "nope", "log_level", "DEBUG")
    assert code == 2 and "no site" in err
    code, _, _ = cli(
        "config", "set", "--scope", "client", "--id", "cafe mexico s.a. de c.v.", "log_level", "DEBUG"
    )
    assert code == 0
    code, out, _ = cli("config", "show", "--scope", "asset", "--id", agent["asset_id"])
    assert "heartbeat_interval" in out and "30" in out
    with db.session() as session:
        actions = [
            a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.action == "config.set"))
        ]
        assert actions == ["config.set", "config.set"]


def test_db_upgrade_creates_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LANET_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh' / 'x.db'}")
    monkeypatch.setenv("LANET_DATA_DIR", str(tmp_path))
    from alembic.script import ScriptDirectory

    from lanet.server.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert main(["db", "upgrade"]) == 0
    assert f"revision {head}" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == head
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_api_keys_create_prints_the_key_once_and_revoke_stops_it(
    cli: Callable[..., tuple[int, str, str]], db: Database
) -> None:
    code, out, _ = cli("api-keys", "create", "--name", "helpdesk")
    key = out.strip().splitlines()[-1]
    assert code == 0 and key.startswith("lak_")
    code, _, err = cli("api-keys", "create", "--name", "helpdesk")
    assert code == 2 and "exists already" in err
    assert cli("api-keys", "revoke", "helpdesk")[0] == 0
    code, _, err = cli("api-keys", "revoke", "nobody")
    assert code == 2 and "no api key" in err


def test_tickets_verbs_work_a_ticket_through(
    cli: Callable[..., tuple[int, str, str]], client: FlaskClient, new_token: Callable[..., str]
) -> None:
    agent = register(client, new_token())
    body = {
        "description": "No imprime",
        "category": "impresora",
        "priority": "alta",
        "asset_id": agent["asset_id"],
        "client_id": agent["client_id"],
        "site_id": agent["site_id"],
        "reporter_name": "Ana",
    }
    from tests.server.helpers import bearer

    assert (
        client.post(
            "/api/tickets/create-from-agent", json=body, headers=bearer(agent["agent_token"])
        ).status_code
        == 201
    )
    code, out, _ = cli("tickets", "list")
    assert code == 0 and "TKT-000001" in out and "nuevo" in out
    assert cli("tickets", "assign", "TKT-000001", "--to", "María González")[0] == 0
    assert cli("tickets", "comment", "TKT-000001", "--text", "Voy en camino", "--author", "María")[0] == 0
    assert cli("tickets", "comment", "TKT-000001", "--text", "cambiar tóner", "--internal")[0] == 0
    assert cli("tickets", "status", "TKT-000001", "resuelto")[0] == 0
    code, out, _ = cli("tickets", "show", "TKT-000001")
    assert "resuelto" in out and "María González" in out and "(internal)" in out
    rows = json.loads(cli("tickets", "list", "--status", "resuelto", "--json")[1])
    assert [r["number"] for r in rows] == ["TKT-000001"]
    code, _, err = cli("tickets", "show", "TKT-999999")
    assert code == 2 and "no ticket" in err


def test_users_create_reads_stdin_generates_and_refuses_clearly(
    cli: Callable[..., tuple[int, str, str]], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from lanet.server.models import User
    from lanet.server.services.passwords import verify_password

    cli("tokens", "create", "--client", "Café México", "--site", "CDMX")
    monkeypatch.setattr("sys.stdin", io.StringIO("una-clave-larga-123\nignored second line\n"))
    code, out, _ = cli(
        "users", "create", "--email", "Ana@Cafe.MX", "--role", "client_admin", "--client", "Café México"
    )
    assert code == 0 and "ana@cafe.mx" in out
    code, out, _ = cli("users", "create", "--email", "tec@lanet.mx", "--role", "technician", "--generate")
    generated = out.strip().splitlines()[-1]
    assert code == 0 and len(generated) >= 20
    with db.session() as session:
        users = {u.email: u for u in session.scalars(select(User))}
        assert verify_password("una-clave-larga-123", users["ana@cafe.mx"].password_hash)
        assert verify_password(generated, users["tec@lanet.mx"].password_hash)
        assert users["ana@cafe.mx"].client is not None and users["tec@lanet.mx"].client_id is None
        assert {e.action for e in session.scalars(select(AuditEntry))} >= {"user.create"}
    for argv, message in (
        (("--email", "x@y.mx", "--role", "solicitante"), "give --client"),
        (("--email", "x@y.mx", "--role", "technician", "--client", "Café México"), "do not give --client"),
        (("--email", "x@y.mx", "--role", "solicitante", "--client", "Nadie"), "no client"),
        (("--email", "no-es-correo", "--role", "technician"), "not an e-mail"),
        (("--email", "ana@cafe.mx", "--role", "technician"), "already exists"),
    ):
        monkeypatch.setattr("sys.stdin", io.StringIO("otra-clave-larga-456\n"))
        code, _, err = cli("users", "create", *argv)
        assert code == 2 and message in err, (argv, err)
    monkeypatch.setattr("sys.stdin", io.StringIO("corta\n"))
    code, _, err = cli("users", "create", "--email", "z@y.mx", "--role", "technician")
    assert code == 2 and "at least 10 characters" in err
    code, out, _ = cli("users", "password", "--email", "ana@cafe.mx", "--generate")
    with db.session() as session:
        ana = session.scalars(select(User).where(User.email == "ana@cafe.mx")).one()
        assert code == 0 and verify_password(out.strip().splitlines()[-1], ana.password_hash)
    code, out, _ = cli("users", "list")
    assert "ana@cafe.mx" in out and "tec@lanet.mx" in out
