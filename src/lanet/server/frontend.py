"""The front end ``lanet-server serve`` puts before the application: nginx, configured from code.

Gunicorn's sync workers are fast and simple, but each one serves a single connection from its first
byte to its close. Exposed directly, four clients that trickle a header every few seconds occupy
every worker, and every client on a real network costs a worker its round trip (a late close, a TLS
handshake). nginx is the ecosystem's answer, and gunicorn's own documentation asks for it: it reads
whole requests and buffers whole responses on its event loop, times out slow peers, terminates TLS,
caps connections, and holds thousands of idle keep-alive connections for a few kilobytes each. The
workers only ever see complete requests from nginx, over a Unix socket in a private folder, so the
application cannot be reached any other way: there is no unprotected configuration to deploy.

Trusted proxies (``LANET_TRUSTED_PROXIES``) are resolved here too, with nginx's realip module: the
client address the application sees (rate limits, audit, lockout) and the scheme (the session
cookie's ``Secure`` flag, HSTS) come from ``X-Forwarded-For``/``X-Forwarded-Proto`` only when the
peer is one of those proxies; nginx overwrites both headers before passing a request on.

Errors nginx answers itself (a body over the limit, a header too large, too many connections, the
application down) carry the API's JSON envelope, like every other error.
"""

import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

from lanet.protocol.common import ErrorEnvelope
from lanet.protocol.errors import ErrorCode

#: Where Debian's nginx package puts the binary and its dynamic modules.
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
HEADERS_MORE_MODULE = Path("/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so")

#: A client must send its whole request head within this time, and keep a body flowing (seconds).
HEADER_TIMEOUT = 10
BODY_TIMEOUT = 15
#: An idle keep-alive connection is closed after this long.
KEEPALIVE_TIMEOUT = 65
#: The application's own ceiling for one request (gunicorn's worker timeout is above it).
UPSTREAM_TIMEOUT = 60

#: The errors nginx may answer without the application, with their envelopes. 502 means the
#: application is restarting or gone: 503 with Retry-After, which holds every request of an agent.
#: 504 means this one request took too long: it stays 504, which an agent retries on its own without
#: holding the rest (a request that always times out must not block the others).
_OWN_ERRORS: dict[int, tuple[int, ErrorCode, str]] = {
    400: (400, ErrorCode.MALFORMED_REQUEST, "The request is not valid HTTP"),
    404: (404, ErrorCode.NOT_FOUND, "Not found"),
    413: (413, ErrorCode.PAYLOAD_TOO_LARGE, "The request body is larger than the server accepts"),
    414: (414, ErrorCode.REQUEST_TOO_LARGE, "The request line is longer than the server accepts"),
    429: (429, ErrorCode.RATE_LIMITED, "Too many connections from this address"),
    494: (431, ErrorCode.REQUEST_TOO_LARGE, "The request headers are larger than the server accepts"),
    497: (400, ErrorCode.MALFORMED_REQUEST, "This port speaks HTTPS only"),
    502: (503, ErrorCode.UNAVAILABLE, "The service is restarting; try again shortly"),
    504: (504, ErrorCode.TIMEOUT, "The request took longer than the server allows"),
}


class FrontEndError(Exception):
    """The front end cannot be set up (nginx missing, a bad trusted-proxy entry)."""


def find_nginx() -> str:
    """The nginx binary: ``LANET_NGINX``, then ``PATH``, then Debian's place."""
    named = os.environ.get("LANET_NGINX")
    if named:
        if not os.access(named, os.X_OK):
            raise FrontEndError(f"LANET_NGINX={named} is not an executable")
        return named
    found = shutil.which("nginx") or next((c for c in NGINX_CANDIDATES if os.access(c, os.X_OK)), None)
    if found is None:
        raise FrontEndError(
            "nginx is required in front of the application (Debian: apt-get install nginx); "
            "set LANET_NGINX to its path if it is installed elsewhere"
        )
    return found


@dataclass(frozen=True)
class FrontEnd:
    """Everything the generated nginx configuration depends on."""

    host: str
    port: int
    app_socket: Path
    runtime_dir: Path
    max_body_bytes: int
    trusted_proxies: tuple[str, ...] = ()
    certfile: str | None = None
    keyfile: str | None = None
    access_log: bool = False
    max_connections: int = 4096
    max_connections_per_address: int = 1000
    worker_user: str | None = None

    @property
    def tls(self) -> bool:
        return bool(self.certfile and self.keyfile)

    @property
    def config_file(self) -> Path:
        return self.runtime_dir / "nginx.conf"


def worker_user() -> str | None:
    """When started as root, nginx's workers drop to an unprivileged account (Debian's www-data)."""
    if os.geteuid() != 0:
        return None
    for name in ("www-data", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise FrontEndError("no unprivileged account (www-data or nobody) for nginx's workers")


def prepare_runtime_dir(front: FrontEnd) -> None:
    """Temp folders for nginx and the folder of the application's socket.

    The folder is reachable by the server's own account and, when that is root, by nginx's worker
    account alone (mode 0710, that account's group); started as any other account, nginx runs as it
    and the folder is 0700. Nobody else can reach the application's socket, so nobody can bypass the
    front end and forge its forwarding headers.
    """
    temp = front.runtime_dir / "tmp"
    temp.mkdir(parents=True, exist_ok=True)
    os.chmod(temp, 0o700)
    if front.worker_user is None:
        os.chmod(front.runtime_dir, 0o700)
        return
    os.chmod(front.runtime_dir, 0o710)  # noqa: S103 - traverse only, for nginx's worker group
    account = pwd.getpwnam(front.worker_user)
    os.chown(front.runtime_dir, 0, account.pw_gid)
    os.chown(temp, account.pw_uid, account.pw_gid)


def _listen_address(host: str, port: int) -> str:
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _error_body(status: int, code: ErrorCode, message: str) -> str:
    body = ErrorEnvelope(error=message, code=code.value).model_dump_json()
    if "'" in body or "$" in body or "\\" in body:  # nginx string syntax; the messages are ours
        raise ValueError(f"error text for {status} cannot be written into nginx's configuration")
    return body


def _quoted(path: Path | str) -> str:
    """A path as an nginx string; one that nginx could read as something else is refused."""
    text = str(path)
    if any(ch in text for ch in "\"';$\\{}") or any(ord(ch) < 32 for ch in text):
        raise FrontEndError(f"the path {text!r} cannot be written into nginx's configuration")
    return f'"{text}"'


def render(front: FrontEnd) -> str:
    """The nginx configuration for ``front``."""
    run = front.runtime_dir
    temp = run / "tmp"
    lines = [
        "# Generated by lanet-server serve at each start; edits are lost.",
        "daemon off;",
        "master_process on;",
        "worker_processes auto;",
        f"pid {_quoted(run / 'nginx.pid')};",
        "error_log stderr warn;",
        f"worker_rlimit_nofile {front.max_connections * 2 + 64};",
        # A stop waits for requests in flight, not for peers that never finish theirs.
        f"worker_shutdown_timeout {BODY_TIMEOUT}s;",
    ]
    if front.worker_user is not None:
        lines.append(f"user {front.worker_user};")
    headers_more = HEADERS_MORE_MODULE.exists()
    if headers_more:
        lines.append(f"load_module {_quoted(HEADERS_MORE_MODULE)};")
    lines += [
        f"events {{ worker_connections {front.max_connections}; }}",
        "http {",
        "    server_tokens off;",
        # The front end's product name is nobody's business either (needs Debian's headers-more).
        "    more_clear_headers Server;" if headers_more else "",
        "    access_log /dev/stdout combined;" if front.access_log else "    access_log off;",
        f"    client_body_temp_path {_quoted(temp / 'body')};",
        f"    proxy_temp_path {_quoted(temp / 'proxy')};",
        f"    fastcgi_temp_path {_quoted(temp / 'fastcgi')};",
        f"    uwsgi_temp_path {_quoted(temp / 'uwsgi')};",
        f"    scgi_temp_path {_quoted(temp / 'scgi')};",
        "    default_type application/octet-stream;",
        # Slow peers are nginx's problem, never a worker's: the head within HEADER_TIMEOUT, the body
        # without a gap longer than BODY_TIMEOUT, and a timed-out connection reset, not lingered on.
        f"    client_header_timeout {HEADER_TIMEOUT}s;",
        f"    client_body_timeout {BODY_TIMEOUT}s;",
        f"    send_timeout {BODY_TIMEOUT}s;",
        f"    keepalive_timeout {KEEPALIVE_TIMEOUT}s;",
        "    keepalive_requests 1000;",
        "    reset_timedout_connection on;",
        "    client_header_buffer_size 1k;",
        "    large_client_header_buffers 4 8k;",
        f"    client_max_body_size {front.max_body_bytes};",
        "    client_body_buffer_size 256k;",
        # After refusing a body (413) keep reading what the client still sends for a while, so a
        # client that writes its whole body before reading (Python's http.client) gets the answer
        # instead of a broken pipe.
        "    lingering_close always;",
        "    lingering_time 30s;",
        "    lingering_timeout 5s;",
        "    limit_conn_zone $binary_remote_addr zone=lanet_peer:10m;",
        f"    limit_conn lanet_peer {front.max_connections_per_address};",
        "    limit_conn_status 429;",
        "    limit_conn_log_level warn;",
    ]
    if front.trusted_proxies:
        lines += [f"    set_real_ip_from {cidr};" for cidr in front.trusted_proxies]
        lines += ["    real_ip_header X-Forwarded-For;", "    real_ip_recursive on;"]
    # The scheme the client used: a trusted proxy's X-Forwarded-Proto, else this connection's own.
    lines += [
        "    geo $realip_remote_addr $lanet_via_proxy {",
        "        default 0;",
        *[f"        {cidr} 1;" for cidr in front.trusted_proxies],
        "    }",
        '    map "$lanet_via_proxy:$http_x_forwarded_proto" $lanet_scheme {',
        "        default $scheme;",
        '        "~^1:(?<proto>https?)$" $proto;',
        "    }",
        f"    upstream lanet_app {{ server {_quoted(f'unix:{front.app_socket}')}; }}",
        "    server {",
    ]
    listen = _listen_address(front.host, front.port)
    if front.tls:
        lines += [
            f"        listen {listen} ssl backlog=4096;",
            f"        ssl_certificate {_quoted(front.certfile or '')};",
            f"        ssl_certificate_key {_quoted(front.keyfile or '')};",
            # The seed's first security measure: TLS 1.3, nothing older.
            "        ssl_protocols TLSv1.3;",
            "        ssl_session_cache shared:lanet_tls:10m;",
            "        ssl_session_timeout 1h;",
        ]
    else:
        lines.append(f"        listen {listen} backlog=4096;")
    lines += [
        "        location / {",
        "            proxy_pass http://lanet_app;",
        "            proxy_http_version 1.0;",
        "            proxy_set_header Host $http_host;",
        # Overwritten, never appended: the application trusts exactly one hop, this one.
        "            proxy_set_header X-Forwarded-For $remote_addr;",
        "            proxy_set_header X-Forwarded-Proto $lanet_scheme;",
        "            proxy_set_header X-Forwarded-Host '';",
        "            proxy_set_header X-Forwarded-Port '';",
        "            proxy_set_header X-Forwarded-Prefix '';",
        "            proxy_set_header Forwarded '';",
        "            proxy_buffering on;",
        "            proxy_request_buffering on;",
        "            proxy_buffer_size 16k;",
        "            proxy_buffers 32 16k;",
        "            proxy_connect_timeout 5s;",
        f"            proxy_read_timeout {UPSTREAM_TIMEOUT}s;",
        f"            proxy_send_timeout {UPSTREAM_TIMEOUT}s;",
        # A request that reached the application is never sent to it a second time.
        "            proxy_next_upstream off;",
        "        }",
    ]
    for status, (answer, _code, _message) in _OWN_ERRORS.items():
        lines.append(f"        error_page {status} ={answer} /.lanet-error/{answer}-{status};")
    lines.append("        location ^~ /.lanet-error/ {")
    lines.append("            internal;")
    lines.append("            default_type application/json;")
    for status, (answer, code, message) in _OWN_ERRORS.items():
        lines.append(f"            location = /.lanet-error/{answer}-{status} {{")
        if answer in (429, 503):
            lines.append("                add_header Retry-After 5 always;")
        lines.append(f"                return {answer} '{_error_body(answer, code, message)}';")
        lines.append("            }")
    lines += ["        }", "    }", "}", ""]
    return "\n".join(line for line in lines if line)
