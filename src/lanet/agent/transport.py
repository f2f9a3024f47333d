"""The agent's only HTTP client.

It owns everything about talking to the backend: TLS (verification on, optional CA bundle, TLS 1.3
minimum when asked), the agent JWT (attached, refreshed before ``jwt_refresh_threshold`` seconds remain,
refreshed and retried once on a 401), and when the next request may go: capped exponential backoff
with full jitter after failures, ``Retry-After`` after a 429 or 503. Callers never sleep: a request made
too early fails at once with :class:`Deferred`, and :meth:`Transport.ready_at` says when to come back.

Built on ``http.client``: the agent's memory budget has no room for a larger HTTP stack.
"""

import http.client
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import lanet
from lanet.protocol import contract
from lanet.protocol.contract import ContractError

log = logging.getLogger("lanet.agent.heartbeat")

BACKOFF_CAP = 300.0
REFRESH_PATH = "/agents/token/refresh"
MAX_REPLY_BYTES = 16 * 1024 * 1024


class TransportError(Exception):
    """A request that did not succeed. ``retryable`` says whether sending it again later can help;
    ``item_scoped`` that the failure concerns this request only (the server answered 5xx to it), so
    other requests may go on while it backs off on its own."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = True,
        item_scoped: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable
        self.item_scoped = item_scoped


class Deferred(TransportError):
    """Not sent: the transport is backing off or rate-limited until ``until`` (a ``time.time()``).
    ``scope`` names the endpoint category that is rate-limited; None means every request waits."""

    def __init__(self, until: float, scope: str | None = None, status: int | None = None) -> None:
        what = f"{scope} is rate-limited" if scope else "backing off"
        super().__init__(f"{what} for {max(0.0, until - time.time()):.1f} s", retryable=True, status=status)
        self.until = until
        self.scope = scope


def category_of(path: str) -> str:
    """The rate-limit category of a request path, as the server counts them: the tray's ticket reads
    and comments share one (``/tickets``), every other endpoint is its own."""
    path = path.split("?", 1)[0]
    if path.startswith("/tickets/") and path != "/tickets/create-from-agent":
        return "/tickets"
    return path


class InsecureBackendError(ValueError):
    """The backend URL is plain http and the development switch is off."""


class AuthLost(TransportError):
    """The refresh credential was refused: the agent must be registered again."""


@dataclass
class Credentials:
    asset_id: str
    agent_token: str
    refresh_token: str
    expires_at: float


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` in either form: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def tls_context(verify: bool, ca_bundle: str | None, min_tls13: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_bundle) if verify else ssl._create_unverified_context()  # noqa: S323
    context.minimum_version = ssl.TLSVersion.TLSv1_3 if min_tls13 else ssl.TLSVersion.TLSv1_2
    return context


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30,
        backoff_base: float = 5.0,
        offline_after: int = 3,
        verify: bool = True,
        ca_bundle: str | None = None,
        min_tls13: bool = True,
        allow_plain_http: bool = False,
        refresh_threshold: float = 3600,
        load_credentials: Callable[[], Credentials | None] = lambda: None,
        save_credentials: Callable[[Credentials], None] = lambda _c: None,
        identity: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"backend URL must be http(s)://host[:port]/path, not {base_url!r}")
        if parts.scheme == "http" and not allow_plain_http:
            raise InsecureBackendError(
                f"{base_url} is plain http: tokens and data would cross the network unencrypted. Use "
                "https (TLS 1.3), or register with --allow-insecure-http for development only"
            )
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path
        self.timeout = timeout
        #: ``backend.retry_delay``: the first backoff step; each failure doubles it, up to BACKOFF_CAP.
        self.backoff_base = backoff_base
        #: ``backend.retry_attempts``: consecutive failures after which the backend counts as offline.
        self.offline_after = offline_after
        self.refresh_threshold = refresh_threshold
        self._context = tls_context(verify, ca_bundle, min_tls13) if parts.scheme == "https" else None
        self._load = load_credentials
        self._save = save_credentials
        self._identity = identity
        self._refresh_lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._failures = 0
        self._blocked_until = 0.0
        #: Sentry's "disabled until" per category: a 429 holds that endpoint only.
        self._limited: dict[str, float] = {}
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.user_agent = f"lanet-agent/{lanet.__version__}"

    def reconfigure(
        self, *, timeout: float, backoff_base: float, offline_after: int, refresh_threshold: float
    ) -> None:
        """Apply configuration the backend pushed (``backend.*``, ``security.jwt_refresh_threshold``)."""
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.offline_after = offline_after
        self.refresh_threshold = refresh_threshold

    # --- scheduling state -------------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        """True after ``offline_after`` consecutive failures (the tray shows the machine offline)."""
        return self._failures >= max(1, self.offline_after)

    def ready_at(self, path: str | None = None) -> float:
        """When the next request (to ``path``, if given) may be sent (``time.time()`` scale)."""
        if path is None:
            return self._blocked_until
        return max(self._blocked_until, self._limited.get(category_of(path), 0.0))

    def _note_failure(self, retry_after: float | None = None) -> float:
        self._failures += 1
        now = self._clock()
        delay = retry_after if retry_after is not None else self.item_backoff(self._failures)
        self._blocked_until = max(self._blocked_until, now + delay)
        return self._blocked_until

    def item_backoff(self, attempts: int) -> float:
        """Seconds to wait before attempt ``attempts + 1``: full jitter, a random wait in
        [0, min(cap, base * 2^(attempts-1))], which spreads a fleet's retries out (urllib3's Retry)."""
        ceiling = min(BACKOFF_CAP, max(0.1, self.backoff_base) * 2 ** min(max(attempts, 1) - 1, 20))
        return random.uniform(0, ceiling)  # noqa: S311

    def _note_success(self) -> None:
        self._failures = 0
        self._blocked_until = 0.0
        self.last_success = self._clock()
        self.last_error = None

    # --- requests ---------------------------------------------------------------------------------
    def post(self, path: str, body: dict[str, Any], *, auth: bool = True) -> dict[str, Any]:
        """POST ``body`` and return the envelope's ``data``; raise :class:`TransportError` otherwise."""
        return self.request("POST", path, body, auth=auth)

    def post_within(
        self, path: str, body: dict[str, Any], *, budget: float, auth: bool = False
    ) -> dict[str, Any]:
        """POST, waiting out rate limits (``Retry-After``), 503s and an unreachable backend with this
        transport's own backoff, for at most ``budget`` seconds. For one-shot commands run by an
        installer (``register``), which have no loop to come back from; the service loop never uses
        it. A wait that would end past the budget is not started: the last error is raised."""
        deadline = self._clock() + budget
        while True:
            try:
                return self.request("POST", path, body, auth=auth)
            except Deferred as exc:
                until = exc.until
            except AuthLost:
                raise
            except TransportError as exc:
                if not exc.retryable or exc.item_scoped:
                    raise
                until = self.ready_at()
                if until > deadline:
                    raise
            if until > deadline:
                raise Deferred(until)
            log.info("%s: waiting %.0f s before trying again", path, max(0.0, until - self._clock()))
            self._sleep(max(0.0, until - self._clock()))

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET with the agent JWT (the tray's views of the asset's tickets)."""
        clean = {key: value for key, value in (params or {}).items() if value}
        return self.request("GET", f"{path}?{urlencode(clean)}" if clean else path, None)

    def request(
        self, method: str, path: str, body: dict[str, Any] | None, *, auth: bool = True
    ) -> dict[str, Any]:
        now = self._clock()
        if now < self._blocked_until:
            raise Deferred(self._blocked_until)
        category = category_of(path)
        if now < self._limited.get(category, 0.0):
            raise Deferred(self._limited[category], category)
        headers = {"Content-Type": "application/json", "User-Agent": self.user_agent}
        creds = None
        if auth:
            creds = self._fresh_credentials()
            headers["Authorization"] = f"Bearer {creds.agent_token}"
        status, reply_headers, raw = self._send(method, path, body, headers)
        if status == 401 and creds is not None:
            # Refused with the JWT just sent: refresh from that one (another thread may have
            # refreshed meanwhile; then its result is used, not a second rotation).
            creds = self._refresh(creds)
            headers["Authorization"] = f"Bearer {creds.agent_token}"
            status, reply_headers, raw = self._send(method, path, body, headers)
        return self._interpret(path, status, reply_headers, raw)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        if self._scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._context
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request(method, self._prefix + path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read(MAX_REPLY_BYTES + 1)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, raw
        except ssl.SSLCertVerificationError as exc:
            self.last_error = f"certificate not trusted: {exc.verify_message}"
            self._note_failure()
            raise TransportError(f"{self.base_url}: {self.last_error}") from None
        except (OSError, http.client.HTTPException) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._note_failure()
            raise TransportError(f"{self.base_url} unreachable: {self.last_error}") from None
        finally:
            conn.close()

    def _interpret(self, path: str, status: int, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        envelope = self._parse(raw)
        if 200 <= status < 300:
            data = envelope.get("data") if envelope and envelope.get("success") is True else None
            if not isinstance(data, dict):
                self.last_error = f"{path}: {status} with a body that is not the API envelope"
                self._note_failure()
                raise TransportError(self.last_error)
            self._note_success()
            return data
        code = str(envelope.get("code")) if envelope else None
        message = str(envelope.get("error")) if envelope and envelope.get("error") else f"HTTP {status}"
        self.last_error = f"{path}: {status} {code or ''} {message}".strip()
        now = self._clock()
        if status == 429:
            # The server limits this endpoint for this asset: it waits, the others go on.
            category = category_of(path)
            delay = retry_after_seconds(headers.get("retry-after"), now)
            until = now + (delay if delay is not None else self.item_backoff(1))
            self._limited[category] = until
            log.warning("%s answered 429; %s waits %.0f s", path, category, until - now)
            raise Deferred(until, category, status=429)
        if status == 503:
            until = self._note_failure(retry_after_seconds(headers.get("retry-after"), now))
            log.warning("%s answered 503; next request not before %.0f s", path, until - now)
            raise TransportError(self.last_error, status=status, code=code)
        if status == 401:
            # Even with fresh credentials: the asset was retired or its credentials revoked.
            raise AuthLost(self.last_error, status=status, code=code, retryable=False)
        if envelope is None:  # not our server's answer (a proxy's page): the way there is broken
            self._note_failure()
            raise TransportError(self.last_error, status=status, code=code)
        if status >= 500:
            # Our server could not handle this request: it backs off alone, the others go on.
            raise TransportError(self.last_error, status=status, code=code, item_scoped=True)
        # 4xx with our envelope: the request itself is wrong; sending it again will not help.
        raise TransportError(self.last_error, status=status, code=code, retryable=False)

    @staticmethod
    def _parse(raw: bytes) -> dict[str, Any] | None:
        if len(raw) > MAX_REPLY_BYTES:
            return None
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    # --- credentials ------------------------------------------------------------------------------
    def _require_credentials(self) -> Credentials:
        creds = self._load()
        if creds is None:
            raise AuthLost("this agent is not registered", retryable=False)
        return creds

    def _fresh_credentials(self) -> Credentials:
        creds = self._require_credentials()
        if creds.expires_at - self._clock() < self.refresh_threshold:
            creds = self._refresh(creds)
        return creds

    def _refresh(self, stale: Credentials) -> Credentials:
        """A new JWT, and the next refresh credential: each one works once, so the new one is saved
        before anything else is sent (the server takes the old one back only for a short grace).

        One refresh at a time (the service loop and the tray's requests share this transport): a
        thread that waited finds the credentials another one just saved and uses them.
        """
        with self._refresh_lock:
            creds = self._require_credentials()
            if creds.agent_token != stale.agent_token:
                return creds
            return self._refresh_now(creds)

    def _refresh_now(self, creds: Credentials) -> Credentials:
        now = self._clock()
        if now < self._blocked_until:
            raise Deferred(self._blocked_until)
        held = self._limited.get(REFRESH_PATH, 0.0)
        if now < held:
            raise Deferred(held, REFRESH_PATH)
        return self._refresh_request(creds)

    def _refresh_request(self, creds: Credentials) -> Credentials:
        body = {"asset_id": creds.asset_id, "refresh_token": creds.refresh_token}
        identity = self._identity()
        if identity:
            body["identity_secret"] = identity
        status, headers, raw = self._send(
            "POST",
            REFRESH_PATH,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": self.user_agent,
            },
        )
        if status == 401:
            log.error("the backend refused the refresh credential: re-register this agent with a new token")
            raise AuthLost("refresh credential refused", status=401, code="REFRESH_INVALID", retryable=False)
        data = self._interpret(REFRESH_PATH, status, headers, raw)
        try:
            reply = contract.validate("RefreshResponse", data)
        except ContractError as exc:
            raise TransportError(f"token refresh answered with an unexpected shape: {exc}") from None
        expires = reply["token_expires_at"]
        until = datetime.fromisoformat(expires).timestamp()
        fresh = Credentials(
            creds.asset_id, reply["agent_token"], reply.get("refresh_token") or creds.refresh_token, until
        )
        self._save(fresh)
        log.info("agent token refreshed; valid until %s", expires)
        return fresh
