"""The transport against a real HTTP(S) server on loopback: envelopes, backoff, Retry-After, JWT
refresh, bad replies, TLS."""

import ssl
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
import trustme

from lanet.agent.transport import (
    AuthLost,
    Credentials,
    Deferred,
    Transport,
    TransportError,
    retry_after_seconds,
)
from tests.agent.stub_server import Canned, StubServer

ASSET = "456e7890-e89b-12d3-a456-426614174000"


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


class Vault:
    def __init__(self, expires_in: float = 86400) -> None:
        self.creds = Credentials(ASSET, "jwt-old", "lrt_refresh", time.time() + expires_in)
        self.saved: list[Credentials] = []

    def load(self) -> Credentials:
        return self.creds

    def save(self, creds: Credentials) -> None:
        self.creds = creds
        self.saved.append(creds)


def _transport(url: str, vault: Vault | None = None, **kwargs: object) -> Transport:
    vault = vault or Vault()
    kwargs.setdefault("allow_plain_http", url.startswith("http://"))  # the stub is plain http on loopback
    return Transport(url, load_credentials=vault.load, save_credentials=vault.save, **kwargs)  # type: ignore[arg-type]


def test_success_returns_data_and_sends_the_jwt(stub: StubServer) -> None:
    stub.on("/agents/heartbeat", Canned.ok({"received_at": "x"}))
    assert _transport(stub.url).post("/agents/heartbeat", {"asset_id": ASSET}) == {"received_at": "x"}
    seen = stub.seen("/agents/heartbeat")[0]
    assert seen.headers["Authorization"] == "Bearer jwt-old" and seen.body == {"asset_id": ASSET}
    assert seen.headers["User-Agent"].startswith("lanet-agent/")


@pytest.mark.parametrize("header", ["7", "date"])
def test_429_with_retry_after_defers_without_sending(stub: StubServer, header: str) -> None:
    value = "7" if header == "7" else formatdate(time.time() + 7, usegmt=True)
    stub.on("/agents/heartbeat", Canned.error(429, "RATE_LIMITED", {"Retry-After": value}), Canned.ok({}))
    transport = _transport(stub.url)
    with pytest.raises(TransportError) as info:
        transport.post("/agents/heartbeat", {})
    assert info.value.status == 429 and info.value.retryable
    # The limit holds that endpoint (Sentry's per-category "disabled until"), not every request.
    assert 5 <= transport.ready_at("/agents/heartbeat") - time.time() <= 8
    assert transport.ready_at() == 0.0 and transport.ready_at("/tickets/create-from-agent") == 0.0
    with pytest.raises(Deferred):
        transport.post("/agents/heartbeat", {})
    assert len(stub.seen("/agents/heartbeat")) == 1  # the deferred call never reached the server


def test_failures_back_off_exponentially_with_jitter_and_success_resets(stub: StubServer) -> None:
    # A failure of the way to the server (a proxy's error page, not our envelope) holds every request.
    stub.on("/agents/heartbeat", Canned(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"}))
    transport = _transport(stub.url, backoff_base=10, offline_after=3)
    ceilings = []
    for attempt in range(4):
        transport._blocked_until = 0.0  # let the next try through at once for the test
        with pytest.raises(TransportError):
            transport.post("/agents/heartbeat", {})
        ceilings.append(transport.ready_at() - time.time())
        assert 0 <= ceilings[-1] <= 10 * 2**attempt + 1
    assert transport.offline
    stub.on("/agents/heartbeat", Canned.ok({}))
    transport._blocked_until = 0.0
    transport.post("/agents/heartbeat", {})
    assert transport.ready_at() == 0.0 and not transport.offline


def test_a_401_refreshes_the_jwt_and_retries_once(stub: StubServer) -> None:
    stub.on("/agents/heartbeat", Canned.error(401, "AUTH_EXPIRED"), Canned.ok({"ok": True}))
    stub.on(
        "/agents/token/refresh",
        Canned.ok({"agent_token": "jwt-new", "token_expires_at": "2099-01-01T00:00:00Z"}),
    )
    vault = Vault()
    assert _transport(stub.url, vault).post("/agents/heartbeat", {}) == {"ok": True}
    auth = [r.headers["Authorization"] for r in stub.seen("/agents/heartbeat")]
    assert auth == ["Bearer jwt-old", "Bearer jwt-new"]
    assert stub.seen("/agents/token/refresh")[0].body == {"asset_id": ASSET, "refresh_token": "lrt_refresh"}
    assert vault.creds.agent_token == "jwt-new"


def test_the_jwt_is_renewed_before_the_threshold(stub: StubServer) -> None:
    stub.on(
        "/agents/token/refresh",
        Canned.ok({"agent_token": "jwt-new", "token_expires_at": "2099-01-01T00:00:00Z"}),
    )
    stub.on("/agents/heartbeat", Canned.ok({}))
    vault = Vault(expires_in=1800)
    _transport(stub.url, vault, refresh_threshold=3600).post("/agents/heartbeat", {})
    assert stub.seen("/agents/heartbeat")[0].headers["Authorization"] == "Bearer jwt-new"


def test_a_refused_refresh_credential_is_auth_lost(stub: StubServer) -> None:
    stub.on("/agents/heartbeat", Canned.error(401, "AUTH_EXPIRED"))
    stub.on("/agents/token/refresh", Canned.error(401, "REFRESH_INVALID"))
    with pytest.raises(AuthLost):
        _transport(stub.url).post("/agents/heartbeat", {})


@pytest.mark.parametrize(
    "reply",
    [
        Canned(200, b'{"success": true, "data": {"recei'),
        Canned(502, b"<html><body>Bad Gateway</body></html>", {"Content-Type": "text/html"}),
        Canned(200, b'{"success": true, "data": [1, 2]}'),
        Canned(200, b'"just a string"'),
        Canned(200, b""),
    ],
)
def test_bad_replies_raise_a_retryable_error(stub: StubServer, reply: Canned) -> None:
    stub.on("/agents/heartbeat", reply)
    with pytest.raises(TransportError) as info:
        _transport(stub.url).post("/agents/heartbeat", {})
    assert info.value.retryable


def test_a_4xx_envelope_is_not_retryable(stub: StubServer) -> None:
    stub.on("/agents/heartbeat", Canned.error(422, "VALIDATION_ERROR"))
    with pytest.raises(TransportError) as info:
        _transport(stub.url).post("/agents/heartbeat", {})
    assert not info.value.retryable and info.value.code == "VALIDATION_ERROR"


def test_unreachable_server_is_retryable(tmp_path: Path) -> None:
    from tests.conftest import free_port

    with pytest.raises(TransportError) as info:
        _transport(f"http://127.0.0.1:{free_port()}/api", timeout=2).post("/agents/heartbeat", {})
    assert info.value.retryable and "unreachable" in str(info.value)


def test_retry_after_forms() -> None:
    now = time.time()
    assert retry_after_seconds("30", now) == 30
    date = retry_after_seconds(formatdate(now + 60, usegmt=True), now)
    assert date is not None and 58 <= date <= 61
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


def _tls_stub(ca: trustme.CA, maximum: ssl.TLSVersion | None = None) -> StubServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if maximum is not None:
        context.maximum_version = maximum
    return StubServer(tls=context)


def test_tls_verification_is_on_and_a_private_ca_can_be_trusted(tls_pair: tuple[trustme.CA, Path]) -> None:
    ca, ca_path = tls_pair
    stub = _tls_stub(ca)
    try:
        stub.on("/agents/heartbeat", Canned.ok({}))
        with pytest.raises(TransportError) as info:
            _transport(stub.url).post("/agents/heartbeat", {})
        assert "certificate" in str(info.value)
        assert _transport(stub.url, ca_bundle=str(ca_path)).post("/agents/heartbeat", {}) == {}
        assert _transport(stub.url, verify=False).post("/agents/heartbeat", {}) == {}
    finally:
        stub.close()


def test_tls_1_3_is_the_default_minimum_and_an_older_server_is_refused(
    tls_pair: tuple[trustme.CA, Path],
) -> None:
    ca, ca_path = tls_pair
    stub = _tls_stub(ca, maximum=ssl.TLSVersion.TLSv1_2)
    try:
        stub.on("/agents/heartbeat", Canned.ok({}))
        with pytest.raises(TransportError) as info:
            _transport(stub.url, ca_bundle=str(ca_path)).post("/agents/heartbeat", {})
        assert "PROTOCOL_VERSION" in str(info.value) or "version" in str(info.value).lower()
        # Only an explicit register --min-tls 1.2 lets TLS 1.2 through.
        assert (
            _transport(stub.url, ca_bundle=str(ca_path), min_tls13=False).post("/agents/heartbeat", {}) == {}
        )
    finally:
        stub.close()


def test_plain_http_needs_the_development_switch() -> None:
    from lanet.agent.transport import InsecureBackendError

    with pytest.raises(InsecureBackendError) as info:
        Transport("http://helpdesk.example.com/api")
    assert "--allow-insecure-http" in str(info.value)
    assert Transport("http://127.0.0.1:1/api", allow_plain_http=True).base_url == "http://127.0.0.1:1/api"
