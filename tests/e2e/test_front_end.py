"""The front end ``lanet-server serve`` puts before the application (nginx), tried as an attacker and
as careless clients would: slow and idle connections, oversized requests, forged forwarding headers."""

import http.client
import json
import os
import socket
import sqlite3
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, private_ca, start_server
from tests.server.helpers import HEARTBEAT, REGISTER, bearer, heartbeat_body, register_body

pytestmark = pytest.mark.e2e


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "srv", f"sqlite:///{tmp_path / 'lanet.db'}", workers=3)
    yield server
    server.stop()


def _register(server: LiveServer) -> dict[str, str]:
    token = server.cli("tokens", "create", "--client", "Front", "--site", "Lab").stdout.split()[-1]
    reply = requests.post(server.url + REGISTER, json=register_body(token), timeout=10)
    assert reply.status_code == 201, reply.text
    data: dict[str, str] = reply.json()["data"]
    return data


class SlowClients:
    """``count`` connections that each send a request line, then one header line every ``every``
    seconds and never finish (slowloris), reopened whenever the server closes them; plus ``idle``
    connections that send nothing at all."""

    def __init__(self, port: int, count: int, idle: int, every: float = 5.0) -> None:
        self.port = port
        self.count = count
        self.every = every
        self.stop = threading.Event()
        self.opened = 0
        self.idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(b"POST /api/agents/heartbeat HTTP/1.1\r\nHost: lanet\r\n")
        self.opened += 1
        return sock

    def _run(self) -> None:
        slow = [self._open() for _ in range(self.count)]
        while not self.stop.wait(self.every):
            for index, sock in enumerate(slow):
                try:
                    sock.sendall(f"X-Slow-{int(time.time())}: a\r\n".encode())
                except OSError:
                    sock.close()
                    slow[index] = self._open()
        for sock in slow + self.idle:
            sock.close()

    def __enter__(self) -> "SlowClients":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def test_agents_and_portal_are_answered_while_200_slow_and_100_idle_connections_hold(
    sqlite_server: LiveServer,
) -> None:
    agent = _register(sqlite_server)
    with SlowClients(sqlite_server.port, count=200, idle=100) as attack:
        time.sleep(1.0)  # every slow connection is open before the clients below start
        failures: list[str] = []
        answered = 0
        started = time.monotonic()
        # Past the front end's header timeout (10 s): the attackers are cut off and come back.
        while time.monotonic() - started < 13:
            try:
                beat = requests.post(
                    sqlite_server.url + HEARTBEAT,
                    json=heartbeat_body(agent["asset_id"]),
                    headers=bearer(agent["agent_token"]),
                    timeout=5,
                )
                health = requests.get(sqlite_server.url + "/api/health", timeout=5)
                portal = requests.get(sqlite_server.url + "/portal/login", timeout=5)
                answered += 1
                for reply in (beat, health, portal):
                    if reply.status_code != 200:
                        failures.append(f"{reply.url} {reply.status_code}")
            except requests.RequestException as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.1)
        assert attack.opened >= 200
    assert failures == []
    assert answered >= 20


def test_a_body_over_the_limit_gets_the_413_envelope_even_from_a_client_that_writes_it_all_first(
    sqlite_server: LiveServer,
) -> None:
    # Python's http.client writes the whole body before it reads: the answer must still reach it.
    conn = http.client.HTTPConnection("127.0.0.1", sqlite_server.port, timeout=30)
    body = b'{"asset_id": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    conn.request("POST", HEARTBEAT, body=body, headers={"Content-Type": "application/json"})
    reply = conn.getresponse()
    assert reply.status == 413
    envelope = json.loads(reply.read())
    assert envelope == {
        "success": False,
        "error": "The request body is larger than the server accepts",
        "code": "PAYLOAD_TOO_LARGE",
        "details": [],
    }


@pytest.mark.parametrize(
    ("target", "headers", "status", "code"),
    [
        ("/api/health?" + "a" * 9000, {}, 414, "REQUEST_TOO_LARGE"),
        ("/api/health", {"X-Big": "a" * 9000}, 431, "REQUEST_TOO_LARGE"),
    ],
)
def test_oversized_request_heads_get_the_api_envelope(
    sqlite_server: LiveServer, target: str, headers: dict[str, str], status: int, code: str
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sqlite_server.port, timeout=10)
    conn.request("GET", target, headers=headers)
    reply = conn.getresponse()
    assert reply.status == status
    assert json.loads(reply.read())["code"] == code
    assert reply.getheader("Content-Type") == "application/json"


def test_garbage_gets_a_400_envelope_and_no_server_names_itself(sqlite_server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", sqlite_server.port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        raw = sock.recv(65536)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["code"] == "MALFORMED_REQUEST"
    for reply in (
        requests.get(sqlite_server.url + "/api/health", timeout=10),
        requests.get(sqlite_server.url + "/portal/login", timeout=10),
        requests.get(sqlite_server.url + "/api/nowhere", timeout=10),
    ):
        assert "Server" not in reply.headers, reply.headers


def test_the_application_socket_is_reachable_only_through_the_front_end(sqlite_server: LiveServer) -> None:
    sockets = [
        Path(line.split("unix:")[1].split()[0])
        for line in sqlite_server.log.read_text().splitlines()
        if "Listening at: unix:" in line
    ]
    assert sockets, sqlite_server.log.read_text()[-2000:]
    folder = sockets[0].parent
    mode = stat.S_IMODE(folder.stat().st_mode)
    # Owner and (when started as root) nginx's worker group may enter; nobody else.
    assert mode & 0o007 == 0, oct(mode)
    # No worker holds a TCP listening socket of its own: the front end's port is the only way in.
    log = sqlite_server.log.read_text().splitlines()
    workers = [int(line.split("pid: ")[1].rstrip(")")) for line in log if "Booting worker" in line]
    assert workers
    listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    listening_inodes = {f"socket:[{fields[9]}]" for fields in listening if fields[3] == "0A"}
    for pid in workers:
        held = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        assert not held & listening_inodes, pid


def test_forwarded_headers_count_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    def registration_address(server: LiveServer, database: Path) -> str:
        token = server.cli("tokens", "create", "--client", "Proxy", "--site", "Lab").stdout.split()[-1]
        reply = requests.post(
            server.url + REGISTER,
            json=register_body(token),
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
            timeout=10,
        )
        assert reply.status_code == 201
        with sqlite3.connect(database) as conn:
            row = conn.execute("SELECT ip_address FROM agent_token_usage_history").fetchone()
        return str(row[0])

    plain = start_server(tmp_path / "plain", f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        assert registration_address(plain, tmp_path / "plain.db") == "127.0.0.1"
    finally:
        plain.stop()
    trusting = start_server(
        tmp_path / "trusting",
        f"sqlite:///{tmp_path / 'trusting.db'}",
        extra_env={"LANET_TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.0/8"},
    )
    try:
        assert registration_address(trusting, tmp_path / "trusting.db") == "203.0.113.7"
    finally:
        trusting.stop()


def test_https_is_tls_1_3_and_sends_hsts(tmp_path: Path) -> None:
    ca_path, cert_path, key_path = private_ca(tmp_path / "tls")
    server = start_server(
        tmp_path / "srv",
        f"sqlite:///{tmp_path / 'lanet.db'}",
        certfile=str(cert_path),
        keyfile=str(key_path),
        verify=str(ca_path),
    )
    try:
        reply = requests.get(server.url + "/portal/login", timeout=10, verify=str(ca_path))
        assert reply.status_code == 200
        assert reply.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Server" not in reply.headers
        context = ssl.create_default_context(cafile=str(ca_path))
        with (
            socket.create_connection(("127.0.0.1", server.port)) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() == "TLSv1.3"
    finally:
        server.stop()
