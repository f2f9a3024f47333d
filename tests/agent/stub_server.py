"""A scripted HTTP server on loopback for transport and agent tests: each path answers from a queue of
canned replies (the last one repeats) and every request is recorded."""

import json
import ssl
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Canned:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def ok(cls, data: dict[str, Any], status: int = 200) -> "Canned":
        return cls(status, json.dumps({"success": True, "data": data}).encode())

    @classmethod
    def error(cls, status: int, code: str, headers: dict[str, str] | None = None) -> "Canned":
        body = {"success": False, "error": code.lower(), "code": code, "details": []}
        return cls(status, json.dumps(body).encode(), headers or {})


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class StubServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.replies: dict[str, list[Canned]] = defaultdict(list)
        self.requests: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                stub.requests.append(Seen(self.path, dict(self.headers), body, time.time()))
                queue = stub.replies[self.path]
                reply = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else Canned(404, b"{}")
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/api"

    def on(self, path: str, *replies: Canned) -> None:
        self.replies["/api" + path] = list(replies)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == "/api" + path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
